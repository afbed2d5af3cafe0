//! The audit trail: one CloudTrail-shaped record per call of every service on the port, and the
//! events Secrets Manager emits on its own, never with a secret value.
//!
//! - The pipeline fills a [`Call`] as it routes and answers a request (service, operation, what
//!   was sent, who called, how it ended) and hands it to [`Audit::finish`] once, after dispatch:
//!   successes, failures and refusals alike.
//! - Secrets Manager's own events (rotation, deletion windows) come from where they happen,
//!   through [`Audit::service_event`]; the KMS calls it makes for a caller, through
//!   [`Audit::kms_for_secrets_manager`].
//! - [`record`] keeps what a record says as text and writes its JSON when something reads it
//!   (most records never are); [`trail`] keeps it (a bounded ring, the `--audit-log` file, the
//!   data directory's trail file).
//!
//! What a record never holds: `SecretString`, `SecretBinary`, `RotationToken`, a KMS plaintext
//! or ciphertext, a generated password, credentials (see [`record::never_recorded`]), nor any
//! member the service's model marks sensitive. Answers of reads are never looked at.

pub mod record;
pub mod trail;

pub use record::{Event, Identity, Named, Source};

use crate::access_log::Subject;
use crate::auth::Caller;
use crate::clock::Clock;
use crate::error::{ApiError, ErrorCode};
use crate::protocol::validate::Model;
use http::HeaderMap;
use record::Draft;
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;

/// Events kept in memory unless `--audit-retain` says otherwise.
pub const DEFAULT_RETAIN: usize = 10_000;

/// The audit trail of one smemu.
pub struct Audit {
    enabled: bool,
    clock: Arc<Clock>,
    trail: trail::Trail,
    /// How many versions a secret (account, region, ARN) has: Secrets Manager's deletion events
    /// are one per version.
    versions: std::sync::OnceLock<VersionCount>,
}

/// See [`Audit::count_versions_with`].
pub type VersionCount = Box<dyn Fn(&str, &str, &str) -> usize + Send + Sync>;

impl Audit {
    #[must_use]
    pub fn new(enabled: bool, retain: usize, clock: Arc<Clock>) -> Self {
        Self { enabled, clock, trail: trail::Trail::new(retain), versions: std::sync::OnceLock::new() }
    }

    /// Where the follow-up events of DeleteSecret and RestoreSecret (one per version) learn how
    /// many versions the secret has; without it, one event each.
    pub fn count_versions_with(&self, count: VersionCount) {
        let _ = self.versions.set(count);
    }

    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The trail itself: LookupEvents and the control API read it.
    #[must_use]
    pub fn trail(&self) -> &trail::Trail {
        &self.trail
    }

