//! Users, their access keys, roles, their inline policies and tags.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    ACCESS_KEYS_PER_USER, Answer, Ctx, IamError, KeyRecord, Meta, TAGS_PER_ENTITY, Xml, date, encode_document, new_id,
    page, policy_size, random, write_tags,
};
use crate::auth::{Credential, CredentialSource};
use crate::iam::store::{Account, PolicyRef, Role, User};

/// Which kind of identity an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Role,
}

impl Kind {
    fn member(self) -> &'static str {
        match self {
            Self::User => "UserName",
            Self::Role => "RoleName",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Role => "role",
        }
    }

    fn not_found(self, name: &str) -> IamError {
        IamError::no_such_entity(format!("The {} with name {name} cannot be found.", self.word()))
    }

    /// AWS's quota names: `PoliciesPerUser`, `TagsPerRole`, ...
    pub(super) fn quota(self, what: &str) -> String {
        format!("{what}Per{}", if self == Self::User { "User" } else { "Role" })
    }
}

/// An identity's parts the generic operations change.
pub(super) struct EntityMut<'a> {
    pub name: &'a str,
    pub inline: &'a mut BTreeMap<String, PolicyRef>,
    pub attached: &'a mut Vec<String>,
    pub tags: &'a mut Vec<(String, String)>,
}

