//! The identity store: IAM's users, roles and managed policies, per account, shaped as IAM keeps
//! them so that the IAM API can later write into the same store.
//!
//! A user has inline policies, attached managed policies, an optional permissions boundary,
//! tags, the groups it is in (whose inline and attached policies it holds too) and access keys
//! (the keys themselves live with the credentials, which authenticate them); a role has the same plus its trust policy. A managed policy has versions, one of them
//! the default, which is the one in force. AWS managed policies live under the account `aws`.
//!
//! Written while the credentials file and seeds load (and, later, by the IAM API); read once per
//! authorised request, under a read lock that writers almost never hold.

use foldhash::HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use super::Document;

/// The account AWS managed policies belong to (`arn:aws:iam::aws:policy/...`).
pub const AWS_MANAGED: &str = "aws";

/// An inline policy, or the version of a managed policy in force, as evaluation needs it.
pub type PolicyRef = Arc<Document>;

/// An IAM user.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// `AIDA…`.
    pub user_id: String,
    pub account_id: String,
    /// Inline policies by name.
    pub inline: BTreeMap<String, PolicyRef>,
    /// ARNs of the attached managed policies.
    pub attached: Vec<String>,
    /// ARN of the managed policy used as permissions boundary.
    pub boundary: Option<String>,
    pub tags: Vec<(String, String)>,
    /// The user's access key ids (the secrets are with the credentials).
    pub access_keys: Vec<String>,
    /// Names of the groups the user is in (in its own account): their policies are the user's too.
    pub groups: Vec<String>,
}

/// An IAM group: policies its users hold (a group is no principal of its own).
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// `AGPA…`.
    pub group_id: String,
    pub account_id: String,
    pub inline: BTreeMap<String, PolicyRef>,
    pub attached: Vec<String>,
}

/// An IAM role.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// `AROA…`.
    pub role_id: String,
    pub account_id: String,
    /// Who may assume it.
    pub trust: PolicyRef,
    pub inline: BTreeMap<String, PolicyRef>,
    pub attached: Vec<String>,
    pub boundary: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// A managed policy and its versions.
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub policy_id: String,
    /// Versions by id (`v1`, `v2`, ...).
    pub versions: BTreeMap<String, PolicyRef>,
    pub default_version: String,
}

impl ManagedPolicy {
    /// The version in force.
    #[must_use]
    pub fn document(&self) -> Option<&PolicyRef> {
        self.versions.get(&self.default_version)
    }
}

/// One account's identities.
#[derive(Debug, Default, Clone)]
pub struct Account {
    pub users: BTreeMap<String, Arc<User>>,
    pub roles: BTreeMap<String, Arc<Role>>,
    pub groups: BTreeMap<String, Arc<Group>>,
    /// Managed policies by ARN.
    pub policies: BTreeMap<String, Arc<ManagedPolicy>>,
}

/// Who is calling, as far as identity policies go: the identity's own policies, its
/// boundary and its tags.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    /// (label, document) of every identity policy: inline ones labelled by name, managed ones by ARN.
    pub identity: Vec<(String, PolicyRef)>,
    pub boundary: Option<(String, PolicyRef)>,
    pub tags: Vec<(String, String)>,
    /// The IAM user's name (`aws:username`), for users only.
    pub username: Option<String>,
    /// Whether the identity is declared at all.
    pub known: bool,
}

/// Every account's identities.
#[derive(Debug)]
pub struct IdentityStore {
    accounts: RwLock<HashMap<String, Account>>,
    /// Moves on with every change, so what was read of the store can be kept until then;
    /// unique across the stores of one process.
    generation: AtomicU64,
}

/// Where every store's generations come from.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    GENERATIONS.fetch_add(1, Ordering::Relaxed)
}

impl Default for IdentityStore {
    fn default() -> Self {
        Self { accounts: RwLock::default(), generation: AtomicU64::new(next_generation()) }
    }
}

/// What an `iam` section or a credentials file declares, checked and ready to enter the store.
#[derive(Debug, Default, Clone)]
pub struct Declared {
    pub users: Vec<User>,
    pub roles: Vec<Role>,
    pub groups: Vec<Group>,
    pub policies: Vec<ManagedPolicy>,
}

impl IdentityStore {
    /// Enters `declared`: an identity or policy declared again replaces the earlier one. Every
    /// attachment and boundary must name a managed policy declared here or before, and every
    /// group a user is in a group of its account declared here or before; otherwise nothing is
    /// entered.
    ///
    /// # Errors
    /// The first attachment naming an unknown policy, or membership naming an unknown group.
    pub fn declare(&self, declared: Declared) -> Result<(), String> {
        let mut accounts = self.accounts.write();
        let known = |arn: &str, accounts: &HashMap<String, Account>| {
            declared.policies.iter().any(|p| p.arn == arn)
                || accounts.values().any(|account| account.policies.contains_key(arn))
        };
        let attachments = declared
            .users
            .iter()
            .map(|u| (&u.arn, &u.attached, &u.boundary))
            .chain(declared.roles.iter().map(|r| (&r.arn, &r.attached, &r.boundary)))
            .chain(declared.groups.iter().map(|g| (&g.arn, &g.attached, &None)));
        for (who, attached, boundary) in attachments {
            if let Some(missing) = attached.iter().chain(boundary).find(|arn| !known(arn, &accounts)) {
                return Err(format!(
                    "{who} is attached to the managed policy {missing}, which is not declared (add it to Policies)"
                ));
            }
        }
        for user in &declared.users {
            let declared_group = |name: &String| {
                declared.groups.iter().any(|g| &g.name == name && g.account_id == user.account_id)
                    || accounts.get(&user.account_id).is_some_and(|a| a.groups.contains_key(name))
            };
            if let Some(missing) = user.groups.iter().find(|name| !declared_group(name)) {
                return Err(format!(
                    "{} is in the group {missing}, which is not declared (add it to GroupDetailList)",
                    user.arn
                ));
            }
        }
        for policy in declared.policies {
            let account = policy_account(&policy.arn).to_string();
            accounts.entry(account).or_default().policies.insert(policy.arn.clone(), Arc::new(policy));
        }
        for user in declared.users {
            accounts.entry(user.account_id.clone()).or_default().users.insert(user.name.clone(), Arc::new(user));
        }
        for role in declared.roles {
            accounts.entry(role.account_id.clone()).or_default().roles.insert(role.name.clone(), Arc::new(role));
        }
        for group in declared.groups {
            accounts.entry(group.account_id.clone()).or_default().groups.insert(group.name.clone(), Arc::new(group));
        }
        self.generation.store(next_generation(), Ordering::Release);
        Ok(())
    }