    /// `--audit-log FILE`.
    ///
    /// # Errors
    /// The file cannot be opened for appending.
    pub fn open_log(&self, path: &std::path::Path) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        self.trail.open_log(path)
    }

    /// Keeps the trail in `dir` (with `--data-dir`), after loading what it kept there.
    ///
    /// # Errors
    /// The trail file cannot be read or rewritten.
    pub fn open_dir(&self, dir: &std::path::Path) -> Result<usize, String> {
        if !self.enabled {
            return Ok(0);
        }
        self.trail.open_dir(dir)
    }

    fn push(&self, draft: Draft<'_>) {
        self.trail.push(draft.into_event(self.clock.now()));
    }

    /// A new call's draft, from its connection and headers.
    #[must_use]
    pub fn begin(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Call {
        if !self.enabled {
            return Call::default();
        }
        let user_agent = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Call { on: true, source_ip: peer, user_agent, routed: None }
    }

    /// Records the call the pipeline answered (nothing for one no operation was found for).
    pub fn finish(&self, call: Call, request_id: Option<&str>) {
        let Some(routed) = call.routed else { return };
        let source_ip = peer_text(call.source_ip);
        let default_account = crate::config::DEFAULT_ACCOUNT;
        let identity = match (&routed.caller, &routed.refused) {
            (Some(caller), _) => Identity::Caller(caller),
            (None, refused) => Identity::Refused {
                account: refused.as_ref().and_then(|r| r.account.as_deref()).unwrap_or(default_account),
                access_key_id: refused.as_ref().and_then(|r| r.access_key_id.as_deref()),
            },
        };
        let region = routed
            .caller
            .as_ref()
            .map(|c| c.region.as_str())
            .or_else(|| routed.refused.as_ref().and_then(|r| r.region.as_deref()))
            .unwrap_or(crate::config::DEFAULT_REGION);
        let request_id = request_id.unwrap_or_default();
        let follow = routed.follow_up();
        self.push(Draft {
            source: routed.source,
            name: routed.operation.into(),
            service_event: false,
            identity,
            region,
            source_ip: &source_ip,
            user_agent: call.user_agent.as_deref(),
            error: routed.error.as_ref().map(|(code, message)| (*code, message.as_str())),
            request_parameters: routed.parameters.as_deref().map(record::Elements::Json),
            response_elements: routed.response,
            additional: None,
            request_id,
            read_only: routed.read_only,
            resources: Named::List(&routed.resources),
        });
        if let (Some((name, arn)), Some(caller)) = (follow, &routed.caller) {
            let versions = self.versions.get().map_or(1, |count| count(&caller.account_id, &caller.region, &arn));
            for _ in 0..versions.max(1) {
                self.service_event(&caller.account_id, &caller.region, name, &arn, None);
            }
        }
    }

    /// One of Secrets Manager's own events about the secret `arn` (rotation, deletion windows),
    /// with the shape of the RotationFailed sample: no `type` in `userIdentity`, the ARN in
    /// `additionalEventData.SecretId`, the failure only in `errorMessage`.
    pub fn service_event(&self, account: &str, region: &str, name: &str, arn: &str, error: Option<&str>) {
        if !self.enabled {
            return;
        }
        self.secrets_manager_event(account, region, name, serde_json::json!({ "SecretId": arn }), arn, error);
    }

    /// Secrets Manager copying a primary to one of its replicas (`ReplicationStarted`,
    /// `ReplicationSucceeded`, `ReplicationFailed`), recorded where the primary is. The names and
    /// shape are not documented: the rotation events' skeleton, with the replica's ARN (its
    /// Region, and its account for a cross-account replica) in `additionalEventData`.
    pub fn replication_event(&self, event: &Replication<'_>) {
        if !self.enabled {
            return;
        }
        let additional = serde_json::json!({ "SecretId": event.primary_arn, "ReplicaSecretARN": event.replica_arn });
        let name = match event.step {
            ReplicationStep::Started => "ReplicationStarted",
            ReplicationStep::Succeeded => "ReplicationSucceeded",
            ReplicationStep::Failed(_) => "ReplicationFailed",
        };
        let error = match event.step {
            ReplicationStep::Failed(message) => Some(message),
            _ => None,
        };
        self.secrets_manager_event(event.account, event.region, name, additional, event.primary_arn, error);
    }

    fn secrets_manager_event(
        &self,
        account: &str,
        region: &str,
        name: &str,
        additional: Value,
        arn: &str,
        error: Option<&str>,
    ) {
        let request_id = if name.contains("Rotation") {
            format!("Rotation-{arn}-{}", uuid::Uuid::new_v4())
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        self.push(Draft {
            source: Source::SecretsManager,
            name: name.to_owned().into(),
            service_event: true,
            identity: Identity::Service { account, by: record::SECRETS_MANAGER_PRINCIPAL },
            region,
            source_ip: record::SECRETS_MANAGER_PRINCIPAL,
            user_agent: Some(record::SECRETS_MANAGER_PRINCIPAL),
            error: error.map(|message| ("", message)),
            request_parameters: None,
            response_elements: None,
            additional: Some(additional),
            request_id: &request_id,
            read_only: false,
            resources: Named::One(arn),
        });
    }

    /// KMS's own `DeleteKey` when a key's deletion window ends: a service event with the key in
    /// `resources`, as KMS records the deletion it completes.
    pub fn key_deleted(&self, account: &str, region: &str, key_arn: &str) {
        if !self.enabled {
            return;
        }
        self.push(Draft {
            source: Source::Kms,
            name: "DeleteKey".into(),
            service_event: true,
            identity: Identity::Service { account, by: record::KMS_PRINCIPAL },
            region,
            source_ip: record::KMS_PRINCIPAL,
            user_agent: Some(record::KMS_PRINCIPAL),
            error: None,
            request_parameters: None,
            response_elements: None,
            additional: None,
            request_id: &uuid::Uuid::new_v4().to_string(),
            read_only: false,
            resources: Named::One(key_arn),
        });
    }

    /// A KMS call Secrets Manager made for a value of a secret (GenerateDataKey on a write,
    /// Decrypt on a read): recorded as a KMS event of the acting caller, invoked by
    /// `secretsmanager.amazonaws.com`, with the key, the encryption context and the outcome,
    /// never the data key.
    pub fn kms_for_secrets_manager(&self, acting: Acting<'_>, call: KmsCall<'_>) {
        if !self.enabled {
            return;
        }
        let generate = call.operation == "GenerateDataKey";
        let parameters = record::KmsParameters {
            key_id: call.key_arn,
            encryption_context: call.context,
            key_spec: generate.then_some("AES_256"),
            encryption_algorithm: (!generate).then_some("SYMMETRIC_DEFAULT"),
        };
        let mut id = uuid::Uuid::encode_buffer();
        let request_id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut id);
        let identity = match acting.caller {
            Some(caller) => Identity::Via(caller),
            None => Identity::ViaAccount(acting.account),
        };
        self.push(Draft {
            source: Source::Kms,
            name: call.operation.into(),
            service_event: false,
            identity,
            region: acting.region,
            source_ip: record::SECRETS_MANAGER_PRINCIPAL,
            user_agent: Some(record::SECRETS_MANAGER_PRINCIPAL),
            error: call.error,
            request_parameters: Some(record::Elements::Kms(parameters)),
            response_elements: None,
            additional: None,
            request_id,
            read_only: true,
            resources: call.key_arn.map_or(Named::Nothing, Named::One),
        });
    }
}

