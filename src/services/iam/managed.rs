//! Managed policies, their versions, and their attachments to users and roles.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::entities::{Kind, account, find_role, find_user, with_entity};
use super::{
    Answer, Ctx, IamError, Meta, VERSIONS_PER_POLICY, Xml, date, encode_document, new_id, page, policy_arn_ok,
    policy_size, write_tags,
};
use crate::iam::store::{AWS_MANAGED, Account, ManagedPolicy, policy_account};

/// A managed policy's size quota, in characters other than whitespace.
const POLICY_SIZE: usize = 6144;
/// Managed policies one user or role may have attached.
const ATTACHED_PER_ENTITY: usize = 10;

fn not_found(arn: &str) -> IamError {
    IamError::no_such_entity(format!("Policy {arn} was not found."))
}

fn version_not_found(arn: &str, version: &str) -> IamError {
    IamError::no_such_entity(format!("Policy {arn} version {version} does not exist or is not attachable."))
}

/// The `PolicyArn` member, well formed.
fn policy_arn<'a>(ctx: &'a Ctx<'_>) -> Result<&'a str, IamError> {
    let arn = ctx.required("PolicyArn")?;
    if !policy_arn_ok(arn) {
        return Err(IamError::invalid_input(format!("ARN {arn} is not valid.")));
    }
    Ok(arn)
}

/// The policy `arn`, when the caller's account or AWS holds it.
fn find(ctx: &Ctx<'_>, arn: &str) -> Result<Arc<ManagedPolicy>, IamError> {
    let owner = policy_account(arn);
    if owner != ctx.account && owner != AWS_MANAGED {
        return Err(not_found(arn));
    }
    ctx.store().account(owner).and_then(|a| a.policies.get(arn).cloned()).ok_or_else(|| not_found(arn))
}

/// How many of `account`'s users and roles have `arn` attached, and use it as boundary.
fn usage(account: &Account, arn: &str) -> (usize, usize) {
    let attached = account.users.values().filter(|u| u.attached.iter().any(|a| a == arn)).count()
        + account.roles.values().filter(|r| r.attached.iter().any(|a| a == arn)).count();
    let boundary = account.users.values().filter(|u| u.boundary.as_deref() == Some(arn)).count()
        + account.roles.values().filter(|r| r.boundary.as_deref() == Some(arn)).count();
    (attached, boundary)
}

fn version_date(meta: &Meta, arn: &str, version: &str) -> String {
    date(
        meta.version_created.get(&(arn.to_string(), version.to_string())).copied().unwrap_or_else(|| meta.created(arn)),
    )
}

fn policy_xml(xml: &mut Xml, policy: &ManagedPolicy, account: &Account, meta: &Meta, described: bool) {
    let (attached, boundary) = usage(account, &policy.arn);
    xml.field("PolicyName", &policy.name)
        .field("PolicyId", &policy.policy_id)
        .field("Arn", &policy.arn)
        .field("Path", &policy.path)
        .field("DefaultVersionId", &policy.default_version)
        .field("AttachmentCount", &attached.to_string())
        .field("PermissionsBoundaryUsageCount", &boundary.to_string())
        .field("IsAttachable", "true");
    if described {
        xml.opt("Description", meta.descriptions.get(&policy.arn).map(String::as_str));
    }
    xml.field("CreateDate", &date(meta.created(&policy.arn)))
        .field("UpdateDate", &version_date(meta, &policy.arn, &policy.default_version));
    if described {
        write_tags(xml, meta.policy_tags.get(&policy.arn).map_or(&[], Vec::as_slice));
    }
}

