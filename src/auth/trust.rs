//! Role trust policies: who may call `sts:AssumeRole` on a role.
//!
//! A trust policy is a resource policy on the role, read and evaluated by the policy engine
//! ([`crate::iam::policy`]) with its whole language: principals (a caller's ARN, its account as
//! `"111122223333"` or `arn:aws:iam::111122223333:root`, a role for its sessions, `"*"`),
//! `NotPrincipal`, `NotAction`, conditions. Here the trust policy alone decides, as AssumeRole
//! asks it: an applying `Deny` wins, otherwise an applying `Allow` is needed. The account root
//! gets no pass: it must be named like anyone else.

use serde_json::Value;

use crate::iam::policy::{self, Context, Named, Policy, PolicySet, Principal, Request, ResourceKind};

/// What a trust policy says about one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allows the caller.
    ImplicitDeny,
    /// A `Deny` statement names the caller.
    ExplicitDeny,
}

/// The caller a trust policy is asked about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// `arn:aws:iam::<account>:user/<name>`, `...:root`, or
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub principal_arn: &'a str,
    pub account_id: &'a str,
}

/// A parsed trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    policy: Policy,
}

impl TrustPolicy {
    /// Reads a policy given as a JSON document or as its text (plain JSON, or
    /// URL-encoded JSON as IAM's API returns `AssumeRolePolicyDocument`).
    pub fn from_value(value: &Value) -> Result<Self, String> {
        Self::checked(Policy::from_value(value))
    }

    /// Reads a policy from its text: plain JSON, or URL-encoded JSON.
    pub fn from_text(text: &str) -> Result<Self, String> {
        Self::checked(Policy::parse(text))
    }

    fn checked(parsed: Result<Policy, policy::PolicyError>) -> Result<Self, String> {
        let policy = parsed.map_err(|e| e.detail)?;
        policy.check_resource().map_err(|e| e.detail)?;
        Ok(Self { policy })
    }

    /// The policy, for callers that evaluate it with more context than [`Self::evaluate`].
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What the policy says about `subject` performing `action`, with no condition keys.
    pub fn evaluate(&self, action: &str, subject: Subject<'_>) -> Decision {
        self.evaluate_in(action, subject, &Context::new())
    }