/// One step of a copy to a replica, for [`Audit::replication_event`].
#[derive(Clone, Copy, Debug)]
pub struct Replication<'a> {
    /// Where the primary is: the event is recorded there.
    pub account: &'a str,
    pub region: &'a str,
    pub primary_arn: &'a str,
    pub replica_arn: &'a str,
    pub step: ReplicationStep<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicationStep<'a> {
    Started,
    Succeeded,
    /// With the status message the replica now reports.
    Failed(&'a str),
}

thread_local! {
    /// The last peer address written out on this thread: a client sends many calls from one.
    static PEER: std::cell::RefCell<Option<(IpAddr, std::rc::Rc<str>)>> = const { std::cell::RefCell::new(None) };
}

/// `sourceIPAddress` of a call from `peer` (loopback when the connection gave none).
fn peer_text(peer: Option<IpAddr>) -> std::rc::Rc<str> {
    let ip = peer.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    PEER.with(|last| {
        let mut last = last.borrow_mut();
        match last.as_ref() {
            Some((known, text)) if *known == ip => text.clone(),
            _ => {
                let text: std::rc::Rc<str> = ip.to_string().into();
                *last = Some((ip, text.clone()));
                text
            }
        }
    })
}

/// For whom Secrets Manager calls KMS.
#[derive(Clone, Copy, Debug)]
pub struct Acting<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// The caller of the Secrets Manager request, when there is one (not for a rotation's own
    /// reads, say).
    pub caller: Option<&'a Caller>,
}