/// The map key of `name`: IAM names are unique regardless of case, and found regardless of it.
pub(super) fn key_of<V>(map: &BTreeMap<String, V>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Runs `change` on the identity `name` of `kind` in the caller's account, under the store's
/// write lock; `policy_known` tells whether a managed policy ARN exists.
pub(super) fn with_entity<R>(
    ctx: &Ctx<'_>,
    kind: Kind,
    name: &str,
    change: impl FnOnce(EntityMut<'_>, &dyn Fn(&str) -> bool) -> Result<R, IamError>,
) -> Result<R, IamError> {
    ctx.store().update(ctx.account, |account, elsewhere| {
        let Account { users, roles, policies, .. } = account;
        let known = |arn: &str| policies.contains_key(arn) || elsewhere(arn);
        match kind {
            Kind::User => {
                let key = key_of(users, name).ok_or_else(|| kind.not_found(name))?;
                let user = users.get_mut(&key).ok_or_else(|| kind.not_found(name))?;
                let user = Arc::make_mut(user);
                let entity = EntityMut {
                    name: &user.name,
                    inline: &mut user.inline,
                    attached: &mut user.attached,
                    tags: &mut user.tags,
                };
                change(entity, &known)
            }
            Kind::Role => {
                let key = key_of(roles, name).ok_or_else(|| kind.not_found(name))?;
                let role = roles.get_mut(&key).ok_or_else(|| kind.not_found(name))?;
                let role = Arc::make_mut(role);
                let entity = EntityMut {
                    name: &role.name,
                    inline: &mut role.inline,
                    attached: &mut role.attached,
                    tags: &mut role.tags,
                };
                change(entity, &known)
            }
        }
    })
}

/// A copy of the caller's account's identities.
pub(super) fn account(ctx: &Ctx<'_>) -> Account {
    ctx.store().account(ctx.account).unwrap_or_default()
}

pub(super) fn find_user(account: &Account, name: &str) -> Result<Arc<User>, IamError> {
    key_of(&account.users, name).and_then(|k| account.users.get(&k).cloned()).ok_or_else(|| Kind::User.not_found(name))
}

pub(super) fn find_role(account: &Account, name: &str) -> Result<Arc<Role>, IamError> {
    key_of(&account.roles, name).and_then(|k| account.roles.get(&k).cloned()).ok_or_else(|| Kind::Role.not_found(name))
}

/// The optional `PermissionsBoundary`: a managed policy that exists.
fn boundary(ctx: &Ctx<'_>) -> Result<Option<String>, IamError> {
    let Some(arn) = ctx.get("PermissionsBoundary") else { return Ok(None) };
    if !super::policy_arn_ok(arn) {
        return Err(IamError::invalid_input(format!("ARN {arn} is not valid.")));
    }
    let owner = crate::iam::store::policy_account(arn);
    let exists = ctx.store().account(owner).is_some_and(|a| a.policies.contains_key(arn));
    if !exists {
        return Err(IamError::no_such_entity(format!("Scope ARN: {arn} does not exist or is not attachable.")));
    }
    Ok(Some(arn.to_string()))
}

fn user_xml(xml: &mut Xml, user: &User, meta: &Meta, with_tags: bool) {
    xml.field("Path", &user.path)
        .field("UserName", &user.name)
        .field("UserId", &user.user_id)
        .field("Arn", &user.arn)
        .field("CreateDate", &date(meta.created(&user.arn)));
    if let Some(boundary) = &user.boundary {
        xml.open("PermissionsBoundary")
            .field("PermissionsBoundaryType", "Policy")
            .field("PermissionsBoundaryArn", boundary)
            .close("PermissionsBoundary");
    }
    if with_tags {
        write_tags(xml, &user.tags);
    }
}

fn role_xml(xml: &mut Xml, role: &Role, meta: &Meta, with_tags: bool) {
    xml.field("Path", &role.path)
        .field("RoleName", &role.name)
        .field("RoleId", &role.role_id)
        .field("Arn", &role.arn)
        .field("CreateDate", &date(meta.created(&role.arn)))
        .field("AssumeRolePolicyDocument", &encode_document(&role.trust.text));
    xml.opt("Description", meta.descriptions.get(&role.arn).map(String::as_str));
    xml.field("MaxSessionDuration", &meta.max_session.get(&role.arn).copied().unwrap_or(3600).to_string());
    if let Some(boundary) = &role.boundary {
        xml.open("PermissionsBoundary")
            .field("PermissionsBoundaryType", "Policy")
            .field("PermissionsBoundaryArn", boundary)
            .close("PermissionsBoundary");
    }
    if with_tags {
        write_tags(xml, &role.tags);
    }
}

fn arn_of(ctx: &Ctx<'_>, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{}:{kind}{path}{name}", ctx.account)
}

pub fn create_user(ctx: &Ctx<'_>) -> Answer {
    let name = ctx.name("UserName", 64)?;
    let path = ctx.path("Path")?;
    let tags = ctx.tags()?;
    let boundary = boundary(ctx)?;
    let mut meta = ctx.meta();
    let user = User {
        name: name.to_string(),
        arn: arn_of(ctx, "user", &path, name),
        path,
        user_id: new_id("AIDA"),
        account_id: ctx.account.to_string(),
        inline: BTreeMap::new(),
        attached: Vec::new(),
        boundary,
        tags,
        access_keys: Vec::new(),
        groups: Vec::new(),
    };
    let user = ctx.store().update(ctx.account, |account, _| {
        if key_of(&account.users, name).is_some() {
            return Err(IamError::already_exists(format!("User with name {name} already exists.")));
        }
        account.users.insert(user.name.clone(), Arc::new(user.clone()));
        Ok(user)
    })?;
    meta.created.insert(user.arn.clone(), ctx.now);
    let mut xml = Xml::new();
    xml.open("User");
    user_xml(&mut xml, &user, &meta, true);
    xml.close("User");
    Ok(Some(xml.finish()))
}

/// The user a request names, or the calling user when it names none.
fn user_name_or_caller<'a>(ctx: &'a Ctx<'_>) -> Result<std::borrow::Cow<'a, str>, IamError> {
    if let Some(name) = ctx.get("UserName") {
        super::check_name("UserName", name, 128)?;
        return Ok(name.into());
    }
    let account = account(ctx);
    account.users.values().find(|u| u.arn == ctx.caller.principal_arn).map(|u| u.name.clone().into()).ok_or_else(|| {
        IamError::validation("Value null at 'userName' failed to satisfy constraint: Member must not be null")
    })
}

pub fn get_user(ctx: &Ctx<'_>) -> Answer {
    let meta = ctx.meta();
    let mut xml = Xml::new();
    xml.open("User");
    let named = ctx.get("UserName");
    let account = account(ctx);
    let user = match named {
        Some(name) => Some(find_user(&account, name)?),
        None => account.users.values().find(|u| u.arn == ctx.caller.principal_arn).cloned(),
    };
    match user {
        Some(user) => user_xml(&mut xml, &user, &meta, true),
        // The account's root user, when it asks about itself.
        None => {
            xml.field("UserId", ctx.account)
                .field("Arn", &crate::auth::root_arn(ctx.account))
                .field("CreateDate", &date(meta.created("")));
        }
    }
    xml.close("User");
    Ok(Some(xml.finish()))
}

pub fn list_users(ctx: &Ctx<'_>) -> Answer {
    let prefix = ctx.path("PathPrefix")?;
    let (max, marker) = ctx.paging()?;
    let account = account(ctx);
    let users: Vec<Arc<User>> = account.users.values().filter(|u| u.path.starts_with(&prefix)).cloned().collect();
    let (users, paging) = page(users, |u| u.name.clone(), max, marker);
    let meta = ctx.meta();
    let mut xml = Xml::new();
    xml.members("Users", &users, |xml, user| user_xml(xml, user, &meta, false));
    Ok(Some(xml.finish() + &paging))
}

pub fn delete_user(ctx: &Ctx<'_>) -> Answer {
    let name = ctx.name("UserName", 128)?;
    let _meta = ctx.meta();
    ctx.store().update(ctx.account, |account, _| {
        let key = key_of(&account.users, name).ok_or_else(|| Kind::User.not_found(name))?;
        let user = account.users.get(&key).ok_or_else(|| Kind::User.not_found(name))?;
        if !user.access_keys.is_empty() {
            return Err(IamError::delete_conflict("Cannot delete entity, must delete access keys first."));
        }
        if !user.inline.is_empty() {
            return Err(IamError::delete_conflict("Cannot delete entity, must delete policies first."));
        }
        if !user.attached.is_empty() {
            return Err(IamError::delete_conflict("Cannot delete entity, must detach all policies first."));
        }
        account.users.remove(&key);
        Ok(None)
    })
}

pub fn tag(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(kind.member(), 128)?;
    let tags = ctx.tags()?;
    let _meta = ctx.meta();
    with_entity(ctx, kind, name, |entity, _| {
        let mut merged = entity.tags.clone();
        for (key, value) in tags {
            match merged.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                Some(existing) => *existing = (key, value),
                None => merged.push((key, value)),
            }
        }
        if merged.len() > TAGS_PER_ENTITY {
            return Err(IamError::limit_exceeded(format!(
                "Cannot exceed quota for {}: {TAGS_PER_ENTITY}",
                kind.quota("Tags")
            )));
        }
        *entity.tags = merged;
        Ok(None)
    })
}

pub fn untag(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(kind.member(), 128)?;
    let keys = ctx.params.list("TagKeys");
    if keys.len() > TAGS_PER_ENTITY {
        return Err(IamError::validation(format!(
            "Value at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to {TAGS_PER_ENTITY}"
        )));
    }
    let _meta = ctx.meta();
    with_entity(ctx, kind, name, |entity, _| {
        entity.tags.retain(|(k, _)| !keys.iter().any(|gone| gone.eq_ignore_ascii_case(k)));
        Ok(None)
    })
}

pub fn list_tags(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(kind.member(), 128)?;
    let (max, marker) = ctx.paging()?;
    let account = account(ctx);
    let tags = match kind {
        Kind::User => find_user(&account, name)?.tags.clone(),
        Kind::Role => find_role(&account, name)?.tags.clone(),
    };
    let (tags, paging) = page(tags, |(k, _)| k.clone(), max, marker);
    let mut xml = Xml::new();
    xml.members("Tags", &tags, |xml, (key, value)| {
        xml.field("Key", key).field("Value", value);
    });
    Ok(Some(xml.finish() + &paging))
}

const KEY_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn create_access_key(ctx: &Ctx<'_>) -> Answer {
    let name = user_name_or_caller(ctx)?;
    let mut meta = ctx.meta();
    let access_key_id = format!("AKIA{}", random(KEY_ALPHABET, 16));
    let user = ctx.store().update(ctx.account, |account, _| {
        let key = key_of(&account.users, &name).ok_or_else(|| Kind::User.not_found(&name))?;
        let user = account.users.get_mut(&key).ok_or_else(|| Kind::User.not_found(&name))?;
        if user.access_keys.len() >= ACCESS_KEYS_PER_USER {
            return Err(IamError::limit_exceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
            )));
        }
        Arc::make_mut(user).access_keys.push(access_key_id.clone());
        Ok(user.clone())
    })?;
    let credential = Credential {
        access_key_id: access_key_id.clone(),
        secret_access_key: random(SECRET_ALPHABET, 40),
        account_id: ctx.account.to_string(),
        principal_arn: user.arn.clone(),
        user_id: user.user_id.clone(),
        session_token: None,
        expiration: None,
        source: CredentialSource::Iam,
        session_policy: None,
    };
    if let Err(e) = ctx.app.auth.credentials().add_key(credential.clone()) {
        tracing::error!(error = %e, "a new access key id collided with a known one");
        return Err(IamError::new(500, "ServiceFailure", "The access key could not be created; try again."));
    }
    meta.created.insert(access_key_id.clone(), ctx.now);
    let mut xml = Xml::new();
    xml.open("AccessKey")
        .field("UserName", &user.name)
        .field("AccessKeyId", &access_key_id)
        .field("Status", "Active")
        .field("SecretAccessKey", &credential.secret_access_key)
        .field("CreateDate", &date(ctx.now))
        .close("AccessKey");
    meta.keys.insert(access_key_id, KeyRecord { user: user.name.clone(), active: true, credential });
    Ok(Some(xml.finish()))
}

