"""pytest plugin of the compat suites: ends the run with "<suite>: N passed, M failed".

A test counts once: failed if any of its phases (setup, call, teardown) failed, else skipped
if it was skipped, else passed. The suite's name comes from COMPAT_SUITE.
"""

import os

_outcomes = {}


def pytest_runtest_logreport(report):
    previous = _outcomes.get(report.nodeid)
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif previous == "failed":
        return
    elif report.skipped:
        _outcomes[report.nodeid] = "skipped"
    elif report.when == "call":
        _outcomes[report.nodeid] = "passed"


def pytest_terminal_summary(terminalreporter):
    counts = {kind: list(_outcomes.values()).count(kind) for kind in ("passed", "failed", "skipped")}
    # Errors outside any test (a collection error, say) fail the suite too.
    counts["failed"] += len([r for r in terminalreporter.stats.get("error", []) if not getattr(r, "when", None)])
    line = f"{os.environ.get('COMPAT_SUITE', 'pytest')}: {counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        line += f", {counts['skipped']} skipped"
    terminalreporter.write_line(line)