impl<'a> Acting<'a> {
    #[must_use]
    pub fn account(account: &'a str, region: &'a str) -> Self {
        Self { account, region, caller: None }
    }
}

impl<'a> From<&'a Caller> for Acting<'a> {
    fn from(caller: &'a Caller) -> Self {
        Self { account: &caller.account_id, region: &caller.region, caller: Some(caller) }
    }
}

/// One of the typed KMS calls Secrets Manager makes.
pub struct KmsCall<'a> {
    /// `GenerateDataKey` or `Decrypt`.
    pub operation: &'static str,
    pub key_arn: Option<&'a str>,
    pub context: &'a [(String, String)],
    /// The KMS error code and message of a failed call.
    pub error: Option<(&'a str, &'a str)>,
}

/// What a refused request said about its caller.
#[derive(Debug, Default)]
struct Refused {
    access_key_id: Option<String>,
    account: Option<String>,
    region: Option<String>,
}

#[derive(Debug)]
struct Routed {
    source: Source,
    operation: &'static str,
    read_only: bool,
    /// `requestParameters`, as JSON text.
    parameters: Option<String>,
    /// DeleteSecret's `ForceDeleteWithoutRecovery`: no deletion window starts.
    forced: bool,
    resources: Vec<String>,
    caller: Option<Arc<Caller>>,
    refused: Option<Refused>,
    error: Option<(&'static str, String)>,
    response: Option<Value>,
}

impl Routed {
    /// The service event a successful call sets off: a deletion window starting or cancelled.
    fn follow_up(&self) -> Option<(&'static str, String)> {
        if self.error.is_some() || self.source != Source::SecretsManager {
            return None;
        }
        let name = match self.operation {
            "DeleteSecret" if self.forced => return None,
            "DeleteSecret" => "StartSecretVersionDelete",
            "RestoreSecret" => "CancelSecretVersionDelete",
            _ => return None,
        };
        let arn = self.response.as_ref()?.get("arn")?.as_str()?.to_owned();
        Some((name, arn))
    }
}

/// What the pipeline learns of one request, for its record. Every method does nothing while
/// auditing is off.
#[derive(Debug, Default)]
pub struct Call {
    on: bool,
    source_ip: Option<IpAddr>,
    user_agent: Option<String>,
    routed: Option<Routed>,
}

/// The CloudTrail error code of an answer: refusals are `AccessDenied`, as CloudTrail writes them.
#[must_use]
pub fn error_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::AccessDeniedException => "AccessDenied",
        other => other.as_str(),
    }
}

impl Call {
    /// The request is a JSON call of `operation`, with `input`; `model` says which members
    /// stay out of the record.
    pub fn route(
        &mut self,
        source: Source,
        operation: &'static str,
        input: &Value,
        model: &Model,
        subject: Subject<'_>,
    ) {
        if !self.on {
            return;
        }
        let parameters = record::parameters_text(input, |member| model.is_unrecorded_member(operation, member));
        let forced = input.get("ForceDeleteWithoutRecovery").and_then(Value::as_bool).unwrap_or(false);
        let resources = match subject {
            Subject::None => Vec::new(),
            Subject::One(id) => vec![id.to_owned()],
            Subject::List(ids) => ids.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        };
        self.routed = Some(Routed {
            source,
            operation,
            read_only: source.read_only(operation),
            parameters,
            forced,
            resources,
            caller: None,
            refused: None,
            error: None,
            response: None,
        });
    }