pub fn list_access_keys(ctx: &Ctx<'_>) -> Answer {
    let name = user_name_or_caller(ctx)?;
    let (max, marker) = ctx.paging()?;
    let user = find_user(&account(ctx), &name)?;
    let meta = ctx.meta();
    let mut keys = user.access_keys.clone();
    keys.sort();
    let (keys, paging) = page(keys, Clone::clone, max, marker);
    let mut xml = Xml::new();
    xml.members("AccessKeyMetadata", &keys, |xml, id| {
        let active = meta.keys.get(id).is_none_or(|k| k.active);
        xml.field("UserName", &user.name)
            .field("AccessKeyId", id)
            .field("Status", if active { "Active" } else { "Inactive" })
            .field("CreateDate", &date(meta.created(id)));
    });
    Ok(Some(xml.finish() + &paging))
}

/// The user's key `id`, or IAM's refusal naming it.
fn users_key(ctx: &Ctx<'_>, user: &str, id: &str) -> Result<Arc<User>, IamError> {
    let user = find_user(&account(ctx), user)?;
    if !user.access_keys.iter().any(|k| k == id) {
        return Err(IamError::no_such_entity(format!("The Access Key with id {id} cannot be found.")));
    }
    Ok(user)
}

pub fn update_access_key(ctx: &Ctx<'_>) -> Answer {
    let name = user_name_or_caller(ctx)?;
    let id = ctx.required("AccessKeyId")?;
    let status = ctx.required("Status")?;
    let active = match status {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(IamError::validation(format!(
                "Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            )));
        }
    };
    let mut meta = ctx.meta();
    let user = users_key(ctx, &name, id)?;
    let credentials = ctx.app.auth.credentials();
    let record = match meta.keys.get(id) {
        Some(record) => record.clone(),
        // A key declared in a file: its credential is the record.
        None => match credentials.lookup(id) {
            Some(credential) => KeyRecord { user: user.name.clone(), active: true, credential: (*credential).clone() },
            None => return Err(IamError::no_such_entity(format!("The Access Key with id {id} cannot be found."))),
        },
    };
    if active && !record.active {
        let _ = credentials.add_key(record.credential.clone());
    } else if !active && record.active {
        credentials.remove_key(id);
    }
    meta.keys.insert(id.to_string(), KeyRecord { active, ..record });
    Ok(None)
}

pub fn delete_access_key(ctx: &Ctx<'_>) -> Answer {
    let name = user_name_or_caller(ctx)?;
    let id = ctx.required("AccessKeyId")?;
    let mut meta = ctx.meta();
    let user = users_key(ctx, &name, id)?;
    ctx.store().update(ctx.account, |account, _| {
        if let Some(user) = account.users.get_mut(&user.name) {
            Arc::make_mut(user).access_keys.retain(|k| k != id);
        }
    });
    ctx.app.auth.credentials().remove_key(id);
    meta.keys.remove(id);
    meta.created.remove(id);
    Ok(None)
}

/// The trust policy size quota.
const TRUST_POLICY_SIZE: usize = 2048;

fn trust_document(ctx: &Ctx<'_>, member: &str) -> Result<PolicyRef, IamError> {
    let document = ctx.document(member, false)?;
    if policy_size(&document.text) > TRUST_POLICY_SIZE {
        return Err(IamError::limit_exceeded(format!("Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")));
    }
    Ok(Arc::new(document))
}

pub fn create_role(ctx: &Ctx<'_>) -> Answer {
    let name = ctx.name("RoleName", 64)?;
    let path = ctx.path("Path")?;
    let trust = trust_document(ctx, "AssumeRolePolicyDocument")?;
    let description = ctx.get("Description").map(str::to_string);
    if description.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        return Err(IamError::validation(
            "Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000",
        ));
    }
    let max_session = match ctx.get("MaxSessionDuration") {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (3600..=43_200).contains(&n) => Some(n),
            _ => {
                return Err(IamError::validation(format!(
                    "Value '{text}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
                )));
            }
        },
    };
    let tags = ctx.tags()?;
    let boundary = boundary(ctx)?;
    let mut meta = ctx.meta();
    let role = Role {
        name: name.to_string(),
        arn: arn_of(ctx, "role", &path, name),
        path,
        role_id: new_id("AROA"),
        account_id: ctx.account.to_string(),
        trust,
        inline: BTreeMap::new(),
        attached: Vec::new(),
        boundary,
        tags,
    };
    let role = ctx.store().update(ctx.account, |account, _| {
        if key_of(&account.roles, name).is_some() {
            return Err(IamError::already_exists(format!("Role with name {name} already exists.")));
        }
        account.roles.insert(role.name.clone(), Arc::new(role.clone()));
        Ok(role)
    })?;
    meta.created.insert(role.arn.clone(), ctx.now);
    if let Some(description) = description {
        meta.descriptions.insert(role.arn.clone(), description);
    }
    if let Some(max) = max_session {
        meta.max_session.insert(role.arn.clone(), max);
    }
    let mut xml = Xml::new();
    xml.open("Role");
    role_xml(&mut xml, &role, &meta, true);
    xml.close("Role");
    Ok(Some(xml.finish()))
}

