//! The table of spec §2: (policies, request) → decision and refusal, one row per rule or
//! example. Each row says which part of the spec it exercises.

use serde_json::{Value, json};

use super::*;

const A: &str = "111111111111";
const B: &str = "222222222222";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db-AbCdEf";
const OTHER_SECRET: &str = "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/api-XyZxYz";
const GET: &str = "secretsmanager:GetSecretValue";

fn alice() -> Principal {
    Principal::user("arn:aws:iam::111111111111:user/alice", "AIDAALICE")
}
fn bob_b() -> Principal {
    Principal::user("arn:aws:iam::222222222222:user/bob", "AIDABOB")
}
fn role_b() -> Principal {
    Principal::assumed_role("arn:aws:iam::222222222222:role/reader", "s1", "AROAREADER")
}
fn role_a() -> Principal {
    Principal::assumed_role("arn:aws:iam::111111111111:role/app/worker", "s1", "AROAWORKER")
}

/// One row of the table.
struct Case {
    name: &'static str,
    principal: Principal,
    action: &'static str,
    resource: Option<&'static str>,
    resource_account: Option<&'static str>,
    context: Context,
    identity: Vec<Value>,
    resource_policy: Option<Value>,
    boundary: Option<Value>,
    session: Option<Value>,
    kind: ResourceKind,
    expect: Decision,
    denial: Option<Denial>,
}

fn row(name: &'static str) -> Case {
    Case {
        name,
        principal: alice(),
        action: GET,
        resource: Some(SECRET),
        resource_account: Some(A),
        context: Context::new(),
        identity: Vec::new(),
        resource_policy: None,
        boundary: None,
        session: None,
        kind: ResourceKind::Resource,
        expect: Decision::Allow,
        denial: None,
    }
}

impl Case {
    fn who(mut self, p: Principal) -> Self {
        self.principal = p;
        self
    }
    fn act(mut self, action: &'static str) -> Self {
        self.action = action;
        self
    }
    fn on(mut self, resource: Option<&'static str>, account: Option<&'static str>) -> Self {
        self.resource = resource;
        self.resource_account = account;
        self
    }
    fn ctx(mut self, context: Context) -> Self {
        self.context = context;
        self
    }
    fn id(mut self, statements: Value) -> Self {
        self.identity.push(doc(statements));
        self
    }
    fn res(mut self, statements: Value) -> Self {
        self.resource_policy = Some(doc(statements));
        self
    }
    fn key(mut self, statements: Value) -> Self {
        self.resource_policy = Some(doc(statements));
        self.kind = ResourceKind::Key;
        self
    }
    fn boundary(mut self, statements: Value) -> Self {
        self.boundary = Some(doc(statements));
        self
    }
    fn session(mut self, statements: Value) -> Self {
        self.session = Some(doc(statements));
        self
    }
    fn allow(mut self) -> Self {
        self.expect = Decision::Allow;
        self.denial = None;
        self
    }
    fn implicit(mut self, kind: PolicyKind) -> Self {
        self.expect = Decision::ImplicitDeny;
        self.denial = Some(Denial::NoAllow(kind));
        self
    }
    fn explicit(mut self, kind: PolicyKind) -> Self {
        self.expect = Decision::ExplicitDeny;
        self.denial = Some(Denial::ExplicitDeny(kind));
        self
    }

    fn run(&self) -> Evaluation {
        let parse = |v: &Value| Policy::from_value(v).unwrap_or_else(|e| panic!("{}: {e}", self.name));
        let identity: Vec<Policy> = self.identity.iter().map(parse).collect();
        let resource = self.resource_policy.as_ref().map(parse);
        let boundary = self.boundary.as_ref().map(parse);
        let session = self.session.as_ref().map(parse);
        let set = PolicySet {
            identity: identity.iter().enumerate().map(|(i, p)| Named::new(format!("identity-{i}"), p)).collect(),
            resource: resource.as_ref().map(|p| Named::new("resource", p)),
            boundary: boundary.as_ref().map(|p| Named::new("boundary", p)),
            session: session.as_ref().map(|p| Named::new("session", p)),
            resource_kind: self.kind,
        };
        let req = Request {
            principal: &self.principal,
            action: self.action,
            resource: self.resource,
            resource_account: self.resource_account,
            context: &self.context,
        };
        evaluate(&req, &set)
    }
}

