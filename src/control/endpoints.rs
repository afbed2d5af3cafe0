//! The control endpoints, in one table: the server finds an endpoint's body cap in it before
//! reading a body, `GET /_smemu/` lists it, and loading consults it. A test checks that
//! `route` serves exactly these.

use super::{BodyLimit, SMALL_BODY_BYTES};
use hyper::Method;

pub struct Endpoint {
    pub method: &'static str,
    /// The path; a last segment in braces (`{stage}`) stands for any one segment.
    pub path: &'static str,
    pub body: BodyLimit,
    /// Whether it answers while smemu loads its state; every other endpoint answers 503 then.
    pub while_loading: bool,
    pub description: &'static str,
}

const NONE: BodyLimit = BodyLimit::Bytes(0);
const SMALL: BodyLimit = BodyLimit::Bytes(SMALL_BODY_BYTES);

const fn endpoint(
    method: &'static str,
    path: &'static str,
    body: BodyLimit,
    while_loading: bool,
    description: &'static str,
) -> Endpoint {
    Endpoint { method, path, body, while_loading, description }
}

pub const ENDPOINTS: &[Endpoint] = &[
    endpoint("GET", "/_smemu", NONE, true, "this list of the control endpoints"),
    endpoint("GET", "/_smemu/health", NONE, true, "\"ready\" (200) once state has loaded, \"loading\" (503) before"),
    endpoint("HEAD", "/_smemu/health", NONE, true, "the health answer, headers only"),
    endpoint(
        "POST",
        "/_smemu/reset",
        SMALL,
        false,
        "forget the state of every world, or {\"account\"} or {\"account\",\"region\"}: secrets, schedules, rotation log; hooks and the clock stay",
    ),
    endpoint(
        "POST",
        "/_smemu/authorize",
        SMALL,
        false,
        "how a call would be decided: {\"caller\",\"action\",\"resource\",\"context\"} → the decision, the deciding statements, why others did not apply",
    ),
    endpoint("GET", "/_smemu/clock", NONE, false, "smemu's time, whether it is manual, and when work next falls due"),
    endpoint(
        "POST",
        "/_smemu/clock",
        SMALL,
        false,
        "move the clock forward, {\"advance\":\"7d\"} or {\"set\":\"<instant>\"}, running due work on the way",
    ),
    endpoint("GET", "/_smemu/state", NONE, false, "the whole state as JSON, secret values included"),
    endpoint("POST", "/_smemu/state", BodyLimit::StateImport, false, "replace the whole state with an export"),
    endpoint("GET", "/_smemu/hooks", NONE, false, "the rotation hooks"),
    endpoint("POST", "/_smemu/hooks", SMALL, false, "register (or replace) the rotation hook of a function ARN"),
    endpoint("DELETE", "/_smemu/hooks", NONE, false, "remove the hook of ?functionArn=<ARN>"),
    endpoint("GET", "/_smemu/faults", NONE, false, "the replication faults in force"),
    endpoint(
        "POST",
        "/_smemu/faults",
        SMALL,
        false,
        "make replication into a Region fail or lag: {\"region\",\"fail\":true|\"<message>\"} or {\"region\",\"lag\":\"10m\"}, optionally for one \"account\"",
    ),
    endpoint(
        "DELETE",
        "/_smemu/faults",
        NONE,
        false,
        "clear the faults (?region= one Region's); replicas catch up at once",
    ),
    endpoint("GET", "/_smemu/rotations", NONE, false, "the rotation log, oldest first; ?secretId= filters"),
    endpoint(
        "GET",
        "/_smemu/audit",
        NONE,
        false,
        "the audit trail, oldest first; ?eventName= ?eventSource= ?errorCode= ?username= ?resource= ?account= ?region= filter",
    ),
    endpoint("DELETE", "/_smemu/audit", NONE, false, "forget the audit trail kept (the --audit-log file stays)"),
    endpoint("GET", "/_localstack/health", NONE, true, "LocalStack's health shape"),
    endpoint("HEAD", "/_localstack/health", NONE, true, "LocalStack's health shape, headers only"),
    endpoint(
        "GET",
        "/_localstack/init",
        NONE,
        true,
        "the init scripts (--init-dir) and their states, as LocalStack reports them",
    ),
    endpoint(
        "GET",
        "/_localstack/init/{stage}",
        NONE,
        true,
        "one init stage (boot, start, ready, shutdown) and its scripts",
    ),
    endpoint("POST", "/moto-api/reset", SMALL, false, "moto's reset: the same as POST /_smemu/reset with no body"),
];

/// The endpoint serving `method path` (a trailing slash ignored).
#[must_use]
pub fn find(method: &Method, path: &str) -> Option<&'static Endpoint> {
    let path = path.trim_end_matches('/');
    ENDPOINTS.iter().find(|e| e.method == method.as_str() && matches(e.path, path))
}

fn matches(pattern: &str, path: &str) -> bool {
    match pattern.rsplit_once('/') {
        Some((parent, last)) if last.starts_with('{') && last.ends_with('}') => {
            path.rsplit_once('/').is_some_and(|(p, segment)| p == parent && !segment.is_empty())
        }
        _ => pattern == path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_exactly_or_by_one_segment() {
        assert!(find(&Method::GET, "/_smemu/").is_some());
        assert!(find(&Method::GET, "/_smemu").is_some());
        assert!(find(&Method::GET, "/_localstack/init/ready").is_some());
        assert!(find(&Method::GET, "/_localstack/init/ready/").is_some());
        assert!(find(&Method::GET, "/_localstack/init/ready/more").is_none());
        assert!(find(&Method::GET, "/_localstack/initx").is_none());
        assert!(find(&Method::POST, "/_localstack/init").is_none());
        assert!(find(&Method::GET, "/_smemu/healthz").is_none());
    }
}
