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
    context: Context<'static>,
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
    fn ctx(mut self, context: Context<'static>) -> Self {
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
        let evaluation = evaluate(&req, &set);
        let quick = super::decide(&req, &set);
        assert_eq!((quick.decision, &quick.denial), (evaluation.decision, &evaluation.denial), "decide agrees");
        assert!(quick.statements.is_empty() && quick.deciding.is_empty() && quick.closest.is_none());
        evaluation
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
        row("ListSecrets is matched by Resource *")
            .act("secretsmanager:ListSecrets")
            .on(None, None)
            .id(json!({"Effect": "Allow", "Action": "secretsmanager:List*", "Resource": "*"}))
            .allow(),
        row("ListSecrets is not matched by a secret's ARN")
            .act("secretsmanager:ListSecrets")
            .on(None, None)
            .id(json!({"Effect": "Allow", "Action": "secretsmanager:List*", "Resource": SECRET}))
            .implicit(Idn),
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

/// An identity policy allowing GetSecretValue under one condition block.
fn when(condition: Value) -> Value {
    json!({"Effect": "Allow", "Action": GET, "Resource": "*", "Condition": condition})
}

fn ctx(pairs: &[(&str, &str)]) -> Context<'static> {
    let mut c = Context::new();
    for (k, v) in pairs {
        c.insert(k, *v);
    }
    c
}

fn multi(key: &str, values: &[&str]) -> Context<'static> {
    let mut c = Context::new();
    c.insert_all(key, values.iter().copied());
    c
}

