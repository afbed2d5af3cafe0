//! Model-driven validation of request bodies, for every JSON service smemu answers.
//!
//! Each service's compact model (`model/secretsmanager.json`, `model/kms.json`,
//! built by `model/strip.py` from the botocore `service-2.json`) is embedded at
//! compile time and parsed once, by [`Model::embedded`] (Secrets Manager) or
//! [`Model::kms`]. [`Model::validate`] then checks a decoded JSON
//! body against the input shape of an operation in two phases, as AWS's Coral
//! framework does:
//!
//! 1. Deserialization: every modeled member, at any depth, must have the JSON
//!    type its shape asks for. The first mismatch (walking members in model
//!    order) ends validation with [`Invalid::Serialization`]; no constraint
//!    errors are reported alongside it.
//! 2. Constraints: required members, length and value bounds, patterns and
//!    enums. All violations are collected and reported together as one
//!    [`Invalid::Validation`] message in the `N validation error(s) detected: `
//!    format.
//!
//! Unknown members are ignored, and a JSON `null` counts as absent, both for
//! structure members and for list elements (null elements are skipped and do
//! not count towards a list's length).
//!
//! # Serialization messages (chosen family)
//!
//! AWS's exact wording is unconfirmed. smemu uses the Coral
//! family of messages, named after the JSON token that was found:
//!
//! | expected            | found            | message |
//! |---------------------|------------------|---------|
//! | string              | number/true/false| `NUMBER_VALUE can not be converted to a String` (`TRUE_VALUE`, `FALSE_VALUE`) |
//! | boolean             | string/number    | `STRING_VALUE can not be converted to a Boolean` |
//! | integer             | other scalar, fraction, out of `i32` | `STRING_VALUE can not be converted to an Integer`, `NUMBER_VALUE can not be converted to an Integer` |
//! | long                | other scalar, fraction, out of `i64` | `... can not be converted to a Long` |
//! | timestamp           | non-number scalar| `... can not be converted to a Date` |
//! | blob                | non-string scalar| `... can not be converted to a Blob` |
//! | blob                | bad base64       | `Invalid Base64 encoded value` |
//! | list                | scalar           | `Expected list or null` |
//! | map                 | scalar           | `Expected map or null` |
//! | structure           | scalar           | `Expected null` |
//! | any but list        | array            | `Start of list found where not expected` |
//! | any but structure/map | object         | `Start of structure or map found where not expected.` |
//! | request body        | not an object    | array: as above; anything else: `Request body must be a JSON object` |
//!
//! # Constraint messages
//!
//! Each item reads `Value '<value>' at '<path>' failed to satisfy constraint:
//! Member must <rule>`; a missing required member reads `Value null at ...`.
//! Decisions on unconfirmed points:
//!
//! * Order: members are walked in model order, depth first; a list's own size
//!   check comes before its elements. One member can yield several items, in
//!   the order pattern, enum, minimum, maximum (`DynamoDB`, also Coral, reports
//!   a pattern violation before a length violation of the same member).
//! * Paths: the model member name with its first character lower-cased
//!   (`SecretId` -> `secretId`, `CrossAccountReplicaARN` ->
//!   `crossAccountReplicaARN`), joined by `.`; list elements as
//!   `<list>.<n>.member` with `n` counted from 1 among the non-null elements.
//! * Lengths: strings count Unicode scalar values, blobs their decoded bytes,
//!   lists their non-null elements, maps their entries.
//! * Values are rendered the way Java's `toString` would: strings verbatim,
//!   numbers in decimal, lists as `[a, b]`. A structure (only ever visible as
//!   an element of a list that is too long) is rendered as `{Key=a, Values=[b]}`
//!   with its non-null modeled members in model order. A blob is shown as the
//!   base64 text it was sent as.
//! * A value whose shape is `sensitive`, or contains a sensitive shape, is
//!   never echoed: `Value at '<path>' failed to satisfy constraint: ...`.
//!
//! # Patterns
//!
//! The model's patterns are Java regular expressions matched against the whole
//! value (`String.matches`); smemu compiles each once with `regex-lite`,
//! anchored at both ends, when the model is loaded. Its matcher runs in time
//! linear in the input. The model only uses syntax that means the same in both
//! dialects (literals, escaped punctuation, ASCII `\d \w \s`, classes with
//! ranges, groups, `|`, `? * +`, `^ $`). `regex-lite` rejects most Java
//! constructs it does not share (backreferences, lookaround, `\p{..}`), so such
//! a pattern fails at model load; three it reads differently are possessive
//! quantifiers (`a++` is `(a+)+` to it), `\v`, and `.` (which Java also keeps
//! from matching `\r`). A unit test lists every pattern the model contains and
//! fails when one is added, so each new pattern is reviewed against these.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

/// The compact models, relative to this file: `<repo>/model/<endpoint prefix>.json`.
const SECRETS_MANAGER_MODEL: &str = include_str!("../../model/secretsmanager.json");
const KMS_MODEL: &str = include_str!("../../model/kms.json");
const CLOUDTRAIL_MODEL: &str = include_str!("../../model/cloudtrail.json");

const START_OF_LIST: &str = "Start of list found where not expected";
const START_OF_MAP: &str = "Start of structure or map found where not expected.";
const EXPECTED_LIST: &str = "Expected list or null";
const EXPECTED_MAP: &str = "Expected map or null";
const EXPECTED_NULL: &str = "Expected null";
const INVALID_BASE64: &str = "Invalid Base64 encoded value";
const BODY_NOT_OBJECT: &str = "Request body must be a JSON object";

/// Why a request body was rejected, with the message text to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// A member has the wrong JSON type (or the body is not an object):
    /// `SerializationException`.
    Serialization(String),
    /// One or more model constraints are violated: `ValidationException`.
    Validation(String),
}

impl Invalid {
    /// The message text, whatever the kind.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            Invalid::Serialization(message) | Invalid::Validation(message) => message,
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Serialization(message) => write!(f, "SerializationException: {message}"),
            Invalid::Validation(message) => write!(f, "ValidationException: {message}"),
        }
    }
}

impl std::error::Error for Invalid {}

/// The parsed compact model: operations and the shapes of their inputs.
#[derive(Debug)]
pub struct Model {
    operations: HashMap<String, usize>,
    shapes: Vec<Shape>,
}

#[derive(Debug)]
struct Shape {
    kind: Kind,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<Pattern>,
    enumeration: Vec<String>,
    sensitive: bool,
    /// The shape is sensitive or contains a sensitive shape: never echo it.
    redacted: bool,
}

#[derive(Debug)]
enum Kind {
    String,
    Boolean,
    Integer,
    Long,
    Timestamp,
    Blob,
    List(usize),
    Map(usize, usize),
    Structure(Vec<Member>),
}

#[derive(Debug)]
struct Member {
    /// The wire name, e.g. `SecretId`.
    name: String,
    /// The name used in constraint paths, e.g. `secretId`.
    path: String,
    shape: usize,
    required: bool,
}

impl Model {
    /// Parses the embedded Secrets Manager model once; call at startup.
    ///
    /// # Panics
    ///
    /// Only if the embedded model file is malformed, which the unit tests rule out.
    #[must_use]
    pub fn embedded() -> Model {
        Model::from_embedded(SECRETS_MANAGER_MODEL, "secretsmanager")
    }

    /// Parses the embedded KMS model once; call at startup.
    ///
    /// # Panics
    ///
    /// Only if the embedded model file is malformed, which the unit tests rule out.
    #[must_use]
    pub fn kms() -> Model {
        Model::from_embedded(KMS_MODEL, "kms")
    }

    /// Parses the embedded CloudTrail model once; call at startup.
    ///
    /// # Panics
    ///
    /// Only if the embedded model file is malformed, which the unit tests rule out.
    #[must_use]
    pub fn cloudtrail() -> Model {
        Model::from_embedded(CLOUDTRAIL_MODEL, "cloudtrail")
    }

    fn from_embedded(text: &str, name: &str) -> Model {
        match Model::parse(text) {
            Ok(model) => model,
            Err(error) => panic!("embedded validation model {name} is invalid: {error}"),
        }
    }

    /// Whether `op` (e.g. `"CreateSecret"`) is an operation of the model.
    #[must_use]
    pub fn has_operation(&self, op: &str) -> bool {
        self.operations.contains_key(op)
    }

