//! AWS CloudTrail on the same port, as far as reading the trail goes: `LookupEvents` (JSON 1.1,
//! `X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`, SigV4
//! service `cloudtrail`) over the events [`crate::audit`] recorded, scoped to the caller's account
//! and region, newest first. Every other operation of the model is `UnknownOperationException`.

use crate::audit::Event;
use crate::clock::{MILLIS_PER_DAY, Timestamp};
use crate::error::{ApiError, ErrorCode};
use crate::protocol::validate::Invalid;
use crate::services::secretsmanager::ops::Ctx;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The `X-Amz-Target` prefix of every CloudTrail operation, as botocore and the CLI send it.
pub const TARGET_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";
/// The same, as the SDKs generated from the Smithy model send it (the service shape's name).
pub const SHORT_TARGET_PREFIX: &str = "CloudTrail_20131101.";

/// Whether a request's `X-Amz-Target` names a CloudTrail operation.
#[must_use]
pub fn targets(headers: &http::HeaderMap) -> bool {
    crate::protocol::targets(headers, TARGET_PREFIX) || crate::protocol::targets(headers, SHORT_TARGET_PREFIX)
}

/// The CloudTrail operation a request names.
///
/// # Errors
/// `UnknownOperationException` when its `X-Amz-Target` names none.
pub fn operation(headers: &http::HeaderMap) -> Result<&str, ApiError> {
    let prefix = if crate::protocol::targets(headers, TARGET_PREFIX) { TARGET_PREFIX } else { SHORT_TARGET_PREFIX };
    crate::protocol::target_of(headers, prefix)
}
/// The SigV4 signing name of CloudTrail requests.
pub const SIGNING_NAME: &str = "cloudtrail";
/// The one operation served.
pub const LOOKUP_EVENTS: &str = "LookupEvents";

/// How far back LookupEvents looks, as CloudTrail's event history does.
const HISTORY_DAYS: i64 = 90;
const DEFAULT_MAX_RESULTS: i64 = 50;

// CloudTrail's texts for these are not documented; each is worded once, here.
const ONE_ATTRIBUTE: &str = "You can specify at most one lookup attribute.";
const TIME_RANGE: &str = "The start time must not be later than the end time.";
const MAX_RESULTS: &str = "MaxResults must be between 1 and 50.";
const NEXT_TOKEN: &str = "The NextToken is not valid; use it only with the parameters of the request that returned it.";
const EVENT_CATEGORY: &str = "The only supported EventCategory is insight.";

/// Answers `operation`'s request `input` for the caller in `ctx`.
///
/// # Errors
/// The modelled LookupEvents errors, `ValidationException`/`SerializationException` from the
/// model, `UnknownOperationException` for every other operation.
pub fn dispatch(ctx: &Ctx<'_>, operation: &str, input: &Value) -> Result<Option<Vec<u8>>, ApiError> {
    if operation != LOOKUP_EVENTS {
        return Err(ApiError::unknown_operation());
    }
    let query = Query::parse(input)?;
    ctx.app.cloudtrail_model.validate(LOOKUP_EVENTS, input).map_err(|invalid| match invalid {
        Invalid::Serialization(m) => ApiError::new(ErrorCode::SerializationException, m),
        Invalid::Validation(m) => ApiError::new(ErrorCode::ValidationException, m),
    })?;
    let body = lookup(ctx, &query)?;
    Ok(Some(serde_json::to_vec(&body).unwrap_or_default()))
}

/// A LookupEvents request, checked.
struct Query {
    attribute: Option<(String, String)>,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    insight: bool,
    max_results: usize,
    after: Option<u64>,
    /// What a NextToken must have been issued for.
    fingerprint: u64,
}

fn epoch(value: Option<&Value>) -> Option<Timestamp> {
    let secs = value?.as_f64()?;
    #[allow(clippy::cast_possible_truncation)]
    let millis = (secs * 1000.0).clamp(i64::MIN as f64, i64::MAX as f64) as i64;
    Some(Timestamp(millis))
}