pub fn get_role(ctx: &Ctx<'_>) -> Answer {
    let name = ctx.name("RoleName", 64)?;
    let role = find_role(&account(ctx), name)?;
    let meta = ctx.meta();
    let mut xml = Xml::new();
    xml.open("Role");
    role_xml(&mut xml, &role, &meta, true);
    xml.close("Role");
    Ok(Some(xml.finish()))
}

pub fn list_roles(ctx: &Ctx<'_>) -> Answer {
    let prefix = ctx.path("PathPrefix")?;
    let (max, marker) = ctx.paging()?;
    let account = account(ctx);
    let roles: Vec<Arc<Role>> = account.roles.values().filter(|r| r.path.starts_with(&prefix)).cloned().collect();
    let (roles, paging) = page(roles, |r| r.name.clone(), max, marker);
    let meta = ctx.meta();
    let mut xml = Xml::new();
    xml.members("Roles", &roles, |xml, role| role_xml(xml, role, &meta, false));
    Ok(Some(xml.finish() + &paging))
}

/// smemu keeps no instance profiles: a role is in none (Terraform asks before it deletes one).
pub fn list_instance_profiles_for_role(ctx: &Ctx<'_>) -> Answer {
    let name = ctx.name("RoleName", 64)?;
    find_role(&account(ctx), name)?;
    let mut xml = Xml::new();
    xml.members("InstanceProfiles", &[] as &[()], |_, ()| {});
    xml.field("IsTruncated", "false");
    Ok(Some(xml.finish()))
}