pub fn create_policy(ctx: &Ctx<'_>) -> Answer {
    let name = ctx.name("PolicyName", 128)?;
    let path = ctx.path("Path")?;
    let document = ctx.document("PolicyDocument", true)?;
    if policy_size(&document.text) > POLICY_SIZE {
        return Err(IamError::limit_exceeded(format!("Cannot exceed quota for PolicySize: {POLICY_SIZE}")));
    }
    let description = ctx.get("Description").map(str::to_string);
    let tags = ctx.tags()?;
    let mut meta = ctx.meta();
    let policy = ManagedPolicy {
        name: name.to_string(),
        arn: format!("arn:aws:iam::{}:policy{path}{name}", ctx.account),
        path,
        policy_id: new_id("ANPA"),
        versions: BTreeMap::from([("v1".to_string(), Arc::new(document))]),
        default_version: "v1".to_string(),
    };
    let (policy, account) = ctx.store().update(ctx.account, |account, _| {
        if account.policies.values().any(|p| p.name.eq_ignore_ascii_case(name)) {
            return Err(IamError::already_exists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        account.policies.insert(policy.arn.clone(), Arc::new(policy.clone()));
        Ok((policy, account.clone()))
    })?;
    meta.created.insert(policy.arn.clone(), ctx.now);
    meta.version_created.insert((policy.arn.clone(), "v1".to_string()), ctx.now);
    meta.next_version.insert(policy.arn.clone(), 2);
    if let Some(description) = description {
        meta.descriptions.insert(policy.arn.clone(), description);
    }
    if !tags.is_empty() {
        meta.policy_tags.insert(policy.arn.clone(), tags);
    }
    let mut xml = Xml::new();
    xml.open("Policy");
    policy_xml(&mut xml, &policy, &account, &meta, false);
    write_tags(&mut xml, meta.policy_tags.get(&policy.arn).map_or(&[], Vec::as_slice));
    xml.close("Policy");
    Ok(Some(xml.finish()))
}

pub fn get_policy(ctx: &Ctx<'_>) -> Answer {
    let arn = policy_arn(ctx)?;
    let policy = find(ctx, arn)?;
    let account = account(ctx);
    let meta = ctx.meta();
    let mut xml = Xml::new();
    xml.open("Policy");
    policy_xml(&mut xml, &policy, &account, &meta, true);
    xml.close("Policy");
    Ok(Some(xml.finish()))
}

pub fn list_policies(ctx: &Ctx<'_>) -> Answer {
    let prefix = ctx.path("PathPrefix")?;
    let (max, marker) = ctx.paging()?;
    let scope = ctx.get("Scope").unwrap_or("All");
    let (local, aws) = match scope {
        "All" => (true, true),
        "Local" => (true, false),
        "AWS" => (false, true),
        other => {
            return Err(IamError::validation(format!(
                "Value '{other}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
            )));
        }
    };
    let only_attached = ctx.get("OnlyAttached").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let account = account(ctx);
    let mut policies: Vec<Arc<ManagedPolicy>> = Vec::new();
    if local {
        policies.extend(account.policies.values().cloned());
    }
    if aws && let Some(managed) = ctx.store().account(AWS_MANAGED) {
        policies.extend(managed.policies.values().cloned());
    }
    policies.retain(|p| p.path.starts_with(&prefix) && (!only_attached || usage(&account, &p.arn).0 > 0));
    policies.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.arn.cmp(&b.arn)));
    let (policies, paging) = page(policies, |p| p.name.clone(), max, marker);
    let meta = ctx.meta();
    let mut xml = Xml::new();
    xml.members("Policies", &policies, |xml, policy| policy_xml(xml, policy, &account, &meta, false));
    Ok(Some(xml.finish() + &paging))
}