    /// Whether the top-level input member `member` of `op` must stay out of a record of the
    /// request: the model marks it sensitive (or it holds a sensitive shape), or it is a blob
    /// (ciphertexts and binary values, which an audit record never shows). False for what the
    /// model does not know.
    #[must_use]
    pub fn is_unrecorded_member(&self, op: &str, member: &str) -> bool {
        let Some(&shape) = self.operations.get(op) else { return false };
        let Kind::Structure(members) = &self.shapes[shape].kind else { return false };
        members.iter().find(|m| m.name == member).is_some_and(|m| {
            let shape = &self.shapes[m.shape];
            shape.redacted || matches!(shape.kind, Kind::Blob)
        })
    }

    /// Validates a decoded JSON request body for operation `op` (e.g. `"CreateSecret"`).
    ///
    /// An operation the model does not know is not this function's concern
    /// (check [`Model::has_operation`] first); its body is accepted as is.
    ///
    /// # Errors
    ///
    /// [`Invalid::Serialization`] for a body that is not a JSON object or a member
    /// of the wrong JSON type; [`Invalid::Validation`] for constraint violations.
    pub fn validate(&self, op: &str, body: &Value) -> Result<(), Invalid> {
        let violations = self.violations(op, body)?;
        let items: Vec<String> = violations.iter().map(Violation::item).collect();
        match items.len() {
            0 => Ok(()),
            1 => Err(Invalid::Validation(format!("1 validation error detected: {}", items[0]))),
            n => Err(Invalid::Validation(format!("{n} validation errors detected: {}", items.join("; ")))),
        }
    }

    /// The constraint violations of a body, one by one, for callers that word their own
    /// messages (seed files name their own fields). Same walk and order as [`Model::validate`].
    ///
    /// # Errors
    ///
    /// [`Invalid::Serialization`] for a body that is not a JSON object or a member of the wrong
    /// JSON type.
    pub fn violations(&self, op: &str, body: &Value) -> Result<Vec<Violation>, Invalid> {
        let Some(&shape) = self.operations.get(op) else {
            return Ok(Vec::new());
        };
        let object = match body {
            Value::Object(object) => object,
            Value::Array(_) => return Err(Invalid::Serialization(START_OF_LIST.to_owned())),
            _ => return Err(Invalid::Serialization(BODY_NOT_OBJECT.to_owned())),
        };
        let Kind::Structure(members) = &self.shapes[shape].kind else {
            return Ok(Vec::new());
        };
        let mut walk = Walk { model: self, errors: Vec::new(), record: true };
        walk.structure(members, object, "").map_err(Invalid::Serialization)?;
        Ok(walk.errors)
    }

    fn parse(text: &str) -> Result<Model, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let raw_shapes = root.get("shapes").and_then(Value::as_object).ok_or("model has no \"shapes\" object")?;
        let index: HashMap<&str, usize> = raw_shapes.keys().enumerate().map(|(i, name)| (name.as_str(), i)).collect();
        let mut shapes = Vec::with_capacity(raw_shapes.len());
        for (name, raw) in raw_shapes {
            shapes.push(parse_shape(raw, &index).map_err(|e| format!("shape {name}: {e}"))?);
        }
        mark_redacted(&mut shapes)?;
        let raw_operations =
            root.get("operations").and_then(Value::as_object).ok_or("model has no \"operations\" object")?;
        let mut operations = HashMap::with_capacity(raw_operations.len());
        for (op, input) in raw_operations {
            let shape = shape_ref(input, &index).map_err(|e| format!("operation {op}: {e}"))?;
            if !matches!(shapes[shape].kind, Kind::Structure(_)) {
                return Err(format!("operation {op}: input is not a structure"));
            }
            operations.insert(op.clone(), shape);
        }
        Ok(Model { operations, shapes })
    }
}

fn shape_ref(value: &Value, index: &HashMap<&str, usize>) -> Result<usize, String> {
    let name = value.as_str().ok_or("shape reference is not a string")?;
    index.get(name).copied().ok_or_else(|| format!("unknown shape {name}"))
}

fn parse_shape(raw: &Value, index: &HashMap<&str, usize>) -> Result<Shape, String> {
    let field = |key: &str| raw.get(key);
    let kind = match field("type").and_then(Value::as_str) {
        Some("string") => Kind::String,
        Some("boolean") => Kind::Boolean,
        Some("integer") => Kind::Integer,
        Some("long") => Kind::Long,
        Some("timestamp") => Kind::Timestamp,
        Some("blob") => Kind::Blob,
        Some("list") => Kind::List(shape_ref(field("member").unwrap_or(&Value::Null), index)?),
        Some("map") => Kind::Map(
            shape_ref(field("key").unwrap_or(&Value::Null), index)?,
            shape_ref(field("value").unwrap_or(&Value::Null), index)?,
        ),
        Some("structure") => Kind::Structure(parse_members(raw, index)?),
        other => return Err(format!("unsupported type {other:?}")),
    };
    let bound = |key: &str| -> Result<Option<i64>, String> {
        match field(key) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| format!("{key} is not an integer")),
        }
    };
    let pattern = match field("pattern") {
        None => None,
        Some(p) => Some(Pattern::new(p.as_str().ok_or("pattern is not a string")?)?),
    };
    let enumeration = match field("enum") {
        None => Vec::new(),
        Some(values) => values
            .as_array()
            .ok_or("enum is not an array")?
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or("enum value is not a string"))
            .collect::<Result<_, _>>()?,
    };
    let sensitive = field("sensitive").and_then(Value::as_bool).unwrap_or(false);
    Ok(Shape { kind, min: bound("min")?, max: bound("max")?, pattern, enumeration, sensitive, redacted: sensitive })
}

fn parse_members(raw: &Value, index: &HashMap<&str, usize>) -> Result<Vec<Member>, String> {
    let required: Vec<&str> = match raw.get("required") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .ok_or("required is not an array")?
            .iter()
            .map(|v| v.as_str().ok_or("required name is not a string"))
            .collect::<Result<_, _>>()?,
    };
    let pairs = match raw.get("members") {
        None => return Ok(Vec::new()),
        Some(members) => members.as_array().ok_or("members is not an array")?,
    };
    let mut members = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (Some(name), Some(shape)) = (pair.get(0).and_then(Value::as_str), pair.get(1)) else {
            return Err("member is not a [name, shape] pair".to_owned());
        };
        members.push(Member {
            name: name.to_owned(),
            path: lower_first(name),
            shape: shape_ref(shape, index)?,
            required: required.contains(&name),
        });
    }
    if let Some(missing) = required.iter().find(|r| !members.iter().any(|m| m.name == **r)) {
        return Err(format!("required member {missing} is not a member"));
    }
    Ok(members)
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn children(kind: &Kind) -> Vec<usize> {
    match kind {
        Kind::List(member) => vec![*member],
        Kind::Map(key, value) => vec![*key, *value],
        Kind::Structure(members) => members.iter().map(|m| m.shape).collect(),
        _ => Vec::new(),
    }
}

/// Propagates sensitivity to enclosing shapes and rejects recursive models
/// (the walk relies on the model being finite).
fn mark_redacted(shapes: &mut [Shape]) -> Result<(), String> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    fn visit(id: usize, shapes: &mut [Shape], state: &mut [State]) -> Result<bool, String> {
        match state[id] {
            State::Done => return Ok(shapes[id].redacted),
            State::Open => return Err("the model is recursive".to_owned()),
            State::New => {}
        }
        state[id] = State::Open;
        let mut redacted = shapes[id].sensitive;
        for child in children(&shapes[id].kind) {
            redacted |= visit(child, shapes, state)?;
        }
        shapes[id].redacted = redacted;
        state[id] = State::Done;
        Ok(redacted)
    }
    let mut state = vec![State::New; shapes.len()];
    for id in 0..shapes.len() {
        visit(id, shapes, &mut state)?;
    }
    Ok(())
}

/// One constraint a member fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The member's path, as in the message: `secretString`, `tags.3.member.key`.
    pub path: String,
    /// What the member must do, after "Member must": `have length less than or equal to 65536`.
    pub rule: String,
    /// The value as the message shows it; `None` for a missing member and for sensitive values.
    shown: Option<String>,
}