pub fn delete_role(ctx: &Ctx<'_>) -> Answer {
    let name = ctx.name("RoleName", 64)?;
    let _meta = ctx.meta();
    ctx.store().update(ctx.account, |account, _| {
        let key = key_of(&account.roles, name).ok_or_else(|| Kind::Role.not_found(name))?;
        let role = account.roles.get(&key).ok_or_else(|| Kind::Role.not_found(name))?;
        if !role.inline.is_empty() {
            return Err(IamError::delete_conflict("Cannot delete entity, must delete policies first."));
        }
        if !role.attached.is_empty() {
            return Err(IamError::delete_conflict("Cannot delete entity, must detach all policies first."));
        }
        account.roles.remove(&key);
        Ok(None)
    })
}

pub fn update_assume_role_policy(ctx: &Ctx<'_>) -> Answer {
    let name = ctx.name("RoleName", 64)?;
    let trust = trust_document(ctx, "PolicyDocument")?;
    let _meta = ctx.meta();
    ctx.store().update(ctx.account, |account, _| {
        let key = key_of(&account.roles, name).ok_or_else(|| Kind::Role.not_found(name))?;
        let role = account.roles.get_mut(&key).ok_or_else(|| Kind::Role.not_found(name))?;
        Arc::make_mut(role).trust = trust;
        Ok(None)
    })
}