    /// Changes one account's identities under the write lock (the IAM API's writes): `change`
    /// sees the account, created empty when it has none yet, and every account's managed
    /// policies for attachments across accounts (AWS managed ones).
    pub fn update<R>(&self, account_id: &str, change: impl FnOnce(&mut Account, &dyn Fn(&str) -> bool) -> R) -> R {
        let mut accounts = self.accounts.write();
        let mut account = accounts.remove(account_id).unwrap_or_default();
        let known = |arn: &str| accounts.values().any(|other| other.policies.contains_key(arn));
        let result = change(&mut account, &known);
        accounts.insert(account_id.to_string(), account);
        self.generation.store(next_generation(), Ordering::Release);
        result
    }

    /// A copy of one account's identities (for listings and tests).
    #[must_use]
    pub fn account(&self, account_id: &str) -> Option<Account> {
        self.accounts.read().get(account_id).cloned()
    }

    #[must_use]
    pub fn role(&self, account_id: &str, name: &str) -> Option<Arc<Role>> {
        self.accounts.read().get(account_id)?.roles.get(name).cloned()
    }

    #[must_use]
    pub fn user(&self, account_id: &str, name: &str) -> Option<Arc<User>> {
        self.accounts.read().get(account_id)?.users.get(name).cloned()
    }

    /// Changes with every change to the store: what [`Self::permissions`] answered stays true
    /// while this does not move.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The permissions of the principal `principal_arn` of `account_id`: a user
    /// (`arn:aws:iam::<acct>:user/<path><name>`) or a role session
    /// (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`). Root and undeclared identities
    /// have none (`known: false`).
    #[must_use]
    pub fn permissions(&self, account_id: &str, principal_arn: &str) -> Permissions {
        let accounts = self.accounts.read();
        let Some(account) = accounts.get(account_id) else { return Permissions::default() };
        let resource = principal_arn.splitn(6, ':').nth(5).unwrap_or_default();
        let gather = |inline: &BTreeMap<String, PolicyRef>, attached: &[String], boundary: &Option<String>| {
            let mut identity: Vec<(String, PolicyRef)> =
                inline.iter().map(|(name, doc)| (name.clone(), doc.clone())).collect();
            identity.extend(attached.iter().filter_map(|arn| {
                managed(&accounts, arn).and_then(|p| p.document().cloned()).map(|doc| (arn.clone(), doc))
            }));
            let boundary = boundary
                .as_ref()
                .and_then(|arn| managed(&accounts, arn).and_then(|p| p.document().cloned()).map(|d| (arn.clone(), d)));
            (identity, boundary)
        };
        if let Some(path_and_name) = resource.strip_prefix("user/") {
            let name = path_and_name.rsplit('/').next().unwrap_or_default();
            let Some(user) = account.users.get(name).filter(|u| u.arn == principal_arn) else {
                return Permissions::default();
            };
            let (mut identity, boundary) = gather(&user.inline, &user.attached, &user.boundary);
            // A group's policies count as the user's own identity policies (a boundary still caps them).
            for group in user.groups.iter().filter_map(|name| account.groups.get(name)) {
                let (attached, _) = gather(&BTreeMap::new(), &group.attached, &None);
                identity.extend(group.inline.iter().map(|(name, doc)| (format!("{}/{name}", group.arn), doc.clone())));
                identity.extend(attached);
            }
            return Permissions {
                identity,
                boundary,
                tags: user.tags.clone(),
                username: Some(user.name.clone()),
                known: true,
            };
        }
        if let Some(rest) = resource.strip_prefix("assumed-role/")
            && let Some((role, _session)) = rest.split_once('/')
            && let Some(role) = account.roles.get(role)
        {
            let (identity, boundary) = gather(&role.inline, &role.attached, &role.boundary);
            return Permissions { identity, boundary, tags: role.tags.clone(), username: None, known: true };
        }
        Permissions::default()
    }
}

/// The managed policy `arn` names, in whichever account holds it.
fn managed<'a>(accounts: &'a HashMap<String, Account>, arn: &str) -> Option<&'a Arc<ManagedPolicy>> {
    accounts.get(policy_account(arn))?.policies.get(arn)
}

/// The account of a policy ARN: `arn:aws:iam::<account>:policy/...`.
#[must_use]
pub fn policy_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}