    /// What the policy says about `subject` performing `action` in `context`
    /// (`sts:ExternalId`, `aws:SourceIp` ...).
    pub fn evaluate_in(&self, action: &str, subject: Subject<'_>, context: &Context) -> Decision {
        let mut principal = Principal::from_arn(subject.principal_arn, "");
        principal.account = subject.account_id.to_string();
        let request = Request { principal: &principal, action, resource: None, resource_account: None, context };
        let set = PolicySet {
            resource: Some(Named::new("trust policy", &self.policy)),
            resource_kind: ResourceKind::Trust,
            ..PolicySet::default()
        };
        match policy::decide(&request, &set).decision {
            policy::Decision::Allow => Decision::Allow,
            policy::Decision::ImplicitDeny => Decision::ImplicitDeny,
            policy::Decision::ExplicitDeny => Decision::ExplicitDeny,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ASSUME: &str = "sts:AssumeRole";
    const ALICE: Subject<'static> =
        Subject { principal_arn: "arn:aws:iam::111111111111:user/alice", account_id: "111111111111" };
    const ROOT: Subject<'static> =
        Subject { principal_arn: "arn:aws:iam::111111111111:root", account_id: "111111111111" };
    const OTHER: Subject<'static> =
        Subject { principal_arn: "arn:aws:iam::222222222222:user/bob", account_id: "222222222222" };
    const SESSION: Subject<'static> =
        Subject { principal_arn: "arn:aws:sts::111111111111:assumed-role/builder/ci", account_id: "111111111111" };

    fn allow(principal: Value) -> TrustPolicy {
        TrustPolicy::from_value(&json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]
        }))
        .unwrap()
    }

    #[test]
    fn principals_that_name_the_caller() {
        let alice_only = allow(json!({"AWS": "arn:aws:iam::111111111111:user/alice"}));
        assert_eq!(alice_only.evaluate(ASSUME, ALICE), Decision::Allow);
        for principal in [
            json!({"AWS": "111111111111"}),
            json!({"AWS": "arn:aws:iam::111111111111:root"}),
            json!({"AWS": ["arn:aws:iam::999999999999:root", "111111111111"]}),
            json!({"AWS": "*"}),
            json!("*"),
        ] {
            assert_eq!(allow(principal.clone()).evaluate(ASSUME, ALICE), Decision::Allow, "{principal}");
            assert_eq!(allow(principal.clone()).evaluate(ASSUME, ROOT), Decision::Allow, "{principal}");
        }
        assert_eq!(alice_only.evaluate(ASSUME, ROOT), Decision::ImplicitDeny, "the account root does not bypass trust");
        assert_eq!(alice_only.evaluate(ASSUME, OTHER), Decision::ImplicitDeny);
        assert_eq!(allow(json!({"AWS": "111111111111"})).evaluate(ASSUME, OTHER), Decision::ImplicitDeny);
        assert_eq!(
            allow(json!({"AWS": "arn:aws:iam::111111111111:user/*"})).evaluate(ASSUME, ALICE),
            Decision::ImplicitDeny
        );
        assert_eq!(allow(json!({"Service": "lambda.amazonaws.com"})).evaluate(ASSUME, ALICE), Decision::ImplicitDeny);
    }

    #[test]
    fn role_principals_cover_their_sessions() {
        let policy = allow(json!({"AWS": "arn:aws:iam::111111111111:role/ci/builder"}));
        assert_eq!(policy.evaluate(ASSUME, SESSION), Decision::Allow);
        assert_eq!(allow(json!({"AWS": SESSION.principal_arn})).evaluate(ASSUME, SESSION), Decision::Allow);
        assert_eq!(
            allow(json!({"AWS": "arn:aws:iam::111111111111:role/other"})).evaluate(ASSUME, SESSION),
            Decision::ImplicitDeny
        );
        assert_eq!(
            allow(json!({"AWS": "arn:aws:iam::222222222222:role/builder"})).evaluate(ASSUME, SESSION),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn actions_deny_and_what_cannot_be_evaluated() {
        let with_action = |action: Value| {
            TrustPolicy::from_value(&json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": action}}))
                .unwrap()
        };
        for action in [
            json!("sts:AssumeRole"),
            json!("STS:assumerole"),
            json!("sts:*"),
            json!("*"),
            json!(["s3:*", "sts:Assume*"]),
            json!("sts:AssumeRol?"),
        ] {
            assert_eq!(with_action(action.clone()).evaluate(ASSUME, ALICE), Decision::Allow, "{action}");
        }
        for action in [json!("sts:AssumeRoleWithSAML"), json!("sts:TagSession"), json!("s3:*")] {
            assert_eq!(with_action(action.clone()).evaluate(ASSUME, ALICE), Decision::ImplicitDeny, "{action}");
        }

        let deny = TrustPolicy::from_value(&json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": "sts:*"}
        ]}))
        .unwrap();
        assert_eq!(deny.evaluate(ASSUME, ALICE), Decision::ExplicitDeny);
        assert_eq!(deny.evaluate(ASSUME, ROOT), Decision::Allow);

        // The whole language applies: conditions, NotPrincipal and NotAction are evaluated.
        let one = |statement: Value| TrustPolicy::from_value(&json!({"Statement": [statement]})).unwrap();
        let external_id = one(json!({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}));
        assert_eq!(external_id.evaluate(ASSUME, ALICE), Decision::ImplicitDeny, "no ExternalId sent");
        let sent = crate::iam::policy::Context::new().with("sts:ExternalId", "x");
        assert_eq!(external_id.evaluate_in(ASSUME, ALICE, &sent), Decision::Allow);
        let everyone_but =
            one(json!({"Effect": "Allow", "NotPrincipal": {"AWS": "222222222222"}, "Action": "sts:AssumeRole"}));
        assert_eq!(everyone_but.evaluate(ASSUME, ALICE), Decision::Allow);
        assert_eq!(everyone_but.evaluate(ASSUME, OTHER), Decision::ImplicitDeny);
        let not_action = one(json!({"Effect": "Allow", "Principal": "*", "NotAction": "s3:*"}));
        assert_eq!(not_action.evaluate(ASSUME, ALICE), Decision::Allow);
        let deny_not_action = TrustPolicy::from_value(&json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:*"},
            {"Effect": "Deny", "Principal": "*", "NotAction": "sts:TagSession"}
        ]}))
        .unwrap();
        assert_eq!(deny_not_action.evaluate(ASSUME, ALICE), Decision::ExplicitDeny);
    }

    #[test]
    fn documents_as_text_and_their_errors() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
        let encoded = crate::auth::sigv4::uri_encode(text.as_bytes(), false);
        assert_eq!(TrustPolicy::from_text(text).unwrap(), TrustPolicy::from_text(&encoded).unwrap());
        assert_eq!(TrustPolicy::from_value(&json!(text)).unwrap().evaluate(ASSUME, ALICE), Decision::Allow);

        for (document, error) in [
            (json!("{nope"), "not a JSON policy document: "),
            (json!([]), "a policy document must be a JSON object"),
            (json!({"Version": "2012-10-17"}), "a policy document needs a `Statement`"),
            (
                json!({"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "sts:AssumeRole"}]}),
                "Statement[0]: `Effect` must be \"Allow\" or \"Deny\"",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
                "Statement[0]: a statement needs `Principal` or `NotPrincipal`",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*"}]}),
                "Statement[0]: give exactly one of `Action` and `NotAction`",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": 3}]}),
                "Statement[0]: `Action` must be a string or a non-empty list of strings",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"Users": "x"}, "Action": "sts:AssumeRole"}]}),
                "Statement[0]: unknown principal type `Users`",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "someone", "Action": "sts:AssumeRole"}]}),
                "Statement[0]: `Principal` must be",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Extra": 1}]}),
                "Statement[0]: unknown element `Extra`",
            ),
        ] {
            let err = TrustPolicy::from_value(&document).unwrap_err();
            assert!(err.starts_with(error), "{document}: {err}");
        }
    }
}