    /// The request is a query-protocol call (STS) with these parameters.
    pub fn route_query(&mut self, source: Source, operation: &'static str, params: &[(&str, Option<&str>)]) {
        if !self.on {
            return;
        }
        let members: serde_json::Map<String, Value> = params
            .iter()
            .filter(|(name, _)| !record::never_recorded(name))
            .filter_map(|(name, value)| value.map(|v| (record::lower_camel(name), Value::String(v.to_owned()))))
            .collect();
        let resources = params.iter().find(|(n, _)| *n == "RoleArn").and_then(|(_, v)| *v).map(str::to_owned);
        self.routed = Some(Routed {
            source,
            operation,
            read_only: source.read_only(operation),
            parameters: (!members.is_empty()).then(|| Value::Object(members).to_string()),
            forced: false,
            resources: resources.into_iter().collect(),
            caller: None,
            refused: None,
            error: None,
            response: None,
        });
    }

    /// The request is a Lambda REST call of `operation` on `function` (from its path), with
    /// its JSON body: the members sent, without the package (`ZipFile`) or the environment's
    /// values, and never an invocation's payload.
    pub fn route_lambda(&mut self, operation: &'static str, function: Option<&str>, body: Option<&Value>) {
        if !self.on {
            return;
        }
        let mut members = match body.and_then(|b| record::parameters(b, |member| member == "ZipFile")) {
            Some(Value::Object(members)) => members,
            _ => serde_json::Map::new(),
        };
        if let Some(Value::Object(code)) = members.get_mut("code") {
            code.remove("zipFile");
        }
        if let Some(Value::Object(environment)) = members.get_mut("environment") {
            environment.remove("variables");
        }
        if let Some(function) = function {
            members.insert("functionName".to_owned(), Value::String(function.to_owned()));
        }
        self.routed = Some(Routed {
            source: Source::Lambda,
            operation,
            read_only: Source::Lambda.read_only(operation),
            parameters: (!members.is_empty()).then(|| Value::Object(members).to_string()),
            forced: false,
            resources: function.map(str::to_owned).into_iter().collect(),
            caller: None,
            refused: None,
            error: None,
            response: None,
        });
    }

    /// Who the request runs as.
    pub fn caller(&mut self, caller: &Arc<Caller>) {
        if let Some(routed) = &mut self.routed {
            routed.caller = Some(Arc::clone(caller));
        }
    }