/// A 2012-10-17 policy of the given statement(s).
fn doc(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn allow_get(resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": GET, "Resource": resource})
}

fn check(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in &cases {
        let got = case.run();
        if got.decision != case.expect || got.denial != case.denial {
            failures.push(format!(
                "{}: expected {:?}/{:?}, got {:?}/{:?}\n  {:#?}",
                case.name, case.expect, case.denial, got.decision, got.denial, got.statements
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

use PolicyKind::{Boundary as Bnd, Identity as Idn, Resource as Res, Session as Ses};

#[test]
fn single_account_evaluation() {
    check(vec![
        // §2.1.1: default deny; the root user is the exception.
        row("no policy at all: implicit deny").implicit(Idn),
        row("the account root needs no policy").who(Principal::root(A)).allow(),
        row("an explicit deny binds even the root")
            .who(Principal::root(A))
            .id(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}))
            .explicit(Idn),
        // §2.1.5: an identity allow suffices within one account.
        row("identity allow").id(allow_get("*")).allow(),
        row("identity allow of another action").id(json!({"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": "*"})).implicit(Idn),
        // §2.1.2: explicit deny wins over any allow, in any policy type.
        row("identity deny beats identity allow")
            .id(allow_get("*"))
            .id(json!({"Effect": "Deny", "Action": "secretsmanager:*", "Resource": SECRET}))
            .explicit(Idn),
        row("resource deny beats identity allow")
            .id(allow_get("*"))
            .res(json!({"Effect": "Deny", "Principal": "*", "Action": GET}))
            .explicit(Res),
        row("boundary deny").id(allow_get("*")).boundary(json!([allow_get("*"), {"Effect": "Deny", "Action": GET, "Resource": "*"}])).explicit(Bnd),
        row("session deny").who(role_a()).id(allow_get("*")).session(json!({"Effect": "Deny", "Action": "*", "Resource": "*"})).explicit(Ses),
        // §2.1.4/5: resource allow alone suffices within the account (union).
        row("resource allow naming the user, no identity policy")
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": GET, "Resource": "*"}))
            .allow(),
        row("resource allow naming someone else")
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/carol"}, "Action": GET, "Resource": "*"}))
            .implicit(Idn),
        row("resource allow naming the session, limited by no boundary")
            .who(role_a())
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::111111111111:assumed-role/worker/s1"}, "Action": GET}))
            .session(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
            .allow(),
        row("resource allow naming the role is capped by the session policy")
            .who(role_a())
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/app/worker"}, "Action": GET}))
            .session(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
            .implicit(Ses),
        row("resource allow naming the role, no session policy")
            .who(role_a())
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/app/worker"}, "Action": GET}))
            .allow(),
        row("resource allow naming the role is capped by a boundary")
            .who(role_a())
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/app/worker"}, "Action": GET}))
            .boundary(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
            .implicit(Bnd),
        row("resource allow naming the user is not capped by a boundary")
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": GET}))
            .boundary(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
            .allow(),
        // §2.1.6: boundary and session policy intersect with identity allows.
        row("identity allow outside the boundary").id(allow_get("*")).boundary(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})).implicit(Bnd),
        row("identity allow inside the boundary").id(allow_get("*")).boundary(json!({"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "*"})).allow(),
        row("identity allow outside the session policy").who(role_a()).id(allow_get("*")).session(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})).implicit(Ses),
        row("identity allow inside the session policy").who(role_a()).id(allow_get("*")).session(json!({"Effect": "Allow", "Action": GET, "Resource": SECRET})).allow(),
        row("the boundary alone grants nothing").boundary(json!({"Effect": "Allow", "Action": "*", "Resource": "*"})).implicit(Idn),
        // §2.1: resource ARN includes the random suffix; AWS recommends `-??????`.
        row("least privilege: prod/db-?????? reads prod/db").id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db-??????")).allow(),
        row("least privilege: not prod/api")
            .id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db-??????"))
            .on(Some(OTHER_SECRET), Some(A))
            .implicit(Idn),
        row("least privilege: not ListSecrets")
            .id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db-??????"))
            .act("secretsmanager:ListSecrets")
            .on(None, None)
            .implicit(Idn),
        row("a name without the suffix does not match the ARN").id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db")).implicit(Idn),
        // §2.1: `Resource: "*"` in a secret's resource policy is this secret; absent Resource too.
        row("resource policy Resource * is this secret")
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": GET, "Resource": "*"}))
            .allow(),
        row("ListSecrets is matched by Resource * only").act("secretsmanager:ListSecrets").on(None, None).id(allow_get("*").as_object().cloned().map(|mut m| { m.insert("Action".into(), json!("secretsmanager:List*")); Value::Object(m) }).unwrap_or_default()).allow(),
    ]);
}

#[test]
fn actions_resources_and_their_negations() {
    check(vec![
        row("actions match case-insensitively")
            .id(json!({"Effect": "Allow", "Action": "SecretsManager:getsecretVALUE", "Resource": "*"}))
            .allow(),
        row("action wildcard *").id(json!({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"})).allow(),
        row("action wildcard ?")
            .id(json!({"Effect": "Allow", "Action": "secretsmanager:GetSecretValu?", "Resource": "*"}))
            .allow(),
        row("action list")
            .id(json!({"Effect": "Allow", "Action": ["s3:*", "secretsmanager:Get*"], "Resource": "*"}))
            .allow(),
        row("other service").id(json!({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})).implicit(Idn),
        row("whole action *").id(json!({"Effect": "Allow", "Action": "*", "Resource": "*"})).allow(),
        // §2.3 NotAction
        row("NotAction allow grants every other action")
            .id(json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}))
            .allow(),
        row("NotAction allow does not grant the listed")
            .id(json!({"Effect": "Allow", "NotAction": "secretsmanager:*", "Resource": "*"}))
            .implicit(Idn),
        row("NotAction allow applies to its Resource only")
            .id(json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": OTHER_SECRET}))
            .implicit(Idn),
        row("NotAction deny denies every other action")
            .id(allow_get("*"))
            .id(json!({"Effect": "Deny", "NotAction": "secretsmanager:Describe*", "Resource": "*"}))
            .explicit(Idn),
        row("NotAction deny spares the listed")
            .id(allow_get("*"))
            .id(json!({"Effect": "Deny", "NotAction": "secretsmanager:Get*", "Resource": "*"}))
            .allow(),
        // §2.3 NotResource
        row("NotResource deny of every other resource")
            .id(allow_get("*"))
            .id(json!({"Effect": "Deny", "Action": "*", "NotResource": OTHER_SECRET}))
            .explicit(Idn),
        row("NotResource deny spares the listed")
            .id(allow_get("*"))
            .id(json!({"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:secretsmanager:*:*:secret:prod/*"}))
            .allow(),
        row("NotResource allow").id(json!({"Effect": "Allow", "Action": GET, "NotResource": OTHER_SECRET})).allow(),
        row("resources match case-sensitively")
            .id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:PROD/db-AbCdEf"))
            .implicit(Idn),
        row("resource wildcards span colons").id(allow_get("arn:aws:secretsmanager:*")).allow(),
    ]);
}

#[test]
fn principals_and_not_principal() {
    let res_allow =
        |principal: Value| json!({"Effect": "Allow", "Principal": principal, "Action": GET, "Resource": "*"});
    check(vec![
        row("Principal *").res(res_allow(json!("*"))).allow(),
        row("Principal AWS *").res(res_allow(json!({"AWS": "*"}))).allow(),
        row("a bare account id delegates to identity policies").res(res_allow(json!({"AWS": A}))).implicit(Idn),
        row("an account principal with an identity allow").res(res_allow(json!({"AWS": A}))).id(allow_get("*")).allow(),
        row("wildcards do not match part of a principal").res(res_allow(json!({"AWS": "arn:aws:iam::111111111111:user/*"}))).implicit(Idn),
        row("a service principal").who(Principal::service("lambda.amazonaws.com")).res(res_allow(json!({"Service": "lambda.amazonaws.com"}))).allow(),
        row("another service").who(Principal::service("lambda.amazonaws.com")).res(res_allow(json!({"Service": "ec2.amazonaws.com"}))).implicit(Res),
        row("a service is no AWS account principal").who(Principal::service("lambda.amazonaws.com")).res(res_allow(json!({"AWS": A}))).implicit(Res),
        row("a role principal covers its sessions, whatever the path").who(role_a()).res(res_allow(json!({"AWS": "arn:aws:iam::111111111111:role/worker"}))).allow(),
        row("a role of another account is not the session's").who(role_a()).res(res_allow(json!({"AWS": "arn:aws:iam::222222222222:role/worker"}))).implicit(Idn),
        // §2.3 NotPrincipal
        row("NotPrincipal deny: everyone but the listed is denied")
            .id(allow_get("*"))
            .res(json!({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:user/carol"}, "Action": "*"}))
            .explicit(Res),
        row("NotPrincipal deny spares the listed")
            .id(allow_get("*"))
            .res(json!({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": "*"}))
            .allow(),
        row("NotPrincipal allow grants everyone else")
            .who(bob_b())
            .id(allow_get("*"))
            .res(json!({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:user/carol"}, "Action": GET}))
            .allow(),
        row("NotPrincipal allow refuses the listed")
            .res(json!({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": GET}))
            .implicit(Idn),
    ]);
}

#[test]
fn cross_account_evaluation() {
    let res_allow = |principal: Value| json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "secretsmanager:*", "Resource": "*"});
    check(vec![
        // §2.2: both the caller's identity and the owner's resource policy must allow.
        row("identity allow, no resource policy").who(bob_b()).id(allow_get("*")).implicit(Res),
        row("identity allow, resource policy for another account").who(bob_b()).id(allow_get("*")).res(res_allow(json!("333333333333"))).implicit(Res),
        row("identity allow + resource allow of the account").who(bob_b()).id(allow_get("*")).res(res_allow(json!(B))).allow(),
        row("identity allow + resource allow of the account root").who(bob_b()).id(allow_get("*")).res(res_allow(json!("arn:aws:iam::222222222222:root"))).allow(),
        row("resource allow, no identity allow").who(bob_b()).res(res_allow(json!(B))).implicit(Idn),
        row("resource allow of the user, no identity allow").who(bob_b()).res(res_allow(json!("arn:aws:iam::222222222222:user/bob"))).implicit(Idn),
        row("B's root holds its own account's rights").who(Principal::root(B)).res(res_allow(json!(B))).allow(),
        row("B's root without a resource allow").who(Principal::root(B)).implicit(Res),
        row("Principal * still needs the caller's identity allow").who(bob_b()).res(json!({"Effect": "Allow", "Principal": "*", "Action": GET})).implicit(Idn),
        row("a role of B named in A's policy").who(role_b()).id(allow_get("*")).res(res_allow(json!("arn:aws:iam::222222222222:role/reader"))).allow(),
        row("B's other users are refused").who(bob_b()).id(allow_get("*")).res(res_allow(json!("arn:aws:iam::222222222222:role/reader"))).implicit(Res),
        row("cross-account: boundary caps the caller").who(bob_b()).id(allow_get("*")).res(res_allow(json!(B))).boundary(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})).implicit(Bnd),
        row("cross-account: A's explicit deny").who(bob_b()).id(allow_get("*")).res(json!([res_allow(json!(B)), {"Effect": "Deny", "Principal": {"AWS": B}, "Action": GET}])).explicit(Res),
        // §2.2 / §1.10: key policies.
        row("key: same account, account principal delegates to IAM").act("kms:Decrypt").on(Some("arn:aws:kms:us-east-1:111111111111:key/k"), Some(A))
            .key(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"}))
            .id(json!({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})).allow(),
        row("key: same account, delegation without identity allow").act("kms:Decrypt").on(Some("arn:aws:kms:us-east-1:111111111111:key/k"), Some(A))
            .key(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"}))
            .implicit(Idn),
        row("key: identity allow alone is not enough").act("kms:Decrypt").on(Some("arn:aws:kms:us-east-1:111111111111:key/k"), Some(A))
            .key(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/carol"}, "Action": "kms:*", "Resource": "*"}))
            .id(json!({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})).implicit(Res),
        row("key: naming the user suffices").act("kms:Decrypt").on(Some("arn:aws:kms:us-east-1:111111111111:key/k"), Some(A))
            .key(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": "kms:Decrypt", "Resource": "*"}))
            .allow(),
        row("key: even root needs the key policy").who(Principal::root(A)).act("kms:Decrypt").on(Some("arn:aws:kms:us-east-1:111111111111:key/k"), Some(A))
            .key(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": "kms:Decrypt", "Resource": "*"}))
            .implicit(Res),
        row("key: cross-account needs key policy and identity").who(role_b()).act("kms:Decrypt").on(Some("arn:aws:kms:us-east-1:111111111111:key/k"), Some(A))
            .key(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/reader"}, "Action": "kms:Decrypt", "Resource": "*"}))
            .id(json!({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})).allow(),
        row("key: cross-account without the identity side").who(role_b()).act("kms:Decrypt").on(Some("arn:aws:kms:us-east-1:111111111111:key/k"), Some(A))
            .key(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/reader"}, "Action": "kms:Decrypt", "Resource": "*"}))
            .implicit(Idn),
    ]);
}

#[test]
fn refusal_texts() {
    let user = "arn:aws:iam::427648302155:user/data-bot";
    assert_eq!(
        Denial::NoAllow(Idn).message(user, GET, Some("employee-database-rpkQvl")),
        "User: arn:aws:iam::427648302155:user/data-bot is not authorized to perform: secretsmanager:GetSecretValue on resource: employee-database-rpkQvl because no identity-based policy allows the secretsmanager:GetSecretValue action"
    );
    assert_eq!(
        Denial::NoAllow(Idn).message("arn:aws:sts::1:assumed-role/r/s", "secretsmanager:ListSecrets", None),
        "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: secretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action"
    );
    assert_eq!(
        Denial::NoAllow(Bnd).message("arn:aws:sts::1:assumed-role/r/s", "secretsmanager:ListSecrets", None),
        "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: secretsmanager:ListSecrets because no permissions boundary allows the secretsmanager:ListSecrets action"
    );
    assert_eq!(
        Denial::ExplicitDeny(Res).message(
            "arn:aws:iam::543742734891:user/test",
            "secretsmanager:DescribeSecret",
            Some("my-example-secret")
        ),
        "User: arn:aws:iam::543742734891:user/test is not authorized to perform: secretsmanager:DescribeSecret on resource: my-example-secret with an explicit deny in a resource-based policy"
    );
    assert_eq!(
        Denial::NoAllow(Res).message(
            "arn:aws:iam::123456789012:user/admin",
            GET,
            Some("arn:aws:secretsmanager:us-east-1:536883072436:secret:abcDEfgHiJKLMno-abcDeF")
        ),
        "User: arn:aws:iam::123456789012:user/admin is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:536883072436:secret:abcDEfgHiJKLMno-abcDeF because no resource-based policy allows the secretsmanager:GetSecretValue action"
    );
    assert!(
        Denial::ExplicitDeny(Idn)
            .message(user, GET, Some("x"))
            .ends_with("with an explicit deny in an identity-based policy")
    );
}