impl Query {
    fn parse(input: &Value) -> Result<Self, ApiError> {
        let fail = |code, text: &'static str| ApiError::new(code, text);
        let max_results = match input.get("MaxResults").and_then(Value::as_i64) {
            Some(n) if !(1..=50).contains(&n) => return Err(fail(ErrorCode::InvalidMaxResultsException, MAX_RESULTS)),
            Some(n) => n,
            None => DEFAULT_MAX_RESULTS,
        };
        let attributes = input.get("LookupAttributes").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        if attributes.len() > 1 {
            return Err(fail(ErrorCode::InvalidLookupAttributesException, ONE_ATTRIBUTE));
        }
        let attribute = attributes.first().and_then(|a| {
            let text = |key: &str| a.get(key).and_then(Value::as_str).map(str::to_owned);
            text("AttributeKey").zip(text("AttributeValue"))
        });
        let insight = match input.get("EventCategory") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) if s == "insight" => true,
            Some(Value::String(_)) => return Err(fail(ErrorCode::InvalidEventCategoryException, EVENT_CATEGORY)),
            Some(_) => false,
        };
        let (start, end) = (epoch(input.get("StartTime")), epoch(input.get("EndTime")));
        if let (Some(start), Some(end)) = (start, end)
            && start > end
        {
            return Err(fail(ErrorCode::InvalidTimeRangeException, TIME_RANGE));
        }
        let fingerprint = fingerprint(&[
            input.get("LookupAttributes"),
            input.get("StartTime"),
            input.get("EndTime"),
            input.get("EventCategory"),
        ]);
        let after = match input.get("NextToken").and_then(Value::as_str) {
            None => None,
            Some(token) => Some(
                read_token(token, fingerprint).ok_or_else(|| fail(ErrorCode::InvalidNextTokenException, NEXT_TOKEN))?,
            ),
        };
        Ok(Self {
            attribute,
            start,
            end,
            insight,
            max_results: usize::try_from(max_results).unwrap_or(50),
            after,
            fingerprint,
        })
    }

    fn keeps(&self, event: &Event, account: &str, region: &str, oldest: Timestamp) -> bool {
        if event.account() != account || event.region() != region || event.time < oldest {
            return false;
        }
        if self.start.is_some_and(|s| event.time < s) || self.end.is_some_and(|e| event.time > e) {
            return false;
        }
        let Some((key, value)) = &self.attribute else { return true };
        match key.as_str() {
            "EventId" => event.id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()) == value.as_str(),
            "EventName" => event.name == *value,
            "ReadOnly" => (if event.read_only { "true" } else { "false" }) == value,
            "Username" => event.username() == Some(value),
            "ResourceType" => event.resource_type() == Some(value.as_str()),
            "ResourceName" => event.resources().any(|r| r == value),
            "EventSource" => event.source.event_source() == value,
            "AccessKeyId" => event.access_key_id() == Some(value),
            _ => false,
        }
    }
}

/// FNV-1a of the parameters a NextToken is bound to.
fn fingerprint(values: &[Option<&Value>]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for value in values {
        let text = value.map(Value::to_string).unwrap_or_default();
        for byte in text.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn make_token(seq: u64, fingerprint: u64) -> String {
    STANDARD.encode(format!("{seq}.{fingerprint:016x}"))
}

fn read_token(token: &str, fingerprint: u64) -> Option<u64> {
    let text = String::from_utf8(STANDARD.decode(token).ok()?).ok()?;
    let (seq, bound) = text.split_once('.')?;
    (u64::from_str_radix(bound, 16).ok()? == fingerprint).then_some(())?;
    seq.parse().ok()
}

fn lookup(ctx: &Ctx<'_>, query: &Query) -> Result<Value, ApiError> {
    if query.insight {
        // smemu has no Insights events.
        return Ok(json!({ "Events": [] }));
    }
    let oldest = ctx.app.engine.now().plus_millis(-HISTORY_DAYS * MILLIS_PER_DAY);
    let trail = ctx.app.audit.trail();
    let mut found =
        trail.newest_first(query.after, |e| query.keeps(e, ctx.account, ctx.region, oldest), query.max_results + 1);
    let more = found.len() > query.max_results;
    found.truncate(query.max_results);
    let events: Vec<Value> = found.iter().map(|e| listed(e)).collect();
    let mut body = json!({ "Events": events });
    if more && let Some(last) = found.last() {
        body["NextToken"] = Value::String(make_token(last.seq, query.fingerprint));
    }
    Ok(body)
}

/// One event as LookupEvents lists it.
fn listed(event: &Event) -> Value {
    let resources: Vec<Value> =
        event.resources().map(|name| json!({ "ResourceType": event.resource_type(), "ResourceName": name })).collect();
    let mut out = json!({
        "EventId": event.id.hyphenated().to_string(),
        "EventName": event.name,
        "ReadOnly": if event.read_only { "true" } else { "false" },
        "EventTime": event.time.epoch_seconds(),
        "EventSource": event.source.event_source(),
        "Resources": resources,
        "CloudTrailEvent": event.record(),
    });
    if let Some(key) = event.access_key_id() {
        out["AccessKeyId"] = Value::String(key.to_owned());
    }
    if let Some(user) = event.username() {
        out["Username"] = Value::String(user.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_token_is_bound_to_its_parameters() {
        let token = make_token(42, 7);
        assert_eq!(read_token(&token, 7), Some(42));
        assert_eq!(read_token(&token, 8), None);
        assert_eq!(read_token("not base64!", 7), None);
    }

    #[test]
    fn requests_are_checked_with_cloudtrails_errors() {
        let code = |input: Value| Query::parse(&input).err().map(|e| e.code);
        assert_eq!(code(json!({"MaxResults": 51})), Some(ErrorCode::InvalidMaxResultsException));
        assert_eq!(code(json!({"MaxResults": 0})), Some(ErrorCode::InvalidMaxResultsException));
        assert_eq!(
            code(json!({"LookupAttributes": [
                {"AttributeKey": "EventName", "AttributeValue": "a"},
                {"AttributeKey": "EventName", "AttributeValue": "b"}]})),
            Some(ErrorCode::InvalidLookupAttributesException)
        );
        assert_eq!(code(json!({"StartTime": 10, "EndTime": 5})), Some(ErrorCode::InvalidTimeRangeException));
        assert_eq!(code(json!({"EventCategory": "management"})), Some(ErrorCode::InvalidEventCategoryException));
        assert_eq!(code(json!({"NextToken": "bogus"})), Some(ErrorCode::InvalidNextTokenException));
        assert_eq!(code(json!({"StartTime": 5, "EndTime": 5, "MaxResults": 50})), None);
    }
}