#[test]
fn condition_operators() {
    let stage = |v: &str| ctx(&[("secretsmanager:VersionStage", v)]);
    check(vec![
        // String
        row("StringEquals")
            .id(when(json!({"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}})))
            .ctx(stage("AWSCURRENT"))
            .allow(),
        row("StringEquals is case-sensitive")
            .id(when(json!({"StringEquals": {"secretsmanager:VersionStage": "awscurrent"}})))
            .ctx(stage("AWSCURRENT"))
            .implicit(Idn),
        row("StringEquals: values are OR")
            .id(when(json!({"StringEquals": {"secretsmanager:VersionStage": ["AWSPENDING", "AWSCURRENT"]}})))
            .ctx(stage("AWSCURRENT"))
            .allow(),
        row("StringNotEquals: values are NOR")
            .id(when(json!({"StringNotEquals": {"secretsmanager:VersionStage": ["AWSPENDING", "AWSCURRENT"]}})))
            .ctx(stage("AWSCURRENT"))
            .implicit(Idn),
        row("StringNotEquals holds for another value")
            .id(when(json!({"StringNotEquals": {"secretsmanager:VersionStage": "AWSPENDING"}})))
            .ctx(stage("AWSCURRENT"))
            .allow(),
        row("StringEqualsIgnoreCase")
            .id(when(json!({"StringEqualsIgnoreCase": {"secretsmanager:VersionStage": "awscurrent"}})))
            .ctx(stage("AWSCURRENT"))
            .allow(),
        row("StringNotEqualsIgnoreCase")
            .id(when(json!({"StringNotEqualsIgnoreCase": {"secretsmanager:VersionStage": "awscurrent"}})))
            .ctx(stage("AWSCURRENT"))
            .implicit(Idn),
        row("StringLike")
            .id(when(json!({"StringLike": {"secretsmanager:VersionStage": "AWS*"}})))
            .ctx(stage("AWSCURRENT"))
            .allow(),
        row("StringLike ?")
            .id(when(json!({"StringLike": {"secretsmanager:VersionStage": "AWSCURREN?"}})))
            .ctx(stage("AWSCURRENT"))
            .allow(),
        row("StringNotLike")
            .id(when(json!({"StringNotLike": {"secretsmanager:VersionStage": "AWS*"}})))
            .ctx(stage("AWSCURRENT"))
            .implicit(Idn),
        // Numeric
        row("NumericLessThan")
            .id(when(json!({"NumericLessThan": {"secretsmanager:RecoveryWindowInDays": "30"}})))
            .ctx(ctx(&[("secretsmanager:RecoveryWindowInDays", "7")]))
            .allow(),
        row("NumericLessThan fails")
            .id(when(json!({"NumericLessThan": {"secretsmanager:RecoveryWindowInDays": 7}})))
            .ctx(ctx(&[("secretsmanager:RecoveryWindowInDays", "7")]))
            .implicit(Idn),
        row("NumericLessThanEquals")
            .id(when(json!({"NumericLessThanEquals": {"secretsmanager:RecoveryWindowInDays": 7}})))
            .ctx(ctx(&[("secretsmanager:RecoveryWindowInDays", "7")]))
            .allow(),
        row("NumericGreaterThan")
            .id(when(json!({"NumericGreaterThan": {"secretsmanager:RecoveryWindowInDays": "6"}})))
            .ctx(ctx(&[("secretsmanager:RecoveryWindowInDays", "7")]))
            .allow(),
        row("NumericGreaterThanEquals")
            .id(when(json!({"NumericGreaterThanEquals": {"secretsmanager:RecoveryWindowInDays": "8"}})))
            .ctx(ctx(&[("secretsmanager:RecoveryWindowInDays", "7")]))
            .implicit(Idn),
        row("NumericEquals")
            .id(when(json!({"NumericEquals": {"secretsmanager:RecoveryWindowInDays": "7.0"}})))
            .ctx(ctx(&[("secretsmanager:RecoveryWindowInDays", "7")]))
            .allow(),
        row("NumericNotEquals")
            .id(when(json!({"NumericNotEquals": {"secretsmanager:RecoveryWindowInDays": "7"}})))
            .ctx(ctx(&[("secretsmanager:RecoveryWindowInDays", "7")]))
            .implicit(Idn),
        row("Numeric on a non-number")
            .id(when(json!({"NumericEquals": {"secretsmanager:RecoveryWindowInDays": "7"}})))
            .ctx(ctx(&[("secretsmanager:RecoveryWindowInDays", "seven")]))
            .implicit(Idn),
        // Date (aws:CurrentTime from smemu's clock; epoch seconds accepted too)
        row("DateLessThan")
            .id(when(json!({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}})))
            .ctx(ctx(&[("aws:CurrentTime", "2026-12-01T12:00:00Z")]))
            .allow(),
        row("DateGreaterThan")
            .id(when(json!({"DateGreaterThan": {"aws:CurrentTime": "2027-01-01"}})))
            .ctx(ctx(&[("aws:CurrentTime", "2026-12-01T12:00:00Z")]))
            .implicit(Idn),
        row("DateGreaterThanEquals epoch")
            .id(when(json!({"DateGreaterThanEquals": {"aws:EpochTime": "1700000000"}})))
            .ctx(ctx(&[("aws:EpochTime", "1800000000")]))
            .allow(),
        row("DateLessThanEquals")
            .id(when(json!({"DateLessThanEquals": {"aws:CurrentTime": "2026-12-01T12:00:00Z"}})))
            .ctx(ctx(&[("aws:CurrentTime", "2026-12-01T12:00:00Z")]))
            .allow(),
        row("DateEquals across offsets")
            .id(when(json!({"DateEquals": {"aws:CurrentTime": "2026-12-01T13:00:00+01:00"}})))
            .ctx(ctx(&[("aws:CurrentTime", "2026-12-01T12:00:00Z")]))
            .allow(),
        row("DateNotEquals")
            .id(when(json!({"DateNotEquals": {"aws:CurrentTime": "2026-12-01T12:00:00Z"}})))
            .ctx(ctx(&[("aws:CurrentTime", "2026-12-01T12:00:00Z")]))
            .implicit(Idn),
        // Bool, Binary, IP, ARN
        row("Bool")
            .id(when(json!({"Bool": {"aws:SecureTransport": "true"}})))
            .ctx(ctx(&[("aws:SecureTransport", "true")]))
            .allow(),
        row("Bool as JSON bool")
            .id(when(json!({"Bool": {"aws:SecureTransport": false}})))
            .ctx(ctx(&[("aws:SecureTransport", "true")]))
            .implicit(Idn),
        row("BinaryEquals")
            .id(when(json!({"BinaryEquals": {"x:blob": "QmluYXJ5"}})))
            .ctx(ctx(&[("x:blob", "QmluYXJ5")]))
            .allow(),
        row("IpAddress")
            .id(when(json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.1.1"]}})))
            .ctx(ctx(&[("aws:SourceIp", "192.168.1.1")]))
            .allow(),
        row("IpAddress outside")
            .id(when(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
            .ctx(ctx(&[("aws:SourceIp", "127.0.0.1")]))
            .implicit(Idn),
        row("NotIpAddress")
            .id(when(json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
            .ctx(ctx(&[("aws:SourceIp", "127.0.0.1")]))
            .allow(),
        row("IPv6")
            .id(when(json!({"IpAddress": {"aws:SourceIp": "::1/128"}})))
            .ctx(ctx(&[("aws:SourceIp", "::1")]))
            .allow(),
        row("ArnLike").id(when(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/al*"}}))).allow(),
        row("ArnEquals")
            .id(when(json!({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:user/alice"}})))
            .allow(),
        row("ArnNotLike")
            .id(when(json!({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:*"}})))
            .implicit(Idn),
        row("ArnNotEquals")
            .id(when(json!({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:user/bob"}})))
            .allow(),
        row("Arn on a non-ARN")
            .id(when(json!({"ArnLike": {"secretsmanager:SecretId": "arn:*"}})))
            .ctx(ctx(&[("secretsmanager:SecretId", "prod/db")]))
            .implicit(Idn),
        row("aws:PrincipalArn of a session is its role")
            .who(role_a())
            .id(when(json!({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/app/worker"}})))
            .allow(),
        // Several operators, several keys: AND.
        row("operators AND")
            .id(when(json!({"StringEquals": {"aws:PrincipalAccount": A}, "Bool": {"aws:SecureTransport": "true"}})))
            .ctx(ctx(&[("aws:SecureTransport", "false")]))
            .implicit(Idn),
        row("keys AND")
            .id(when(json!({"StringEquals": {"aws:PrincipalAccount": A, "aws:RequestedRegion": "eu-west-1"}})))
            .ctx(ctx(&[("aws:RequestedRegion", "us-east-1")]))
            .implicit(Idn),
        row("both hold")
            .id(when(json!({"StringEquals": {"aws:PrincipalAccount": A, "aws:RequestedRegion": "us-east-1"}})))
            .ctx(ctx(&[("aws:RequestedRegion", "us-east-1")]))
            .allow(),
    ]);
}

#[test]
fn absent_keys_ifexists_null_and_sets() {
    check(vec![
        // §2.4: a key absent from the request makes the condition false...
        row("absent key: StringEquals is false").id(when(json!({"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}))).implicit(Idn),
        row("absent key: NumericLessThan is false").id(when(json!({"NumericLessThan": {"secretsmanager:RecoveryWindowInDays": 30}}))).implicit(Idn),
        // ...except negated operators, which hold.
        row("absent key: StringNotEquals holds").id(when(json!({"StringNotEquals": {"secretsmanager:VersionStage": "AWSPENDING"}}))).allow(),
        row("absent key: StringNotLike holds").id(when(json!({"StringNotLike": {"secretsmanager:VersionStage": "AWS*"}}))).allow(),
        row("absent key: ArnNotLike holds").id(when(json!({"ArnNotLike": {"aws:SourceArn": "arn:*"}}))).allow(),
        // IfExists: true when absent, the operator when present.
        row("IfExists absent").id(when(json!({"StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"}}))).allow(),
        row("IfExists present and matching").id(when(json!({"StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"}}))).ctx(ctx(&[("secretsmanager:VersionStage", "AWSCURRENT")])).allow(),
        row("IfExists present, not matching").id(when(json!({"StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"}}))).ctx(ctx(&[("secretsmanager:VersionStage", "AWSPENDING")])).implicit(Idn),
        row("NumericLessThanIfExists absent").id(when(json!({"NumericLessThanIfExists": {"secretsmanager:RecoveryWindowInDays": 30}}))).allow(),
        row("BoolIfExists present").id(when(json!({"BoolIfExists": {"aws:SecureTransport": "true"}}))).ctx(ctx(&[("aws:SecureTransport", "false")])).implicit(Idn),
        // Null
        row("Null true: key absent").id(when(json!({"Null": {"secretsmanager:VersionStage": "true"}}))).allow(),
        row("Null true: key present").id(when(json!({"Null": {"secretsmanager:VersionStage": "true"}}))).ctx(ctx(&[("secretsmanager:VersionStage", "AWSCURRENT")])).implicit(Idn),
        row("Null false: key present").id(when(json!({"Null": {"secretsmanager:VersionStage": false}}))).ctx(ctx(&[("secretsmanager:VersionStage", "AWSCURRENT")])).allow(),
        row("Null false: key absent").id(when(json!({"Null": {"secretsmanager:VersionStage": "false"}}))).implicit(Idn),
        // Set operators.
        row("ForAllValues: every request value allowed").id(when(json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}))).ctx(multi("aws:TagKeys", &["env"])).allow(),
        row("ForAllValues: one value outside").id(when(json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}))).ctx(multi("aws:TagKeys", &["env", "cost"])).implicit(Idn),
        row("ForAllValues: empty set holds").id(when(json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}))).ctx(multi("aws:TagKeys", &[])).allow(),
        row("ForAllValues: absent key holds").id(when(json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}))).allow(),
        row("ForAnyValue: one value matches").id(when(json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}))).ctx(multi("aws:TagKeys", &["cost", "env"])).allow(),
        row("ForAnyValue: none matches").id(when(json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}))).ctx(multi("aws:TagKeys", &["cost"])).implicit(Idn),
        row("ForAnyValue: empty set is false").id(when(json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}))).ctx(multi("aws:TagKeys", &[])).implicit(Idn),
        row("ForAnyValue: absent key is false").id(when(json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}))).implicit(Idn),
        row("ForAllValues:StringNotEquals: no request value listed").id(when(json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}))).ctx(multi("aws:TagKeys", &["env", "team"])).allow(),
        row("ForAllValues:StringNotEquals: one listed").id(when(json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}))).ctx(multi("aws:TagKeys", &["env", "secret"])).implicit(Idn),
        row("ForAnyValue:StringLike").id(when(json!({"ForAnyValue:StringLike": {"secretsmanager:AddReplicaRegions": "eu-*"}}))).ctx(multi("secretsmanager:AddReplicaRegions", &["us-west-2", "eu-west-1"])).allow(),
        // §2.4: SM keys come only from parameters actually sent (aws-cli#5031, boto3#2957).
        row("VersionStage required but not sent: denied")
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": GET, "Condition": {"ForAnyValue:StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}}))
            .implicit(Idn),
        row("VersionStage required and sent")
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": GET, "Condition": {"ForAnyValue:StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}}))
            .ctx(multi("secretsmanager:VersionStage", &["AWSCURRENT"]))
            .allow(),
        row("VersionStage with IfExists, not sent")
            .res(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": GET, "Condition": {"StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"}}}))
            .allow(),
        // A deny with a condition on an absent key does not apply.
        row("deny on absent key does not apply").id(allow_get("*")).id(json!({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})).allow(),
        row("deny on present key applies").id(allow_get("*")).id(json!({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})).ctx(ctx(&[("aws:SecureTransport", "false")])).explicit(Idn),
    ]);
}

#[test]
fn key_names_variables_and_principal_keys() {
    let tagged = || alice().with_tags(vec![("Team".into(), "payments".into())]);
    check(vec![
        // §2.4: key names are case-insensitive, tag-key portions too.
        row("key name case").id(when(json!({"StringEquals": {"SecretsManager:versionstage": "AWSCURRENT"}}))).ctx(ctx(&[("secretsmanager:VersionStage", "AWSCURRENT")])).allow(),
        row("tag-key case in the context").id(when(json!({"StringEquals": {"aws:ResourceTag/TagKey1": "v"}}))).ctx(ctx(&[("aws:resourcetag/tagkey1", "v")])).allow(),
        row("tag-key case of a principal tag").who(tagged()).id(when(json!({"StringEquals": {"aws:PrincipalTag/team": "payments"}}))).allow(),
        row("principal keys: account").id(when(json!({"StringEquals": {"aws:PrincipalAccount": A}}))).allow(),
        row("principal keys: username").id(when(json!({"StringEquals": {"aws:username": "alice"}}))).allow(),
        row("principal keys: userid").id(when(json!({"StringEquals": {"aws:userid": "AIDAALICE"}}))).allow(),
        row("a session has no aws:username").who(role_a()).id(when(json!({"StringLike": {"aws:username": "*"}}))).implicit(Idn),
        row("the context overrides a derived key").id(when(json!({"StringEquals": {"aws:PrincipalAccount": B}}))).ctx(ctx(&[("aws:PrincipalAccount", B)])).allow(),
        // Policy variables in Resource and in condition values.
        row("${aws:username} in Resource")
            .on(Some("arn:aws:secretsmanager:us-east-1:111111111111:secret:home/alice/db-AbCdEf"), Some(A))
            .id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:home/${aws:username}/*"))
            .allow(),
        row("${aws:username} is someone else's home")
            .on(Some("arn:aws:secretsmanager:us-east-1:111111111111:secret:home/bob/db-AbCdEf"), Some(A))
            .id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:home/${aws:username}/*"))
            .implicit(Idn),
        row("variables need Version 2012-10-17")
            .on(Some("arn:aws:secretsmanager:us-east-1:111111111111:secret:home/alice/db-AbCdEf"), Some(A))
            .id_raw(json!({"Version": "2008-10-17", "Statement": allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:home/${aws:username}/*")}))
            .implicit(Idn),
        row("${aws:PrincipalTag/Team} in a condition")
            .who(tagged())
            .id(when(json!({"StringEquals": {"aws:ResourceTag/Team": "${aws:PrincipalTag/Team}"}})))
            .ctx(ctx(&[("aws:ResourceTag/Team", "payments")]))
            .allow(),
        row("an unresolved variable matches nothing")
            .id(when(json!({"StringEquals": {"aws:ResourceTag/Team": "${aws:PrincipalTag/Team}"}})))
            .ctx(ctx(&[("aws:ResourceTag/Team", "payments")]))
            .implicit(Idn),
        row("a variable's default")
            .id(when(json!({"StringEquals": {"aws:ResourceTag/Team": "${aws:PrincipalTag/Team, 'shared'}"}})))
            .ctx(ctx(&[("aws:ResourceTag/Team", "shared")]))
            .allow(),
        row("${*} is a literal star")
            .on(Some("arn:aws:secretsmanager:us-east-1:111111111111:secret:a*b-AbCdEf"), Some(A))
            .id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:a${*}b-??????"))
            .allow(),
        row("${*} is not a wildcard")
            .on(Some("arn:aws:secretsmanager:us-east-1:111111111111:secret:axb-AbCdEf"), Some(A))
            .id(allow_get("arn:aws:secretsmanager:us-east-1:111111111111:secret:a${*}b-??????"))
            .implicit(Idn),
        row("${?} and ${$}")
            .ctx(ctx(&[("x:k", "a?$")]))
            .id(when(json!({"StringEquals": {"x:k": "a${?}${$}"}})))
            .allow(),
    ]);
}

impl Case {
    fn id_raw(mut self, policy: Value) -> Self {
        self.identity.push(policy);
        self
    }
}

#[test]
fn explanation_names_each_statement_and_the_closest_allow() {
    let case = row("explain")
        .on(Some(OTHER_SECRET), Some(A))
        .ctx(ctx(&[("aws:SecureTransport", "false")]))
        .id(json!([
            {"Sid": "Kms", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "DbOnly", "Effect": "Allow", "Action": GET, "Resource": "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db-??????"},
            {"Sid": "Tls", "Effect": "Allow", "Action": GET, "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        ]))
        .res(json!({"Sid": "Other", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/carol"}, "Action": GET}));
    let e = case.run();
    assert_eq!(e.decision, Decision::ImplicitDeny);
    let outcomes: Vec<(Option<&str>, PolicyKind, &Outcome)> =
        e.statements.iter().map(|f| (f.sid.as_deref(), f.kind, &f.outcome)).collect();
    assert_eq!(
        outcomes,
        vec![
            (Some("Kms"), Idn, &Outcome::NotApplied(Mismatch::Action)),
            (Some("DbOnly"), Idn, &Outcome::NotApplied(Mismatch::Resource)),
            (
                Some("Tls"),
                Idn,
                &Outcome::NotApplied(Mismatch::Condition {
                    operator: "Bool".into(),
                    key: "aws:SecureTransport".into()
                })
            ),
            (Some("Other"), Res, &Outcome::NotApplied(Mismatch::Principal)),
        ]
    );
    assert_eq!(e.closest, Some(2), "the TLS statement got furthest");
    assert_eq!(e.statements[0].policy, "identity-0");
    assert!(e.deciding.is_empty());

    let deny = row("deciding deny")
        .id(json!([allow_get("*"), {"Sid": "No", "Effect": "Deny", "Action": GET, "Resource": "*"}]))
        .run();
    assert_eq!(deny.deciding, vec![1]);
    assert_eq!(deny.closest, None);
    let allow =
        row("deciding allow").id(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, allow_get("*")])).run();
    assert_eq!(allow.deciding, vec![1]);
}

#[test]
fn parse_errors() {
    for (text, kind, detail) in [
        ("{nope", PolicyErrorKind::Syntax, "not a JSON policy document"),
        ("[]", PolicyErrorKind::Syntax, "a policy document must be a JSON object"),
        (r#"{"Version":"2012-10-17"}"#, PolicyErrorKind::Syntax, "a policy document needs a `Statement`"),
        (r#"{"Version":"2013-01-01","Statement":[]}"#, PolicyErrorKind::Syntax, "`Version` must be"),
        (r#"{"Statement":[],"Extra":1}"#, PolicyErrorKind::Syntax, "unknown element `Extra`"),
        (
            r#"{"Statement":{"Effect":"Permit","Action":"*"}}"#,
            PolicyErrorKind::Syntax,
            "Statement[0]: `Effect` must be",
        ),
        (r#"{"Statement":{"Effect":"Allow"}}"#, PolicyErrorKind::Syntax, "Statement[0]: give exactly one of `Action`"),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"*"}}"#,
            PolicyErrorKind::Syntax,
            "Statement[0]: a statement has `Action` or `NotAction`",
        ),
        (r#"{"Statement":{"Effect":"Allow","Action":3}}"#, PolicyErrorKind::Syntax, "Statement[0]: `Action` must be"),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"GetSecretValue"}}"#,
            PolicyErrorKind::Syntax,
            "Statement[0]: action `GetSecretValue` is not",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Principal":"someone"}}"#,
            PolicyErrorKind::Principal,
            "Statement[0]: `Principal` must be",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Principal":{"Users":"x"}}}"#,
            PolicyErrorKind::Principal,
            "Statement[0]: unknown principal type `Users`",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Condition":{"StringSortOf":{"a":"b"}}}}"#,
            PolicyErrorKind::Condition,
            "Statement[0]: unknown condition operator",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Condition":{"StringEquals":"b"}}}"#,
            PolicyErrorKind::Condition,
            "Statement[0]: `Condition.StringEquals` must be",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Condition":{"StringEquals":{"a":{"b":1}}}}}"#,
            PolicyErrorKind::Condition,
            "Statement[0]: `Condition.StringEquals.a`",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Action":"*"},{"Effect":"Allow","Action":"*","Extra":1}]}"#,
            PolicyErrorKind::Syntax,
            "Statement[1]: unknown element `Extra`",
        ),
    ] {
        let err = Policy::parse(text).unwrap_err();
        assert_eq!(err.kind, kind, "{text}: {err}");
        assert!(err.detail.starts_with(detail), "{text}: {err}");
    }
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"1"},"Action":"sts:AssumeRole"}]}"#;
    let encoded = crate::auth::sigv4::uri_encode(text.as_bytes(), false);
    assert_eq!(Policy::parse(text).unwrap(), Policy::parse(&encoded).unwrap());
    assert_eq!(Policy::from_value(&json!(text)).unwrap(), Policy::parse(text).unwrap());

    let identity =
        Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Principal":"*","Resource":"*"}}"#).unwrap();
    assert_eq!(identity.check_identity().unwrap_err().kind, PolicyErrorKind::PrincipalNotAllowed);
    assert!(identity.check_resource().is_ok());
    let no_resource = Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#).unwrap();
    assert_eq!(no_resource.check_identity().unwrap_err().kind, PolicyErrorKind::Syntax);
    assert_eq!(no_resource.check_resource().unwrap_err().kind, PolicyErrorKind::PrincipalMissing);
}

/// The key policy of `aws/secretsmanager` in account A (spec §1.10, `auto-secretsmanager-2`).
fn managed_key_policy() -> Value {
    json!([
        {"Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": A, "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": A}, "StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"}
    ])
}

const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn via_sm(caller_account: &str, region: &str) -> Context<'static> {
    ctx(&[("kms:CallerAccount", caller_account), ("kms:ViaService", &format!("secretsmanager.{region}.amazonaws.com"))])
}

#[test]
fn key_policies_of_spec_1_10_and_1_11() {
    let admin = || json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
    check(vec![
        row("managed key: decrypt through Secrets Manager, same account")
            .act("kms:Decrypt").on(Some(KEY), Some(A)).key(managed_key_policy()).ctx(via_sm(A, "us-east-1")).allow(),
        row("managed key: generate a data key through SM in any region")
            .act("kms:GenerateDataKey").on(Some(KEY), Some(A)).key(managed_key_policy()).ctx(via_sm(A, "eu-west-1")).allow(),
        row("managed key: decrypt called directly, even by an admin")
            .act("kms:Decrypt").on(Some(KEY), Some(A)).key(managed_key_policy()).id(admin()).ctx(ctx(&[("kms:CallerAccount", A)])).implicit(Res),
        row("managed key: another account through SM is refused")
            .who(role_b()).act("kms:Decrypt").on(Some(KEY), Some(A)).key(managed_key_policy()).id(admin()).ctx(via_sm(B, "us-east-1")).implicit(Res),
        row("managed key: the account's root may describe it")
            .who(Principal::root(A)).act("kms:DescribeKey").on(Some(KEY), Some(A)).key(managed_key_policy()).allow(),
        row("managed key: an admin user may list its grants (account delegation)")
            .act("kms:ListGrants").on(Some(KEY), Some(A)).key(managed_key_policy()).id(admin()).allow(),
        row("customer key: the key policy allows B's role, B's identity allows kms:Decrypt (§2.7)")
            .who(role_b()).act("kms:Decrypt").on(Some(KEY), Some(A))
            .key(json!([
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/reader"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
                 "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}
            ]))
            .id(json!({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY}))
            .ctx(via_sm(B, "us-east-1"))
            .allow(),
        row("customer key: B's other users are refused by the key policy")
            .who(bob_b()).act("kms:Decrypt").on(Some(KEY), Some(A))
            .key(json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/reader"}, "Action": "kms:Decrypt", "Resource": "*"}))
            .id(admin())
            .implicit(Res),
    ]);
}

#[test]
fn observed_cross_account_behaviour_of_spec_2_7() {
    // A's secret with a resource policy allowing account B secretsmanager:*; B's caller is admin.
    let admin = || json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
    let policy = || json!({"Effect": "Allow", "Principal": {"AWS": B}, "Action": "secretsmanager:*", "Resource": "*"});
    let mut rows = Vec::new();
    for action in [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:ListSecretVersionIds",
        "secretsmanager:TagResource",
        "secretsmanager:UntagResource",
        "secretsmanager:DeleteSecret",
        "secretsmanager:RestoreSecret",
        // The default-key refusal of GetSecretValue/PutSecretValue is Secrets Manager's own
        // check (§1.11), not the policy's: the policies allow them.
        GET,
        "secretsmanager:PutSecretValue",
    ] {
        rows.push(row(action).who(bob_b()).act(action).id(admin()).res(policy()).allow());
    }
    rows.push(row("without the resource policy").who(bob_b()).id(admin()).implicit(Res));
    rows.push(
        row("ListSecrets stays in B: no resource, B's own account")
            .who(bob_b())
            .act("secretsmanager:ListSecrets")
            .on(None, None)
            .id(admin())
            .allow(),
    );
    check(rows);
}

#[test]
fn explanations_name_elements_never_values() {
    let e = row("explain")
        .ctx(ctx(&[("aws:SourceIp", "10.9.9.9")]))
        .id(json!({"Sid": "Office", "Effect": "Allow", "Action": GET, "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}))
        .run();
    let closest = e.closest_allow().unwrap();
    assert_eq!(closest.describe(), "identity-0 statement 0 (Sid \"Office\")");
    let Outcome::NotApplied(why) = &closest.outcome else { panic!("{closest:?}") };
    assert_eq!(why.to_string(), "condition IpAddress on aws:SourceIp does not hold");
    assert!(e.decided_by().is_none());
    let allowed = row("allowed").id(json!({"Sid": "Read", "Effect": "Allow", "Action": GET, "Resource": "*"})).run();
    assert_eq!(allowed.decided_by().map(Finding::describe).as_deref(), Some("identity-0 statement 0 (Sid \"Read\")"));
}