pub fn delete_policy(ctx: &Ctx<'_>) -> Answer {
    let arn = policy_arn(ctx)?;
    let mut meta = ctx.meta();
    if policy_account(arn) != ctx.account {
        return Err(not_found(arn));
    }
    ctx.store().update(ctx.account, |account, _| {
        let policy = account.policies.get(arn).ok_or_else(|| not_found(arn))?;
        let (attached, boundary) = usage(account, arn);
        if attached + boundary > 0 {
            return Err(IamError::delete_conflict("Cannot delete a policy attached to entities."));
        }
        if policy.versions.len() > 1 {
            return Err(IamError::delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        account.policies.remove(arn);
        Ok(())
    })?;
    meta.created.remove(arn);
    meta.descriptions.remove(arn);
    meta.policy_tags.remove(arn);
    meta.version_created.retain(|(policy, _), _| policy != arn);
    Ok(None)
}

/// Runs `change` on the caller's own managed policy `arn`, under the store's write lock.
fn with_policy<R>(
    ctx: &Ctx<'_>,
    arn: &str,
    change: impl FnOnce(&mut ManagedPolicy) -> Result<R, IamError>,
) -> Result<R, IamError> {
    if policy_account(arn) != ctx.account {
        return Err(not_found(arn));
    }
    ctx.store().update(ctx.account, |account, _| {
        let policy = account.policies.get_mut(arn).ok_or_else(|| not_found(arn))?;
        change(Arc::make_mut(policy))
    })
}

fn version_xml(xml: &mut Xml, policy: &ManagedPolicy, version: &str, meta: &Meta, document: Option<&str>) {
    xml.opt("Document", document.map(encode_document).as_deref());
    xml.field("VersionId", version)
        .field("IsDefaultVersion", if policy.default_version == version { "true" } else { "false" })
        .field("CreateDate", &version_date(meta, &policy.arn, version));
}

pub fn create_policy_version(ctx: &Ctx<'_>) -> Answer {
    let arn = policy_arn(ctx)?;
    let document = ctx.document("PolicyDocument", true)?;
    if policy_size(&document.text) > POLICY_SIZE {
        return Err(IamError::limit_exceeded(format!("Cannot exceed quota for PolicySize: {POLICY_SIZE}")));
    }
    let set_default = ctx.get("SetAsDefault").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut meta = ctx.meta();
    let next = meta.next_version.get(arn).copied();
    let (policy, version) = with_policy(ctx, arn, |policy| {
        if policy.versions.len() >= VERSIONS_PER_POLICY {
            return Err(IamError::limit_exceeded(format!(
                "A managed policy can have up to {VERSIONS_PER_POLICY} versions. Before you create a new version, you must delete an existing version."
            )));
        }
        // Declared policies start numbering after their highest version.
        let highest = policy.versions.keys().filter_map(|v| v.strip_prefix('v')?.parse::<u32>().ok()).max();
        let number = next.unwrap_or_else(|| highest.unwrap_or(0) + 1);
        let version = format!("v{number}");
        policy.versions.insert(version.clone(), Arc::new(document));
        if set_default {
            policy.default_version.clone_from(&version);
        }
        Ok((policy.clone(), version))
    })?;
    let number: u32 = version.trim_start_matches('v').parse().unwrap_or(1);
    meta.next_version.insert(arn.to_string(), number + 1);
    meta.version_created.insert((arn.to_string(), version.clone()), ctx.now);
    let mut xml = Xml::new();
    xml.open("PolicyVersion");
    version_xml(&mut xml, &policy, &version, &meta, None);
    xml.close("PolicyVersion");
    Ok(Some(xml.finish()))
}

/// The `VersionId` member, as IAM spells versions.
fn version_id<'a>(ctx: &'a Ctx<'_>) -> Result<&'a str, IamError> {
    let version = ctx.required("VersionId")?;
    let digits = version.strip_prefix('v').map(|rest| rest.split('.').next().unwrap_or_default());
    if !digits.is_some_and(|d| !d.is_empty() && !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit())) {
        return Err(IamError::validation(format!(
            "Value '{version}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
        )));
    }
    Ok(version)
}

pub fn get_policy_version(ctx: &Ctx<'_>) -> Answer {
    let arn = policy_arn(ctx)?;
    let version = version_id(ctx)?;
    let policy = find(ctx, arn).map_err(|_| version_not_found(arn, version))?;
    let document = policy.versions.get(version).ok_or_else(|| version_not_found(arn, version))?;
    let meta = ctx.meta();
    let mut xml = Xml::new();
    xml.open("PolicyVersion");
    version_xml(&mut xml, &policy, version, &meta, Some(&document.text));
    xml.close("PolicyVersion");
    Ok(Some(xml.finish()))
}

pub fn delete_policy_version(ctx: &Ctx<'_>) -> Answer {
    let arn = policy_arn(ctx)?;
    let version = version_id(ctx)?;
    let mut meta = ctx.meta();
    with_policy(ctx, arn, |policy| {
        if !policy.versions.contains_key(version) {
            return Err(version_not_found(arn, version));
        }
        if policy.default_version == version {
            return Err(IamError::delete_conflict("Cannot delete the default version of a policy."));
        }
        policy.versions.remove(version);
        Ok(())
    })?;
    meta.version_created.remove(&(arn.to_string(), version.to_string()));
    Ok(None)
}

pub fn set_default_policy_version(ctx: &Ctx<'_>) -> Answer {
    let arn = policy_arn(ctx)?;
    let version = version_id(ctx)?;
    let _meta = ctx.meta();
    with_policy(ctx, arn, |policy| {
        if !policy.versions.contains_key(version) {
            return Err(version_not_found(arn, version));
        }
        policy.default_version = version.to_string();
        Ok(None)
    })
}

pub fn list_policy_versions(ctx: &Ctx<'_>) -> Answer {
    let arn = policy_arn(ctx)?;
    let (max, marker) = ctx.paging()?;
    let policy = find(ctx, arn)?;
    let mut versions: Vec<String> = policy.versions.keys().cloned().collect();
    // Newest first, as IAM lists them.
    versions.sort_by_key(|v| std::cmp::Reverse(v.trim_start_matches('v').parse::<u32>().unwrap_or(0)));
    let (versions, paging) = page(versions, Clone::clone, max, marker);
    let meta = ctx.meta();
    let mut xml = Xml::new();
    xml.members("Versions", &versions, |xml, version| version_xml(xml, &policy, version, &meta, None));
    Ok(Some(xml.finish() + &paging))
}

pub fn attach(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(if kind == Kind::User { "UserName" } else { "RoleName" }, 128)?;
    let arn = policy_arn(ctx)?;
    let _meta = ctx.meta();
    with_entity(ctx, kind, name, |entity, known| {
        if !known(arn) {
            return Err(IamError::no_such_entity(format!("Policy {arn} does not exist or is not attachable.")));
        }
        if entity.attached.iter().any(|a| a == arn) {
            return Ok(None);
        }
        if entity.attached.len() >= ATTACHED_PER_ENTITY {
            return Err(IamError::limit_exceeded(format!(
                "Cannot exceed quota for {}: {ATTACHED_PER_ENTITY}",
                kind.quota("Policies")
            )));
        }
        entity.attached.push(arn.to_string());
        Ok(None)
    })
}

pub fn detach(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(if kind == Kind::User { "UserName" } else { "RoleName" }, 128)?;
    let arn = policy_arn(ctx)?;
    let _meta = ctx.meta();
    with_entity(ctx, kind, name, |entity, _| {
        let before = entity.attached.len();
        entity.attached.retain(|a| a != arn);
        if entity.attached.len() == before {
            return Err(not_found(arn));
        }
        Ok(None)
    })
}

/// A policy's name from its ARN, for attachments whose policy is gone.
fn name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

pub fn list_attached(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(if kind == Kind::User { "UserName" } else { "RoleName" }, 128)?;
    let prefix = ctx.path("PathPrefix")?;
    let (max, marker) = ctx.paging()?;
    let account = account(ctx);
    let attached = match kind {
        Kind::User => find_user(&account, name)?.attached.clone(),
        Kind::Role => find_role(&account, name)?.attached.clone(),
    };
    let path_of = |arn: &str| {
        let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
        let path = resource.strip_prefix("policy").unwrap_or("/");
        path[..path.len() - name_of(arn).len()].to_string()
    };
    let mut attached: Vec<String> = attached.into_iter().filter(|arn| path_of(arn).starts_with(&prefix)).collect();
    attached.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    let (attached, paging) = page(attached, |arn| name_of(arn).to_string(), max, marker);
    let mut xml = Xml::new();
    xml.members("AttachedPolicies", &attached, |xml, arn| {
        xml.field("PolicyName", name_of(arn)).field("PolicyArn", arn);
    });
    Ok(Some(xml.finish() + &paging))
}

pub fn list_entities_for_policy(ctx: &Ctx<'_>) -> Answer {
    let arn = policy_arn(ctx)?;
    let prefix = ctx.path("PathPrefix")?;
    let (max, marker) = ctx.paging()?;
    let filter = ctx.get("EntityFilter");
    if let Some(other) =
        filter.filter(|f| !["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"].contains(f))
    {
        return Err(IamError::validation(format!(
            "Value '{other}' at 'entityFilter' failed to satisfy constraint: Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]"
        )));
    }
    find(ctx, arn)?;
    let account = account(ctx);
    let wants = |kind: &str| filter.is_none_or(|f| f == kind);
    // (sort key, is user, name, id)
    let mut entities: Vec<(String, bool, String, String)> = Vec::new();
    if wants("User") {
        entities.extend(
            account
                .users
                .values()
                .filter(|u| u.path.starts_with(&prefix) && u.attached.iter().any(|a| a == arn))
                .map(|u| (format!("user/{}", u.name), true, u.name.clone(), u.user_id.clone())),
        );
    }
    if wants("Role") {
        entities.extend(
            account
                .roles
                .values()
                .filter(|r| r.path.starts_with(&prefix) && r.attached.iter().any(|a| a == arn))
                .map(|r| (format!("role/{}", r.name), false, r.name.clone(), r.role_id.clone())),
        );
    }
    entities.sort();
    let (entities, paging) = page(entities, |e| e.0.clone(), max, marker);
    let users: Vec<_> = entities.iter().filter(|e| e.1).collect();
    let roles: Vec<_> = entities.iter().filter(|e| !e.1).collect();
    let mut xml = Xml::new();
    xml.members("PolicyGroups", &[] as &[()], |_, ()| {});
    xml.members("PolicyUsers", &users, |xml, (_, _, name, id)| {
        xml.field("UserName", name).field("UserId", id);
    });
    xml.members("PolicyRoles", &roles, |xml, (_, _, name, id)| {
        xml.field("RoleName", name).field("RoleId", id);
    });
    Ok(Some(xml.finish() + &paging))
}