    /// Authentication refused the request: what its credential said, as sent. A key smemu knows
    /// places the record in its owner's account (a bad signature, an expired token).
    pub fn refused(&mut self, headers: &HeaderMap, uri: &http::Uri, known: &crate::auth::CredentialStore) {
        let Some(routed) = &mut self.routed else { return };
        let credential = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|auth| auth.split("Credential=").nth(1))
            .map(|rest| rest.split([',', ' ']).next().unwrap_or_default().to_owned())
            .or_else(|| {
                uri.query().and_then(|q| {
                    crate::auth::sigv4::parse_query_pairs(q, true)
                        .into_iter()
                        .find(|(k, _)| k == "X-Amz-Credential")
                        .map(|(_, v)| v)
                })
            });
        let mut refused = Refused::default();
        if let Some(credential) = credential {
            let mut parts = credential.split('/');
            let key = parts.next().unwrap_or_default();
            if !key.is_empty() && key.len() <= 128 {
                refused.access_key_id = Some(key.to_owned());
                refused.account = match known.lookup(key) {
                    Some(credential) => Some(credential.account_id.clone()),
                    None => crate::auth::is_account_id(key).then(|| key.to_owned()),
                };
            }
            refused.region = parts.nth(1).filter(|r| crate::auth::is_region_like(r)).map(str::to_owned);
        }
        routed.refused = Some(refused);
    }

    /// How a JSON call ended: its error, or for a mutation what it answered.
    pub fn outcome(&mut self, outcome: &Result<Option<Vec<u8>>, ApiError>) {
        let Some(routed) = &mut self.routed else { return };
        match outcome {
            Err(err) => routed.error = Some((error_code(err.code), err.message.clone().into_owned())),
            Ok(Some(body)) if !routed.read_only => routed.response = record::response_elements(body),
            Ok(_) => {}
        }
    }

    /// How a query-protocol call ended: its error code, if any.
    pub fn query_outcome(&mut self, code: Option<&'static str>, message: Option<&str>) {
        let Some(routed) = &mut self.routed else { return };
        if let Some(code) = code {
            let code = if code == "AccessDenied" || code == "AccessDeniedException" { "AccessDenied" } else { code };
            routed.error = Some((code, message.unwrap_or_default().to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    fn audit() -> Audit {
        Audit::new(true, 3, Arc::new(Clock::manual(Timestamp::from_secs(1_767_225_600))))
    }

    fn caller() -> Caller {
        Caller {
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            access_key_id: Some("AKIAEXAMPLE".into()),
            principal_arn: "arn:aws:iam::111122223333:user/alice".into(),
            user_id: "AIDAEXAMPLE".into(),
            session_policy: None,
        }
    }

    #[test]
    fn a_call_is_recorded_once_with_its_error_and_without_its_value() {
        let audit = audit();
        let mut call = audit.begin(None, &HeaderMap::new());
        let input = serde_json::json!({"SecretId": "db", "SecretString": "hunter2-distinct"});
        call.route(Source::SecretsManager, "PutSecretValue", &input, &Model::embedded(), Subject::One("db"));
        call.caller(&Arc::new(caller()));
        call.outcome(&Err(crate::api_error!(AccessDeniedException, "no")));
        audit.finish(call, Some("req-1"));
        let events = audit.trail().events();
        assert_eq!(events.len(), 1);
        let record: Value = serde_json::from_str(&events[0].record()).unwrap();
        assert_eq!(record["errorCode"], "AccessDenied");
        assert_eq!(record["requestID"], "req-1");
        assert_eq!(record["requestParameters"], serde_json::json!({"secretId": "db"}));
        assert!(!events[0].record().contains("hunter2"));
    }

    #[test]
    fn nothing_is_recorded_while_auditing_is_off_or_for_an_unrouted_request() {
        let off = Audit::new(false, 3, Arc::new(Clock::manual(Timestamp::from_secs(0))));
        let mut call = off.begin(None, &HeaderMap::new());
        call.route(Source::Kms, "ListKeys", &serde_json::json!({}), &Model::kms(), Subject::None);
        off.finish(call, None);
        off.service_event("1", "r", "RotationStarted", "arn", None);
        assert!(off.trail().is_empty());
        let on = audit();
        on.finish(on.begin(None, &HeaderMap::new()), None);
        assert!(on.trail().is_empty());
    }

    #[test]
    fn the_ring_keeps_the_newest_events() {
        let audit = audit();
        for i in 0..5 {
            audit.service_event("111122223333", "eu-west-1", "RotationStarted", &format!("arn:{i}"), None);
        }
        let kept: Vec<u64> = audit.trail().events().iter().map(|e| e.seq).collect();
        assert_eq!(kept, [2, 3, 4]);
    }

    #[test]
    fn a_deletion_window_starts_with_a_service_event() {
        let audit = audit();
        let mut call = audit.begin(None, &HeaderMap::new());
        call.route(
            Source::SecretsManager,
            "DeleteSecret",
            &serde_json::json!({"SecretId": "db"}),
            &Model::embedded(),
            Subject::One("db"),
        );
        call.caller(&Arc::new(caller()));
        call.outcome(&Ok(Some(
            br#"{"ARN":"arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-a1b2c3","Name":"db"}"#.to_vec(),
        )));
        audit.finish(call, Some("req"));
        let names: Vec<String> = audit.trail().events().iter().map(|e| e.name.to_string()).collect();
        assert_eq!(names, ["DeleteSecret", "StartSecretVersionDelete"]);
        let service: Value = serde_json::from_str(&audit.trail().events()[1].record()).unwrap();
        assert_eq!(service["eventType"], "AwsServiceEvent");
        assert_eq!(
            service["additionalEventData"]["SecretId"],
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-a1b2c3"
        );
        assert!(service["userIdentity"].get("type").is_none());
    }
}
