#!/usr/bin/env python3
"""Reduce a botocore service model to what request validation needs.

Usage:
    python3 model/strip.py [path/to/service-2.json[.gz]]

Without an argument the Secrets Manager model is read from
../shared/spec/service-2.json relative to the repository root. The result is
written next to this script, named after the model's endpoint prefix:
model/secretsmanager.json, model/kms.json (from botocore's
data/kms/2014-11-01/service-2.json.gz), ...

Output layout:
    {"operations": {"<Operation>": "<InputShape>", ...},
     "shapes": {"<Shape>": {...}, ...}}

Only shapes reachable from an operation's input are kept. Per shape:
    type                 string, boolean, integer, long, timestamp, blob, list,
                         structure, map, ...
    min, max, pattern    when the model has them
    enum                 list of values, model order
    sensitive            true when the model marks the shape sensitive
    required             structure: required member names
    members              structure: [[memberName, shapeName], ...] in model order
                         (an array, so the order survives any JSON parser)
    member               list: element shape name
    key, value           map: key and value shape names
Documentation and output-only shapes are dropped.
"""

import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
DEFAULT_SOURCE = os.path.join(REPO_ROOT, "..", "shared", "spec", "service-2.json")

SCALAR_KEYS = ("min", "max", "pattern")


def compact_shape(shape):
    out = {"type": shape["type"]}
    for key in SCALAR_KEYS:
        if key in shape:
            out[key] = shape[key]
    if "enum" in shape:
        out["enum"] = list(shape["enum"])
    if shape.get("sensitive"):
        out["sensitive"] = True
    if shape["type"] == "structure":
        if shape.get("required"):
            out["required"] = list(shape["required"])
        out["members"] = [[name, m["shape"]] for name, m in shape.get("members", {}).items()]
    elif shape["type"] == "list":
        out["member"] = shape["member"]["shape"]
    elif shape["type"] == "map":
        out["key"] = shape["key"]["shape"]
        out["value"] = shape["value"]["shape"]
    return out


def referenced(shape):
    if shape["type"] == "structure":
        return [m["shape"] for m in shape.get("members", {}).values()]
    if shape["type"] == "list":
        return [shape["member"]["shape"]]
    if shape["type"] == "map":
        return [shape["key"]["shape"], shape["value"]["shape"]]
    return []


def strip(model):
    shapes = model["shapes"]
    operations = {}
    keep = {}
    pending = []
    for name in sorted(model["operations"]):
        op = model["operations"][name]
        if "input" not in op:
            continue
        operations[name] = op["input"]["shape"]
        pending.append(op["input"]["shape"])
    while pending:
        name = pending.pop()
        if name in keep:
            continue
        keep[name] = compact_shape(shapes[name])
        pending.extend(referenced(shapes[name]))
    return operations, keep


def render(operations, shapes):
    def dump(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{", ' "operations": {']
    ops = sorted(operations.items())
    for i, (name, shape) in enumerate(ops):
        comma = "," if i + 1 < len(ops) else ""
        lines.append(f"  {dump(name)}: {dump(shape)}{comma}")
    lines.append(" },")
    lines.append(' "shapes": {')
    names = sorted(shapes)
    for i, name in enumerate(names):
        comma = "," if i + 1 < len(names) else ""
        lines.append(f"  {dump(name)}: {dump(shapes[name])}{comma}")
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv):
    source = argv[1] if len(argv) > 1 else DEFAULT_SOURCE
    opener = gzip.open if source.endswith(".gz") else open
    with opener(source, "rt", encoding="utf-8") as f:
        model = json.load(f)
    target = os.path.join(HERE, model["metadata"]["endpointPrefix"] + ".json")
    operations, shapes = strip(model)
    text = render(operations, shapes)
    json.loads(text)  # the output must stay valid JSON
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {target}: {len(operations)} operations, {len(shapes)} shapes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