pub fn put_inline(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(kind.member(), 128)?;
    let policy_name = ctx.name("PolicyName", 128)?;
    let document = ctx.document("PolicyDocument", true)?;
    let quota = if kind == Kind::User { 2048 } else { 10_240 };
    let _meta = ctx.meta();
    with_entity(ctx, kind, name, |entity, _| {
        // The quota counts every inline policy of the identity together.
        let others: usize = entity
            .inline
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(policy_name))
            .map(|(_, d)| policy_size(&d.text))
            .sum();
        if others + policy_size(&document.text) > quota {
            return Err(IamError::limit_exceeded(format!(
                "Maximum policy size of {quota} bytes exceeded for {} {}",
                kind.word(),
                entity.name
            )));
        }
        let key = key_of(entity.inline, policy_name).unwrap_or_else(|| policy_name.to_string());
        entity.inline.insert(key, Arc::new(document));
        Ok(None)
    })
}

fn inline_not_found(kind: Kind, policy_name: &str) -> IamError {
    IamError::no_such_entity(format!("The {} policy with name {policy_name} cannot be found.", kind.word()))
}

pub fn get_inline(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(kind.member(), 128)?;
    let policy_name = ctx.name("PolicyName", 128)?;
    let account = account(ctx);
    let (entity_name, inline) = match kind {
        Kind::User => find_user(&account, name).map(|u| (u.name.clone(), u.inline.clone()))?,
        Kind::Role => find_role(&account, name).map(|r| (r.name.clone(), r.inline.clone()))?,
    };
    let key = key_of(&inline, policy_name).ok_or_else(|| inline_not_found(kind, policy_name))?;
    let document = inline.get(&key).ok_or_else(|| inline_not_found(kind, policy_name))?;
    let mut xml = Xml::new();
    xml.field(kind.member(), &entity_name)
        .field("PolicyName", &key)
        .field("PolicyDocument", &encode_document(&document.text));
    Ok(Some(xml.finish()))
}

pub fn delete_inline(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(kind.member(), 128)?;
    let policy_name = ctx.name("PolicyName", 128)?;
    let _meta = ctx.meta();
    with_entity(ctx, kind, name, |entity, _| {
        let key = key_of(entity.inline, policy_name).ok_or_else(|| inline_not_found(kind, policy_name))?;
        entity.inline.remove(&key);
        Ok(None)
    })
}

pub fn list_inline(ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let name = ctx.name(kind.member(), 128)?;
    let (max, marker) = ctx.paging()?;
    let account = account(ctx);
    let names: Vec<String> = match kind {
        Kind::User => find_user(&account, name)?.inline.keys().cloned().collect(),
        Kind::Role => find_role(&account, name)?.inline.keys().cloned().collect(),
    };
    let (names, paging) = page(names, Clone::clone, max, marker);
    let mut xml = Xml::new();
    xml.open("PolicyNames");
    for name in &names {
        xml.field("member", name);
    }
    xml.close("PolicyNames");
    Ok(Some(xml.finish() + &paging))
}