impl Violation {
    /// The item as AWS words it inside a `ValidationException` message.
    fn item(&self) -> String {
        match &self.shown {
            Some(shown) => {
                format!("Value '{shown}' at '{}' failed to satisfy constraint: Member must {}", self.path, self.rule)
            }
            None if self.rule == NOT_NULL => {
                format!("Value null at '{}' failed to satisfy constraint: Member must {}", self.path, self.rule)
            }
            None => format!("Value at '{}' failed to satisfy constraint: Member must {}", self.path, self.rule),
        }
    }
}

const NOT_NULL: &str = "not be null";

/// One validation pass. `Err` carries a serialization message and ends the walk.
struct Walk<'m> {
    model: &'m Model,
    errors: Vec<Violation>,
    /// Constraint violations are collected only when set (map entries are type-checked only).
    record: bool,
}

type Step = Result<(), String>;

impl Walk<'_> {
    fn structure(&mut self, members: &[Member], object: &Map<String, Value>, prefix: &str) -> Step {
        for member in members {
            let path = if prefix.is_empty() { member.path.clone() } else { format!("{prefix}.{}", member.path) };
            match object.get(&member.name) {
                None | Some(Value::Null) => {
                    if member.required && self.record {
                        self.errors.push(Violation { path, rule: NOT_NULL.to_owned(), shown: None });
                    }
                }
                Some(value) => self.value(member.shape, value, &path)?,
            }
        }
        Ok(())
    }

    fn value(&mut self, id: usize, value: &Value, path: &str) -> Step {
        let model = self.model;
        let shape = &model.shapes[id];
        match &shape.kind {
            Kind::String => {
                let Value::String(text) = value else {
                    return Err(mismatch(value, "a String"));
                };
                if let Some(pattern) = &shape.pattern
                    && !pattern.matches(text)
                {
                    let rule = format!("satisfy regular expression pattern: {}", pattern.source);
                    self.violation(id, value, path, &rule);
                }
                if !shape.enumeration.is_empty() && !shape.enumeration.iter().any(|e| e == text) {
                    let rule = format!("satisfy enum value set: [{}]", shape.enumeration.join(", "));
                    self.violation(id, value, path, &rule);
                }
                self.length(id, text.chars().count(), value, path);
            }
            Kind::Blob => {
                let Value::String(text) = value else {
                    return Err(mismatch(value, "a Blob"));
                };
                let bytes =
                    base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| INVALID_BASE64.to_owned())?;
                self.length(id, bytes.len(), value, path);
            }
            Kind::Boolean => {
                if !value.is_boolean() {
                    return Err(mismatch(value, "a Boolean"));
                }
            }
            Kind::Integer => {
                let number = integer(value, "an Integer", i64::from(i32::MIN), i64::from(i32::MAX))?;
                self.range(id, number, value, path);
            }
            Kind::Long => {
                let number = integer(value, "a Long", i64::MIN, i64::MAX)?;
                self.range(id, number, value, path);
            }
            Kind::Timestamp => {
                if !value.is_number() {
                    return Err(mismatch(value, "a Date"));
                }
            }
            Kind::List(member) => {
                let items = match value {
                    Value::Array(items) => items,
                    Value::Object(_) => return Err(START_OF_MAP.to_owned()),
                    _ => return Err(EXPECTED_LIST.to_owned()),
                };
                let present = items.iter().filter(|v| !v.is_null()).count();
                self.length(id, present, value, path);
                for (n, item) in items.iter().filter(|v| !v.is_null()).enumerate() {
                    self.value(*member, item, &format!("{path}.{}.member", n + 1))?;
                }
            }
            Kind::Map(key, item) => {
                let entries = match value {
                    Value::Object(entries) => entries,
                    Value::Array(_) => return Err(START_OF_LIST.to_owned()),
                    _ => return Err(EXPECTED_MAP.to_owned()),
                };
                let present = entries.values().filter(|v| !v.is_null()).count();
                self.length(id, present, value, path);
                // Entries are only type-checked: no input map exists in this model,
                // and Coral words map-entry violations differently.
                let mut inner = Walk { model, errors: Vec::new(), record: false };
                for (name, entry) in entries.iter().filter(|(_, v)| !v.is_null()) {
                    inner.value(*key, &Value::String(name.clone()), path)?;
                    inner.value(*item, entry, path)?;
                }
            }
            Kind::Structure(members) => match value {
                Value::Object(object) => self.structure(members, object, path)?,
                Value::Array(_) => return Err(START_OF_LIST.to_owned()),
                _ => return Err(EXPECTED_NULL.to_owned()),
            },
        }
        Ok(())
    }

    fn length(&mut self, id: usize, length: usize, value: &Value, path: &str) {
        let shape = &self.model.shapes[id];
        let length = i64::try_from(length).unwrap_or(i64::MAX);
        if let Some(min) = shape.min
            && length < min
        {
            let rule = format!("have length greater than or equal to {min}");
            self.violation(id, value, path, &rule);
        }
        if let Some(max) = shape.max
            && length > max
        {
            let rule = format!("have length less than or equal to {max}");
            self.violation(id, value, path, &rule);
        }
    }

    fn range(&mut self, id: usize, number: i64, value: &Value, path: &str) {
        let shape = &self.model.shapes[id];
        if let Some(min) = shape.min
            && number < min
        {
            let rule = format!("have value greater than or equal to {min}");
            self.violation(id, value, path, &rule);
        }
        if let Some(max) = shape.max
            && number > max
        {
            let rule = format!("have value less than or equal to {max}");
            self.violation(id, value, path, &rule);
        }
    }

    fn violation(&mut self, id: usize, value: &Value, path: &str, rule: &str) {
        if !self.record {
            return;
        }
        let shown = (!self.model.shapes[id].redacted).then(|| {
            let mut shown = String::new();
            render(self.model, id, value, &mut shown);
            shown
        });
        self.errors.push(Violation { path: path.to_owned(), rule: rule.to_owned(), shown });
    }
}

/// The Coral name of the JSON token `value` starts with.
fn token(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL_VALUE",
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::String(_) => "STRING_VALUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

/// The message for a value that cannot become the scalar type `target`.
fn mismatch(value: &Value, target: &str) -> String {
    match value {
        Value::Array(_) => START_OF_LIST.to_owned(),
        Value::Object(_) => START_OF_MAP.to_owned(),
        _ => format!("{} can not be converted to {target}", token(value)),
    }
}

/// An integral JSON number within `low..=high`.
fn integer(value: &Value, target: &str, low: i64, high: i64) -> Result<i64, String> {
    match value.as_i64() {
        Some(number) if (low..=high).contains(&number) => Ok(number),
        _ => Err(mismatch(value, target)),
    }
}

/// Renders `value` of shape `id` as Java's `toString` would show it.
fn render(model: &Model, id: usize, value: &Value, out: &mut String) {
    match (&model.shapes[id].kind, value) {
        (_, Value::String(text)) => out.push_str(text),
        (Kind::List(member), Value::Array(items)) => {
            out.push('[');
            for (n, item) in items.iter().filter(|v| !v.is_null()).enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                render(model, *member, item, out);
            }
            out.push(']');
        }
        (Kind::Structure(members), Value::Object(object)) => {
            out.push('{');
            let present = members.iter().filter_map(|m| object.get(&m.name).filter(|v| !v.is_null()).map(|v| (m, v)));
            for (n, (member, item)) in present.enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                out.push_str(&member.name);
                out.push('=');
                render(model, member.shape, item, out);
            }
            out.push('}');
        }
        (Kind::Map(_, item_shape), Value::Object(entries)) => {
            out.push('{');
            for (n, (name, item)) in entries.iter().filter(|(_, v)| !v.is_null()).enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                out.push_str(name);
                out.push('=');
                render(model, *item_shape, item, out);
            }
            out.push('}');
        }
        (_, other) => out.push_str(&other.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Patterns

/// A compiled model pattern with Java `String.matches` (whole input) semantics.
#[derive(Debug)]
struct Pattern {
    source: String,
    regex: regex_lite::Regex,
}

impl Pattern {
    /// Compiles once, when the model is loaded; requests only run [`Pattern::matches`].
    fn new(source: &str) -> Result<Pattern, String> {
        // The source must stand on its own, so a stray `)` cannot escape the anchoring group.
        regex_lite::Regex::new(source).map_err(|e| format!("pattern {source}: {e}"))?;
        let regex = regex_lite::Regex::new(&format!("^(?:{source})$")).map_err(|e| format!("pattern {source}: {e}"))?;
        Ok(Pattern { source: source.to_owned(), regex })
    }

    /// Whether the whole of `text` matches (Java `String.matches`).
    fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model() -> Model {
        Model::embedded()
    }

    fn check(op: &str, body: &Value) -> Result<(), Invalid> {
        model().validate(op, body)
    }

    fn validation(op: &str, body: &Value) -> String {
        match check(op, body) {
            Err(Invalid::Validation(message)) => message,
            other => panic!("expected a validation error for {op} {body}, got {other:?}"),
        }
    }

    fn serialization(op: &str, body: &Value) -> String {
        match check(op, body) {
            Err(Invalid::Serialization(message)) => message,
            other => panic!("expected a serialization error for {op} {body}, got {other:?}"),
        }
    }

    fn one(item: &str) -> String {
        format!("1 validation error detected: {item}")
    }

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    // -- the model --------------------------------------------------------

    #[test]
    fn embedded_model_parses_and_knows_every_operation() {
        let model = model();
        for op in crate::services::secretsmanager::ops::Operation::ALL {
            assert!(model.has_operation(op.name()), "{op:?}");
        }
        assert_eq!(model.operations.len(), 26);
        assert!(!model.has_operation("GetSecret"));
        assert!(!model.has_operation("getSecretValue"));
    }

    #[test]
    fn model_can_be_shared_between_threads() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Model>();
        shared::<Invalid>();
    }

    #[test]
    fn unknown_operation_is_not_validated_here() {
        assert_eq!(model().validate("NoSuchOperation", &json!([])), Ok(()));
    }

    #[test]
    fn members_keep_model_order() {
        let model = model();
        let shape = model.operations["CreateSecret"];
        let Kind::Structure(members) = &model.shapes[shape].kind else {
            panic!("not a structure");
        };
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Name",
                "ClientRequestToken",
                "Description",
                "KmsKeyId",
                "SecretBinary",
                "SecretString",
                "Tags",
                "AddReplicaRegions",
                "ForceOverwriteReplicaSecret",
                "Type",
                "CrossAccountPrimaryARN",
            ]
        );
    }

    /// Every pattern in the model, with inputs that must and must not match.
    /// Fails when the model gains a pattern this list (and the matcher) has not
    /// been checked against.
    const PATTERNS: &[(&str, &[&str], &[&str])] = &[
        (
            r"^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$",
            &["", "!", "prod/db", "!prod", "a b:c_d@e/f+g=h.i-j!k", "!!x", "Z9"],
            &["a#b", "é", "a\tb", "semi;colon", "a\n", "(x)"],
        ),
        (r"[0-9A-Za-z\-\_]+", &["default", "a-b_c", "Z", "09"], &["", "a b", "a.b", "ü", "a\n"]),
        (
            r"^([a-z]+-)+\d+$",
            &["us-east-1", "eu-central-12", "ap-southeast-2", "a-1", "us-gov-west-1"],
            &["", "us-east", "US-EAST-1", "-1", "us--1", "1", "us-east-1a", "us_east_1", "us-east-١"],
        ),
        (r"[0-9]+h", &["2h", "24h", "0h"], &["", "h", "2", "2H", "2hh", "h2", " 2h"]),
        (
            r"[0-9A-Za-z\(\)#\?\*\-\/, ]+",
            &["rate(10 days)", "cron(0 16 1,15 * ? *)", "cron(0 8 ? * MON#1 *)", "a/b-c"],
            &["", "rate(1 day);", "cron(0 0 * * ? *)\n", "a_b", "a.b"],
        ),
        (
            r"^[a-zA-Z0-9\-]+$",
            &["0b1c3e2a-5d7f-4c1e-9a8b-2f4d6e8a0c1b", "ABC-def-123", "-"],
            &["", "abc_def", "abc def", "abc\n", "ä"],
        ),
    ];

    fn check_patterns(model: &Model, patterns: &[(&str, &[&str], &[&str])]) {
        let mut in_model: Vec<&str> =
            model.shapes.iter().filter_map(|s| s.pattern.as_ref().map(|p| p.source.as_str())).collect();
        in_model.sort_unstable();
        in_model.dedup();
        let mut known: Vec<&str> = patterns.iter().map(|p| p.0).collect();
        known.sort_unstable();
        assert_eq!(in_model, known, "the model's patterns changed: review the matcher and the list");
        for (source, good, bad) in patterns {
            let pattern = Pattern::new(source).unwrap();
            for text in *good {
                assert!(pattern.matches(text), "{source} should match {text:?}");
            }
            for text in *bad {
                assert!(!pattern.matches(text), "{source} should not match {text:?}");
            }
        }
    }

    #[test]
    fn every_model_pattern_is_known_and_behaves() {
        check_patterns(&model(), PATTERNS);
    }

    /// Every pattern in the KMS model, as [`PATTERNS`] is for Secrets Manager's.
    const KMS_PATTERNS: &[(&str, &[&str], &[&str])] = &[
        ("[0-9]{12}", &["111122223333", "000000000000"], &["11112222333", "1111222233334", "a11122223333"]),
        (
            r"[\u0009\u000A\u000D\u0020-\u00FF]+",
            &["{\"Version\": \"2012-10-17\"}", "a\tb\nc\r", "ÿ"],
            &["", "\u{1}", "\u{100}", "ok\u{2028}"],
        ),
        (r"[\u0020-\u00FF]*", &["", "eyJr", "a b~é"], &["\t", "\u{100}"]),
        (r"[\w]+", &["default", "AWS_RAM", "a1"], &["", "a-b", "a b"]),
        (
            r"^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$",
            &["/kms/xks/v1", "/kms/xks/v12", "/a/b/kms/xks/v2"],
            &["/kms/xks/v123", "/kms/xks/v", "kms/xks/v1", "/a/kms/xks/v1/"],
        ),
        (
            r"^([A-Za-z0-9\-]+)\.([A-Za-z0-9\-]+)(\.[A-Za-z0-9\-]+)+$",
            &["secretsmanager.us-east-1.amazonaws.com", "a.b.c"],
            &["a.b", "a..b.c", "a.b.c."],
        ),
        (r"^([a-z]+-){2,3}\d+$", &["us-east-1", "us-gov-west-1"], &["us-1", "a-b-c-d-1", "us-east-"]),
        (
            r"^(com|eu)\.amazonaws\.vpce\.([a-z]+-){2,3}\d+\.vpce-svc-[0-9a-z]+$",
            &["com.amazonaws.vpce.us-east-1.vpce-svc-0123abc"],
            &["org.amazonaws.vpce.us-east-1.vpce-svc-0", "com.amazonaws.vpce.us-east-1.vpce-svc-"],
        ),
        (r"^[A-Z2-7]+$", &["ABCDEFGHIJ234567"], &["", "abc", "A1"]),
        (r"^[\w+=,.@:/-]+$", &["arn:aws:iam::111122223333:role/a+b=c,d.e@f-g"], &["", "a b", "a*b"]),
        (r"^[a-f0-9]+$", &["0a1b", "ff"], &["", "0A", "g"]),
        (r"^[a-zA-Z0-9-_.]+$", &["key-1_2.3"], &["", "a b", "a/b"]),
        (r"^[a-zA-Z0-9:/_-]+$", &["alias/my-key", "alias/aws/secretsmanager"], &["", "alias/a b", "alias/é"]),
        (r"^[a-zA-Z0-9:/_\s.-]+$", &["material 1.0", "a:b/c_d-e"], &["", "a*b"]),
        (r"^[a-zA-Z0-9\/+=]+$", &["abc/DEF+12=="], &["", "a-b"]),
        (
            r"^arn:aws[a-z0-9-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:.+$",
            &["arn:aws:lambda:us-east-1:111122223333:function:f", "arn:aws-cn:s3::111122223333:b"],
            &["arn:aws:lambda:us-east-1:11112222333:function:f", "arn:aws:lambda:us-east-1:111122223333:"],
        ),
        (r"^https://[a-zA-Z0-9.-]+$", &["https://xks.example.com"], &["http://x", "https://a/b"]),
        (
            r"cluster-[2-7a-zA-Z]{11,16}",
            &["cluster-abcdefghijk", "cluster-234567abcdefghij"],
            &["cluster-abcdefghij", "cluster-abcdefghijklmnopq", "cluster-abcdefghij1"],
        ),
    ];

    #[test]
    fn every_kms_model_pattern_is_known_and_behaves() {
        check_patterns(&Model::kms(), KMS_PATTERNS);
    }

    #[test]
    fn kms_model_parses_and_knows_its_operations() {
        let model = Model::kms();
        assert_eq!(model.operations.len(), 56);
        for op in ["CreateKey", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "ScheduleKeyDeletion", "Sign"] {
            assert!(model.has_operation(op), "{op}");
        }
        assert!(!model.has_operation("CreateSecret"));
        // PlaintextType and three of the external key store's secrets.
        assert_eq!(model.shapes.iter().filter(|s| s.sensitive).count(), 4);
    }

    #[test]
    fn cloudtrail_model_parses_and_marks_what_a_record_leaves_out() {
        let model = Model::cloudtrail();
        assert!(model.has_operation("LookupEvents"));
        let sm = Model::embedded();
        for member in ["SecretString", "SecretBinary"] {
            assert!(sm.is_unrecorded_member("PutSecretValue", member), "{member}");
        }
        assert!(sm.is_unrecorded_member("CreateSecret", "SecretString"));
        assert!(!sm.is_unrecorded_member("PutSecretValue", "SecretId"));
        let kms = Model::kms();
        assert!(kms.is_unrecorded_member("Encrypt", "Plaintext"));
        assert!(kms.is_unrecorded_member("Decrypt", "CiphertextBlob"));
        assert!(!kms.is_unrecorded_member("Encrypt", "KeyId"));
        assert!(!kms.is_unrecorded_member("Nothing", "KeyId"));
    }

    #[test]
    fn kms_constraint_messages_are_exact() {
        let model = Model::kms();
        let message = |op: &str, body: Value| match model.validate(op, &body) {
            Err(Invalid::Validation(m)) => m,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(
            message("GenerateRandom", json!({"NumberOfBytes": 0})),
            one(
                "Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )
        );
        assert_eq!(
            message("GenerateRandom", json!({"NumberOfBytes": 1025})),
            one(
                "Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"
            )
        );
        let plaintext = base64::engine::general_purpose::STANDARD.encode([7u8; 4097]);
        assert_eq!(
            message("Encrypt", json!({"KeyId": "k", "Plaintext": plaintext})),
            one(
                "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
            )
        );
        let tags = json!([{"TagKey": "k".repeat(129), "TagValue": "v"}]);
        assert!(message("TagResource", json!({"KeyId": "k", "Tags": tags})).contains(
            "at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"
        ));
        assert_eq!(
            model.validate("Encrypt", &json!({"KeyId": "k", "Plaintext": "AA==", "EncryptionContext": {"a": "b"}})),
            Ok(())
        );
    }

    #[test]
    fn model_is_acyclic_and_sensitive_shapes_are_marked() {
        let model = model();
        let sensitive: usize = model.shapes.iter().filter(|s| s.sensitive).count();
        // SecretBinaryType, SecretStringType, RotationTokenType.
        assert_eq!(sensitive, 3);
        let recursive = r#"{"operations":{"Op":"A"},"shapes":{
            "A":{"type":"structure","members":[["Next","B"]]},
            "B":{"type":"list","member":"A"}}}"#;
        assert!(Model::parse(recursive).unwrap_err().contains("recursive"));
    }

    #[test]
    fn malformed_models_are_rejected() {
        for text in [
            "",
            "{}",
            r#"{"operations":{},"shapes":{"A":{"type":"double"}}}"#,
            r#"{"operations":{"Op":"Missing"},"shapes":{}}"#,
            r#"{"operations":{"Op":"A"},"shapes":{"A":{"type":"string"}}}"#,
            r#"{"operations":{},"shapes":{"A":{"type":"structure","required":["X"],"members":[]}}}"#,
            r#"{"operations":{},"shapes":{"A":{"type":"structure","members":{"X":"A"}}}}"#,
            r#"{"operations":{},"shapes":{"A":{"type":"string","pattern":"a{2"}}}"#,
            r#"{"operations":{},"shapes":{"A":{"type":"string","min":"1"}}}"#,
        ] {
            assert!(Model::parse(text).is_err(), "{text}");
        }
    }

    // -- the pattern matcher ---------------------------------------------

    #[test]
    fn matcher_handles_the_supported_subset() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("a|bc", "bc", true),
            ("a|bc", "abc", false),
            ("(ab)*c", "ababc", true),
            ("(ab)*c", "abac", false),
            ("(a|b)+", "abba", true),
            ("colou?r", "color", true),
            ("colou?r", "colour", true),
            ("[^a-c]+", "xyz", true),
            ("[^a-c]+", "xaz", false),
            ("[a-]+", "a-a", true),
            (r"[\d\s]+", "1 2", true),
            (r"\w+", "a_1", true),
            (r"\W", "a", false),
            (r"\D\S", "a!", true),
            ("a.c", "abc", true),
            ("a.c", "a\nc", false),
            ("(a*)*b", "aaab", true),
            ("(a*)*b", "aaaa", false),
            ("^$", "", true),
            ("^a$", "a", true),
            ("a^", "a", false),
            ("a{2}", "aa", true),
            ("a{2}", "aaa", false),
        ];
        for (source, text, expected) in cases {
            let pattern = Pattern::new(source).unwrap();
            assert_eq!(pattern.matches(text), *expected, "{source} on {text:?}");
        }
    }

    #[test]
    fn matcher_rejects_malformed_and_unsupported_patterns() {
        // Java constructs without a linear-time equivalent, and broken syntax.
        for source in [r"\p{L}", r"\1", "(?=a)", "(a", "a)", "[a", "[]", "*a", "[z-a]", r"\", "a{2"] {
            assert!(Pattern::new(source).is_err(), "{source}");
        }
        // A stray `)` must not break out of the anchoring group and match a mere prefix.
        assert!(Pattern::new("a)|(b").is_err());
    }

    #[test]
    fn matcher_is_linear_on_adversarial_input() {
        let pattern = Pattern::new(r"^([a-z]+-)+\d+$").unwrap();
        let text = "a-".repeat(50_000) + "!";
        assert!(!pattern.matches(&text));
        let nested = Pattern::new("(a*)*b").unwrap();
        assert!(!nested.matches(&"a".repeat(100_000)));
    }

    /// What a pattern costs per request: `cargo test --release --lib pattern_cost -- --ignored --nocapture`.
    /// GetSecretValue has no patterned member; PutSecretValue with a RotationToken has one.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn pattern_cost() {
        let model = model();
        let cases = [
            ("GetSecretValue", json!({"SecretId": "prod/db", "VersionStage": "AWSCURRENT"})),
            (
                "PutSecretValue",
                json!({"SecretId": "prod/db", "SecretString": "x", "RotationToken": "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE"}),
            ),
        ];
        for (op, body) in &cases {
            let rounds = 200_000_u32;
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                assert!(model.validate(op, std::hint::black_box(body)).is_ok());
            }
            println!("{op}: {:?} per validation", started.elapsed() / rounds);
        }
    }

    // -- request body and types ------------------------------------------

    #[test]
    fn body_must_be_an_object() {
        assert_eq!(serialization("GetSecretValue", &json!([])), START_OF_LIST);
        for body in [json!(null), json!("x"), json!(1), json!(true)] {
            assert_eq!(serialization("GetSecretValue", &body), BODY_NOT_OBJECT);
        }
    }

    #[test]
    fn valid_bodies_pass() {
        let ok: &[(&str, Value)] = &[
            ("GetSecretValue", json!({"SecretId": "prod/db"})),
            ("ListSecrets", json!({})),
            ("GetRandomPassword", json!({})),
            (
                "CreateSecret",
                json!({
                    "Name": "prod/db",
                    "ClientRequestToken": TOKEN,
                    "Description": "",
                    "SecretBinary": "Zm9vdGVzdA==",
                    "Tags": [{"Key": "env", "Value": ""}],
                    "AddReplicaRegions": [{"Region": "eu-west-1"}],
                    "ForceOverwriteReplicaSecret": false,
                }),
            ),
            (
                "ListSecrets",
                json!({
                    "MaxResults": 100,
                    "Filters": [{"Key": "name", "Values": ["!prod", "a b"]}],
                    "SortOrder": "asc",
                    "SortBy": "last-changed-date",
                    "IncludePlannedDeletion": true,
                }),
            ),
            (
                "RotateSecret",
                json!({
                    "SecretId": "s",
                    "ClientRequestToken": TOKEN,
                    "RotationRules": {"ScheduleExpression": "rate(10 days)", "Duration": "2h"},
                }),
            ),
            ("DeleteSecret", json!({"SecretId": "s", "RecoveryWindowInDays": 7})),
            ("TagResource", json!({"SecretId": "s", "Tags": []})),
            ("UntagResource", json!({"SecretId": "s", "TagKeys": ["a"]})),
        ];
        for (op, body) in ok {
            assert_eq!(check(op, body), Ok(()), "{op} {body}");
        }
    }

    #[test]
    fn unknown_members_are_ignored_whatever_their_type() {
        let body = json!({"SecretId": "s", "Bogus": {"deep": [1, 2]}, "secretId": 5, "X": null});
        assert_eq!(check("GetSecretValue", &body), Ok(()));
        let nested = json!({"SecretId": "s", "RotationRules": {"AutomaticallyAfterDays": 5, "Other": []}});
        assert_eq!(check("RotateSecret", &nested), Ok(()));
    }

    #[test]
    fn null_members_count_as_absent() {
        let body = json!({"SecretId": "s", "VersionId": null, "VersionStage": null});
        assert_eq!(check("GetSecretValue", &body), Ok(()));
        assert_eq!(
            validation("GetSecretValue", &json!({"SecretId": null})),
            one("Value null at 'secretId' failed to satisfy constraint: Member must not be null")
        );
    }

    #[test]
    fn string_members_reject_other_types() {
        let cases = [
            (json!(1), "NUMBER_VALUE can not be converted to a String"),
            (json!(1.5), "NUMBER_VALUE can not be converted to a String"),
            (json!(true), "TRUE_VALUE can not be converted to a String"),
            (json!(false), "FALSE_VALUE can not be converted to a String"),
            (json!(["s"]), START_OF_LIST),
            (json!({"a": 1}), START_OF_MAP),
        ];
        for (value, message) in cases {
            assert_eq!(serialization("GetSecretValue", &json!({"SecretId": value})), message);
        }
    }

    #[test]
    fn boolean_members_reject_other_types() {
        let cases = [
            (json!("true"), "STRING_VALUE can not be converted to a Boolean"),
            (json!(1), "NUMBER_VALUE can not be converted to a Boolean"),
            (json!([]), START_OF_LIST),
            (json!({}), START_OF_MAP),
        ];
        for (value, message) in cases {
            let body = json!({"SecretId": "s", "ForceDeleteWithoutRecovery": value});
            assert_eq!(serialization("DeleteSecret", &body), message);
        }
    }

    #[test]
    fn long_members_need_integral_numbers_in_range() {
        let cases = [
            (json!("7"), "STRING_VALUE can not be converted to a Long"),
            (json!(7.5), "NUMBER_VALUE can not be converted to a Long"),
            (json!(7.0), "NUMBER_VALUE can not be converted to a Long"),
            (json!(1e300), "NUMBER_VALUE can not be converted to a Long"),
            (json!(u64::MAX), "NUMBER_VALUE can not be converted to a Long"),
            (json!(true), "TRUE_VALUE can not be converted to a Long"),
            (json!([7]), START_OF_LIST),
            (json!({}), START_OF_MAP),
        ];
        for (value, message) in cases {
            let body = json!({"SecretId": "s", "RecoveryWindowInDays": value});
            assert_eq!(serialization("DeleteSecret", &body), message, "{value}");
        }
        // Any i64 is a valid Long; RecoveryWindowInDays has no model bounds.
        for value in [i64::MIN, -1, 0, i64::MAX] {
            let body = json!({"SecretId": "s", "RecoveryWindowInDays": value});
            assert_eq!(check("DeleteSecret", &body), Ok(()));
        }
        let huge: Value = serde_json::from_str(r#"{"PasswordLength": 99999999999999999999999}"#).unwrap();
        assert_eq!(serialization("GetRandomPassword", &huge), "NUMBER_VALUE can not be converted to a Long");
    }

    #[test]
    fn integer_members_must_fit_in_32_bits() {
        let cases = [
            (json!(2_147_483_648_i64), "NUMBER_VALUE can not be converted to an Integer"),
            (json!(-2_147_483_649_i64), "NUMBER_VALUE can not be converted to an Integer"),
            (json!("10"), "STRING_VALUE can not be converted to an Integer"),
            (json!(10.5), "NUMBER_VALUE can not be converted to an Integer"),
            (json!(false), "FALSE_VALUE can not be converted to an Integer"),
        ];
        for (value, message) in cases {
            assert_eq!(serialization("ListSecrets", &json!({"MaxResults": value})), message);
        }
        assert_eq!(
            validation("ListSecrets", &json!({"MaxResults": 2_147_483_647})),
            one(
                "Value '2147483647' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
            )
        );
    }

    #[test]
    fn blob_members_need_padded_standard_base64() {
        for value in ["Zm9v", "Zm8=", "Zg==", "+/+/"] {
            let body = json!({"Name": "n", "SecretBinary": value});
            assert_eq!(check("CreateSecret", &body), Ok(()), "{value}");
        }
        for value in ["Zm8", "Zg", "Zm9v!", "Zm9v\n", "-_-_", "Zh=="] {
            let body = json!({"Name": "n", "SecretBinary": value});
            assert_eq!(serialization("CreateSecret", &body), INVALID_BASE64, "{value}");
        }
        let body = json!({"Name": "n", "SecretBinary": 5});
        assert_eq!(serialization("CreateSecret", &body), "NUMBER_VALUE can not be converted to a Blob");
        let body = json!({"Name": "n", "SecretBinary": [1, 2]});
        assert_eq!(serialization("CreateSecret", &body), START_OF_LIST);
    }

    #[test]
    fn list_and_structure_members_reject_other_types() {
        assert_eq!(serialization("UntagResource", &json!({"SecretId": "s", "TagKeys": "a"})), EXPECTED_LIST);
        assert_eq!(serialization("UntagResource", &json!({"SecretId": "s", "TagKeys": 1})), EXPECTED_LIST);
        assert_eq!(serialization("UntagResource", &json!({"SecretId": "s", "TagKeys": {}})), START_OF_MAP);
        assert_eq!(
            serialization("UntagResource", &json!({"SecretId": "s", "TagKeys": ["a", 1]})),
            "NUMBER_VALUE can not be converted to a String"
        );
        assert_eq!(serialization("UntagResource", &json!({"SecretId": "s", "TagKeys": [["a"]]})), START_OF_LIST);
        assert_eq!(serialization("RotateSecret", &json!({"SecretId": "s", "RotationRules": "x"})), EXPECTED_NULL);
        assert_eq!(serialization("RotateSecret", &json!({"SecretId": "s", "RotationRules": 3})), EXPECTED_NULL);
        assert_eq!(serialization("RotateSecret", &json!({"SecretId": "s", "RotationRules": []})), START_OF_LIST);
        assert_eq!(serialization("TagResource", &json!({"SecretId": "s", "Tags": ["a"]})), EXPECTED_NULL);
    }

    #[test]
    fn type_errors_at_depth_are_found() {
        let body = json!({"Filters": [{"Key": "name", "Values": ["a"]}, {"Key": "name", "Values": ["b", false]}]});
        assert_eq!(serialization("ListSecrets", &body), "FALSE_VALUE can not be converted to a String");
        let body = json!({"SecretId": "s", "RotationRules": {"AutomaticallyAfterDays": "30"}});
        assert_eq!(serialization("RotateSecret", &body), "STRING_VALUE can not be converted to a Long");
        let body = json!({"Name": "n", "Tags": [{"Key": "k", "Value": 1}]});
        assert_eq!(serialization("CreateSecret", &body), "NUMBER_VALUE can not be converted to a String");
    }

    #[test]
    fn type_errors_win_over_constraint_errors() {
        // The missing SecretId comes first in model order, the bad type later.
        let body = json!({"VersionId": "short", "VersionStage": 5});
        assert_eq!(serialization("GetSecretValue", &body), "NUMBER_VALUE can not be converted to a String");
    }

    #[test]
    fn null_list_elements_are_skipped() {
        let body = json!({"SecretId": "s", "TagKeys": [null, "a", null]});
        assert_eq!(check("UntagResource", &body), Ok(()));
        // Nulls do not count towards the size, nor the element numbering.
        let body = json!({"SecretId": "s", "VersionStages": [null]});
        assert_eq!(
            validation("PutSecretValue", &body),
            one(
                "Value '[]' at 'versionStages' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
        let body = json!({"SecretId": "s", "TagKeys": [null, "a", ""]});
        assert_eq!(
            validation("UntagResource", &body),
            one(
                "Value '' at 'tagKeys.2.member' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
    }

    // -- constraints -------------------------------------------------------

    #[test]
    fn missing_secret_id_message_is_exact() {
        assert_eq!(
            validation("GetSecretValue", &json!({})),
            "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn password_length_above_maximum_message_is_exact() {
        assert_eq!(
            validation("GetRandomPassword", &json!({"PasswordLength": 5000})),
            "1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096"
        );
        assert_eq!(
            validation("GetRandomPassword", &json!({"PasswordLength": 0})),
            one(
                "Value '0' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )
        );
        assert_eq!(
            validation("GetRandomPassword", &json!({"PasswordLength": -5})),
            one(
                "Value '-5' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )
        );
        for ok in [1, 32, 4096] {
            assert_eq!(check("GetRandomPassword", &json!({"PasswordLength": ok})), Ok(()));
        }
    }

    #[test]
    fn several_required_members_in_model_order() {
        assert_eq!(
            validation("UpdateSecretVersionStage", &json!({})),
            "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; \
             Value null at 'versionStage' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            validation("ValidateResourcePolicy", &json!({})),
            one("Value null at 'resourcePolicy' failed to satisfy constraint: Member must not be null")
        );
    }

    #[test]
    fn string_lengths() {
        assert_eq!(
            validation("GetSecretValue", &json!({"SecretId": ""})),
            one(
                "Value '' at 'secretId' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
        let long = "a".repeat(2049);
        assert_eq!(
            validation("GetSecretValue", &json!({"SecretId": long})),
            one(&format!(
                "Value '{long}' at 'secretId' failed to satisfy constraint: Member must have length less than or equal to 2048"
            ))
        );
        assert_eq!(check("GetSecretValue", &json!({"SecretId": "a".repeat(2048)})), Ok(()));
        // Lengths count Unicode scalar values, not bytes.
        assert_eq!(check("GetSecretValue", &json!({"SecretId": "é".repeat(2048)})), Ok(()));
        assert_eq!(
            validation("GetSecretValue", &json!({"SecretId": "s", "VersionId": "é".repeat(31)})),
            one(&format!(
                "Value '{}' at 'versionId' failed to satisfy constraint: Member must have length greater than or equal to 32",
                "é".repeat(31)
            ))
        );
        // Zero minimums never fail.
        assert_eq!(check("CreateSecret", &json!({"Name": "n", "KmsKeyId": ""})), Ok(()));
    }

    #[test]
    fn multiple_errors_across_members() {
        let body = json!({"SecretId": "", "VersionId": "short", "VersionStage": ""});
        assert_eq!(
            validation("GetSecretValue", &body),
            "3 validation errors detected: \
             Value '' at 'secretId' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value 'short' at 'versionId' failed to satisfy constraint: Member must have length greater than or equal to 32; \
             Value '' at 'versionStage' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn one_member_can_fail_pattern_and_length() {
        assert_eq!(
            validation("GetResourcePolicy", &json!({"SecretId": "s", "PolicyName": ""})),
            "2 validation errors detected: \
             Value '' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z\\-\\_]+; \
             Value '' at 'policyName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let name = format!("{}!", "a".repeat(64));
        assert_eq!(
            validation("DeleteResourcePolicy", &json!({"SecretId": "s", "PolicyName": name})),
            format!(
                "2 validation errors detected: \
                 Value '{name}' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z\\-\\_]+; \
                 Value '{name}' at 'policyName' failed to satisfy constraint: Member must have length less than or equal to 64"
            )
        );
    }

    #[test]
    fn enums_list_values_in_model_order() {
        assert_eq!(
            validation("ListSecrets", &json!({"SortOrder": "ASC"})),
            one(
                "Value 'ASC' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]"
            )
        );
        assert_eq!(
            validation("ListSecrets", &json!({"Filters": [{"Key": "invalid", "Values": ["x"]}]})),
            one("Value 'invalid' at 'filters.1.member.key' failed to satisfy constraint: \
                 Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]")
        );
        assert_eq!(
            validation(
                "AssociateCrossAccountReplica",
                &json!({
                    "SecretId": "s",
                    "CrossAccountReplicaARN": "arn:aws:secretsmanager:x",
                    "ReplicaRestriction": ""
                })
            ),
            one(
                "Value '' at 'replicaRestriction' failed to satisfy constraint: Member must satisfy enum value set: [SameOrg, NoRestriction]"
            )
        );
    }

    #[test]
    fn list_element_paths() {
        let body = json!({"Filters": [
            {"Key": "name", "Values": ["ok"]},
            {"Key": "tag-key", "Values": ["ok", "bad#"]}
        ]});
        assert_eq!(
            validation("ListSecrets", &body),
            one("Value 'bad#' at 'filters.2.member.values.2.member' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$")
        );
        let body = json!({"SecretId": "s", "RemoveReplicaRegions": ["us-east-1", "Mars"]});
        assert_eq!(
            validation("RemoveRegionsFromReplication", &body),
            one("Value 'Mars' at 'removeReplicaRegions.2.member' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: ^([a-z]+-)+\\d+$")
        );
        let body = json!({"Name": "n", "Tags": [{"Key": "", "Value": "v".repeat(257)}]});
        assert_eq!(
            validation("CreateSecret", &body),
            format!(
                "2 validation errors detected: \
                 Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1; \
                 Value '{}' at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256",
                "v".repeat(257)
            )
        );
        let body = json!({"SecretId": "s", "AddReplicaRegions": [{"Region": "eu-west-1"}, {"KmsKeyId": "k"}]});
        assert_eq!(check("ReplicateSecretToRegions", &body), Ok(()));
        let body = json!({"SecretId": "s", "AddReplicaRegions": [{"Region": "EU"}]});
        assert_eq!(
            validation("ReplicateSecretToRegions", &body),
            one("Value 'EU' at 'addReplicaRegions.1.member.region' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: ^([a-z]+-)+\\d+$")
        );
    }

    #[test]
    fn list_sizes_use_length_wording_and_java_rendering() {
        assert_eq!(
            validation("PutSecretValue", &json!({"SecretId": "s", "VersionStages": []})),
            one(
                "Value '[]' at 'versionStages' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
        let stages: Vec<String> = (1..=21).map(|n| format!("L{n}")).collect();
        let shown = format!("[{}]", stages.join(", "));
        assert_eq!(
            validation("PutSecretValue", &json!({"SecretId": "s", "VersionStages": stages})),
            one(&format!(
                "Value '{shown}' at 'versionStages' failed to satisfy constraint: Member must have length less than or equal to 20"
            ))
        );
        assert_eq!(
            validation("BatchGetSecretValue", &json!({"SecretIdList": []})),
            one(
                "Value '[]' at 'secretIdList' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
    }

    #[test]
    fn list_of_structures_renders_members_and_reports_elements_after_size() {
        let mut filters: Vec<Value> = (0..10).map(|_| json!({"Key": "name", "Values": ["a"]})).collect();
        filters.push(json!({"Key": "nope", "Values": ["a", "b"], "Extra": 1}));
        let mut shown: Vec<&str> = vec!["{Key=name, Values=[a]}"; 10];
        shown.push("{Key=nope, Values=[a, b]}");
        assert_eq!(
            validation("ListSecrets", &json!({"Filters": filters})),
            format!(
                "2 validation errors detected: \
                 Value '[{}]' at 'filters' failed to satisfy constraint: Member must have length less than or equal to 10; \
                 Value 'nope' at 'filters.11.member.key' failed to satisfy constraint: \
                 Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]",
                shown.join(", ")
            )
        );
        assert_eq!(
            validation("ReplicateSecretToRegions", &json!({"SecretId": "s", "AddReplicaRegions": []})),
            one(
                "Value '[]' at 'addReplicaRegions' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
    }

    #[test]
    fn nested_structure_paths() {
        let body = json!({"SecretId": "s", "RotationRules": {"AutomaticallyAfterDays": 0, "Duration": "2d"}});
        assert_eq!(
            validation("RotateSecret", &body),
            "2 validation errors detected: \
             Value '0' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value greater than or equal to 1; \
             Value '2d' at 'rotationRules.duration' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+h"
        );
        let body = json!({"SecretId": "s", "RotationRules": {"AutomaticallyAfterDays": 1001, "ScheduleExpression": "rate(1 day);"}});
        assert_eq!(
            validation("RotateSecret", &body),
            "2 validation errors detected: \
             Value '1001' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value less than or equal to 1000; \
             Value 'rate(1 day);' at 'rotationRules.scheduleExpression' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+"
        );
        let body = json!({"SecretId": "s", "RotationRules": {"Duration": "1000h"}});
        assert_eq!(
            validation("RotateSecret", &body),
            one(
                "Value '1000h' at 'rotationRules.duration' failed to satisfy constraint: Member must have length less than or equal to 3"
            )
        );
        let body = json!({"SecretId": "s", "ExternalSecretRotationMetadata": [{"Key": "k", "Value": ""}]});
        assert_eq!(
            validation("RotateSecret", &body),
            one("Value '' at 'externalSecretRotationMetadata.1.member.value' failed to satisfy constraint: \
                 Member must have length greater than or equal to 1")
        );
    }

    #[test]
    fn upper_case_member_names_lower_only_the_first_letter() {
        let body = json!({"SecretId": "s", "CrossAccountReplicaARN": "short"});
        assert_eq!(
            validation("DisassociateCrossAccountReplica", &body),
            one(
                "Value 'short' at 'crossAccountReplicaARN' failed to satisfy constraint: Member must have length greater than or equal to 20"
            )
        );
        let body = json!({"SecretId": "s", "RotationLambdaARN": "x".repeat(2049)});
        assert!(validation("RotateSecret", &body).contains("at 'rotationLambdaARN' failed"));
        assert_eq!(lower_first("ARN"), "aRN");
        assert_eq!(lower_first(""), "");
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        assert_eq!(
            validation("CreateSecret", &json!({"Name": "n", "SecretString": ""})),
            one(
                "Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
        let big = "x".repeat(65_537);
        assert_eq!(
            validation("PutSecretValue", &json!({"SecretId": "s", "SecretString": big})),
            one(
                "Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536"
            )
        );
        assert_eq!(check("PutSecretValue", &json!({"SecretId": "s", "SecretString": "x".repeat(65_536)})), Ok(()));
        // Blob lengths are decoded byte counts.
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7_u8; n]);
        assert_eq!(check("UpdateSecret", &json!({"SecretId": "s", "SecretBinary": b64(65_536)})), Ok(()));
        assert_eq!(
            validation("UpdateSecret", &json!({"SecretId": "s", "SecretBinary": b64(65_537)})),
            one(
                "Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to 65536"
            )
        );
        assert_eq!(
            validation("UpdateSecret", &json!({"SecretId": "s", "SecretBinary": ""})),
            one(
                "Value at 'secretBinary' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
        assert_eq!(
            validation("PutSecretValue", &json!({"SecretId": "s", "RotationToken": "bad_token"})),
            "2 validation errors detected: \
             Value at 'rotationToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\-]+$; \
             Value at 'rotationToken' failed to satisfy constraint: Member must have length greater than or equal to 36"
        );
        let token = "0b1c3e2a-5d7f-4c1e-9a8b-2f4d6e8a0c1b";
        assert_eq!(check("PutSecretValue", &json!({"SecretId": "s", "RotationToken": token})), Ok(()));
    }

    #[test]
    fn containers_of_sensitive_shapes_are_redacted() {
        let text = r#"{"operations":{"Op":"In"},"shapes":{
            "In":{"type":"structure","members":[["Items","List"]]},
            "List":{"type":"list","max":1,"member":"Item"},
            "Item":{"type":"structure","members":[["Secret","S"]]},
            "S":{"type":"string","sensitive":true}}}"#;
        let model = Model::parse(text).unwrap();
        assert_eq!(
            model.validate("Op", &json!({"Items": [{"Secret": "a"}, {"Secret": "b"}]})),
            Err(Invalid::Validation(one(
                "Value at 'items' failed to satisfy constraint: Member must have length less than or equal to 1"
            )))
        );
    }

    #[test]
    fn maps_are_type_checked_and_sized() {
        let text = r#"{"operations":{"Op":"In"},"shapes":{
            "In":{"type":"structure","members":[["Attrs","M"],["When","T"]]},
            "M":{"type":"map","max":1,"key":"K","value":"V"},
            "K":{"type":"string","min":3},
            "V":{"type":"integer","max":1},
            "T":{"type":"timestamp"}}}"#;
        let model = Model::parse(text).unwrap();
        assert_eq!(model.validate("Op", &json!({"Attrs": {"a": 5}, "When": 1.5})), Ok(()));
        assert_eq!(
            model.validate("Op", &json!({"Attrs": {"a": 1, "b": 2}})),
            Err(Invalid::Validation(one(
                "Value '{a=1, b=2}' at 'attrs' failed to satisfy constraint: Member must have length less than or equal to 1"
            )))
        );
        let serialization = |body: Value| model.validate("Op", &body).unwrap_err();
        assert_eq!(
            serialization(json!({"Attrs": {"a": "1"}})),
            Invalid::Serialization("STRING_VALUE can not be converted to an Integer".into())
        );
        assert_eq!(serialization(json!({"Attrs": 1})), Invalid::Serialization(EXPECTED_MAP.into()));
        assert_eq!(serialization(json!({"Attrs": []})), Invalid::Serialization(START_OF_LIST.into()));
        assert_eq!(
            serialization(json!({"When": "2020"})),
            Invalid::Serialization("STRING_VALUE can not be converted to a Date".into())
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        let model = model();
        let mut deep = json!("x");
        for _ in 0..1_000 {
            deep = json!([deep]);
        }
        let mut deep_object = json!({});
        for _ in 0..1_000 {
            deep_object = json!({"RotationRules": deep_object});
        }
        let bodies = [
            json!({"SecretId": deep.clone()}),
            json!({"SecretId": "s", "RotationRules": deep_object.clone()}),
            json!({"Filters": [{"Values": deep.clone()}]}),
            json!({"SecretId": "s", "Tags": [deep_object.clone()]}),
            json!({"PasswordLength": f64::MAX}),
            json!({"PasswordLength": i64::MIN}),
            json!({"SecretBinary": "\u{0}\u{ffff}", "Name": "\u{10ffff}"}),
            json!({"Name": "n", "SecretBinary": "===="}),
            json!({"Filters": [null, {}, {"Key": null, "Values": [null]}]}),
        ];
        for op in [
            "CreateSecret",
            "ListSecrets",
            "RotateSecret",
            "GetRandomPassword",
            "TagResource",
            "BatchGetSecretValue",
            "PutSecretValue",
        ] {
            for body in &bodies {
                let _ = model.validate(op, body);
            }
        }
    }

    #[test]
    fn invalid_exposes_its_message() {
        let error = check("GetSecretValue", &json!({})).unwrap_err();
        assert!(error.message().starts_with("1 validation error detected: "));
        assert!(error.to_string().starts_with("ValidationException: "));
        let error = check("GetSecretValue", &json!([])).unwrap_err();
        assert_eq!(error.message(), START_OF_LIST);
        assert_eq!(error.to_string(), format!("SerializationException: {START_OF_LIST}"));
    }

    #[test]
    fn violations_are_available_one_by_one() {
        let body = json!({"Description": "d".repeat(2049), "SecretString": ""});
        let found = model().violations("CreateSecret", &body).unwrap();
        let summary: Vec<(&str, &str, Option<usize>)> =
            found.iter().map(|v| (v.path.as_str(), v.rule.as_str(), v.shown.as_ref().map(String::len))).collect();
        assert_eq!(
            summary,
            [
                ("name", "not be null", None),
                ("description", "have length less than or equal to 2048", Some(2049)),
                ("secretString", "have length greater than or equal to 1", None),
            ]
        );
        assert!(model().violations("CreateSecret", &json!({"Name": 5})).is_err());
    }
}
