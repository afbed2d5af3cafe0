//! IAM under `--data-dir`, and in the state export: each account the IAM API changed is kept
//! whole, as an after-image ([`AccountImage`]) journalled after every change to it and written
//! into snapshots. Replaying images in order rebuilds the accounts; an image replaces the
//! account it names, so at a restart an account changed through the API comes back as the API
//! left it, over what the credentials file declared for it. Accounts the API never touched stay
//! the files' alone.
//!
//! Secret access keys appear in the journal and snapshots only sealed with the data directory's
//! sealing key ([`crate::services::kms::sealer`]); in the control API's export they appear in
//! plaintext, as secret values do, so an export can be imported elsewhere.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Iam, KeyRecord, parse_document};
use crate::auth::{Credential, CredentialSource};
use crate::clock::Timestamp;
use crate::iam::store::{Account, ManagedPolicy, PolicyRef, Role, User};

/// One account's IAM state as the API left it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountImage {
    pub account: String,
    #[serde(default)]
    pub users: Vec<UserImage>,
    #[serde(default)]
    pub roles: Vec<RoleImage>,
    #[serde(default)]
    pub policies: Vec<PolicyImage>,
    /// Access keys created (or made inactive) through the API.
    #[serde(default)]
    pub keys: Vec<KeyImage>,
    /// Creation dates by ARN or access key id.
    #[serde(default)]
    pub created: BTreeMap<String, Timestamp>,
    #[serde(default)]
    pub descriptions: BTreeMap<String, String>,
    #[serde(default)]
    pub max_session: BTreeMap<String, u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserImage {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub user_id: String,
    /// Inline policies' documents by name.
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
    pub boundary: Option<String>,
    pub tags: Vec<(String, String)>,
    pub access_keys: Vec<String>,
    /// The groups the user is in; the groups themselves come only from the credentials file or
    /// seed (the API has no group operations), so an image leaves them as declared.
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleImage {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub role_id: String,
    pub trust: String,
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
    pub boundary: Option<String>,
    pub tags: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyImage {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub policy_id: String,
    pub default_version: String,
    /// Each version: its id, document and creation date.
    pub versions: Vec<VersionImage>,
    pub next_version: Option<u32>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionImage {
    pub id: String,
    pub document: String,
    pub created: Option<Timestamp>,
}

/// An access key created through the API: the secret is either sealed (journal and snapshots)
/// or in plaintext (the control API's export); never both.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyImage {
    pub access_key_id: String,
    pub user: String,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for KeyImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyImage").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// How a key's secret is written into an image.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Sealed with the data directory's key: for the journal and snapshots.
    Sealed,
    /// In plaintext: for the control API's export.
    Plain,
}

fn key_context(id: &str) -> [(String, String); 1] {
    [("IamAccessKeyId".to_owned(), id.to_owned())]
}

fn in_account(arn: &str, account: &str) -> bool {
    arn.split(':').nth(4) == Some(account)
}

fn texts(inline: &BTreeMap<String, PolicyRef>) -> BTreeMap<String, String> {
    inline.iter().map(|(name, doc)| (name.clone(), doc.text.clone())).collect()
}

fn documents(inline: BTreeMap<String, String>) -> Result<BTreeMap<String, PolicyRef>, String> {
    inline.into_iter().map(|(name, text)| Ok((name, document(&text, true)?))).collect()
}

fn document(text: &str, identity: bool) -> Result<PolicyRef, String> {
    parse_document(text, identity).map(Arc::new).map_err(|e| format!("a kept IAM policy cannot be read: {}", e.message))
}

impl Iam {
    /// The image of `account` as it is now.
    ///
    /// # Errors
    /// When a secret cannot be sealed.
    pub fn image(&self, app: &crate::App, account_id: &str, secrets: Secrets) -> Result<AccountImage, String> {
        let account = app.auth.credentials().identities().account(account_id).unwrap_or_default();
        let meta = self.meta.lock();
        let mut image = AccountImage { account: account_id.to_owned(), ..AccountImage::default() };
        for user in account.users.values() {
            image.users.push(UserImage {
                name: user.name.clone(),
                path: user.path.clone(),
                arn: user.arn.clone(),
                user_id: user.user_id.clone(),
                inline: texts(&user.inline),
                attached: user.attached.clone(),
                boundary: user.boundary.clone(),
                tags: user.tags.clone(),
                access_keys: user.access_keys.clone(),
                groups: user.groups.clone(),
            });
            for id in &user.access_keys {
                let Some(record) = meta.keys.get(id) else { continue };
                let secret = &record.credential.secret_access_key;
                let (sealed_secret, secret_access_key) = match secrets {
                    Secrets::Plain => (None, Some(secret.clone())),
                    Secrets::Sealed => {
                        let sealer = self.sealer.get().ok_or("no data directory to seal secrets with")?;
                        (Some(sealer.seal(secret.as_bytes(), &key_context(id))?), None)
                    }
                };
                image.keys.push(KeyImage {
                    access_key_id: id.clone(),
                    user: user.name.clone(),
                    active: record.active,
                    sealed_secret,
                    secret_access_key,
                });
            }
        }
        for role in account.roles.values() {
            image.roles.push(RoleImage {
                name: role.name.clone(),
                path: role.path.clone(),
                arn: role.arn.clone(),
                role_id: role.role_id.clone(),
                trust: role.trust.text.clone(),
                inline: texts(&role.inline),
                attached: role.attached.clone(),
                boundary: role.boundary.clone(),
                tags: role.tags.clone(),
            });
        }
        for policy in account.policies.values() {
            let versions = policy
                .versions
                .iter()
                .map(|(id, doc)| VersionImage {
                    id: id.clone(),
                    document: doc.text.clone(),
                    created: meta.version_created.get(&(policy.arn.clone(), id.clone())).copied(),
                })
                .collect();
            image.policies.push(PolicyImage {
                name: policy.name.clone(),
                path: policy.path.clone(),
                arn: policy.arn.clone(),
                policy_id: policy.policy_id.clone(),
                default_version: policy.default_version.clone(),
                versions,
                next_version: meta.next_version.get(&policy.arn).copied(),
                tags: meta.policy_tags.get(&policy.arn).cloned().unwrap_or_default(),
            });
        }
        let keys: Vec<&String> = account.users.values().flat_map(|u| &u.access_keys).collect();
        for (what, at) in &meta.created {
            if in_account(what, account_id) || keys.contains(&what) {
                image.created.insert(what.clone(), *at);
            }
        }
        image.descriptions = meta
            .descriptions
            .iter()
            .filter(|(arn, _)| in_account(arn, account_id))
            .map(|(a, d)| (a.clone(), d.clone()))
            .collect();
        image.max_session = meta
            .max_session
            .iter()
            .filter(|(arn, _)| in_account(arn, account_id))
            .map(|(a, d)| (a.clone(), *d))
            .collect();
        Ok(image)
    }

    /// The images of every account the API changed.
    ///
    /// # Errors
    /// When a secret cannot be sealed.
    pub fn export(&self, app: &crate::App, secrets: Secrets) -> Result<Vec<AccountImage>, String> {
        let _order = self.order.lock();
        let touched: Vec<String> = self.meta.lock().touched.iter().cloned().collect();
        touched.iter().map(|account| self.image(app, account, secrets)).collect()
    }

    /// Puts an image in place: the account becomes exactly what it holds, its keys authenticate
    /// (and keys it no longer has stop), its dates and descriptions come back.
    ///
    /// # Errors
    /// When a document or a sealed secret cannot be read; nothing has changed then.
    pub fn restore(&self, app: &crate::App, image: AccountImage) -> Result<(), String> {
        let account_id = image.account.clone();
        let mut rebuilt = Account::default();
        for u in image.users {
            let user = User {
                inline: documents(u.inline)?,
                name: u.name,
                path: u.path,
                arn: u.arn,
                user_id: u.user_id,
                account_id: account_id.clone(),
                attached: u.attached,
                boundary: u.boundary,
                tags: u.tags,
                access_keys: u.access_keys,
                groups: u.groups,
            };
            rebuilt.users.insert(user.name.clone(), Arc::new(user));
        }
        for r in image.roles {
            let role = Role {
                trust: document(&r.trust, false)?,
                inline: documents(r.inline)?,
                name: r.name,
                path: r.path,
                arn: r.arn,
                role_id: r.role_id,
                account_id: account_id.clone(),
                attached: r.attached,
                boundary: r.boundary,
                tags: r.tags,
            };
            rebuilt.roles.insert(role.name.clone(), Arc::new(role));
        }
        let mut version_dates = Vec::new();
        let mut next_versions = Vec::new();
        let mut policy_tags = Vec::new();
        for p in image.policies {
            let mut versions = BTreeMap::new();
            for v in p.versions {
                if let Some(at) = v.created {
                    version_dates.push(((p.arn.clone(), v.id.clone()), at));
                }
                versions.insert(v.id, document(&v.document, true)?);
            }
            if let Some(next) = p.next_version {
                next_versions.push((p.arn.clone(), next));
            }
            if !p.tags.is_empty() {
                policy_tags.push((p.arn.clone(), p.tags));
            }
            let policy = ManagedPolicy {
                name: p.name,
                path: p.path,
                arn: p.arn,
                policy_id: p.policy_id,
                versions,
                default_version: p.default_version,
            };
            rebuilt.policies.insert(policy.arn.clone(), Arc::new(policy));
        }
        let mut records = Vec::new();
        for key in image.keys {
            let Some(user) = rebuilt.users.get(&key.user) else { continue };
            let secret = match (key.secret_access_key, key.sealed_secret) {
                (Some(plain), _) => plain,
                (None, Some(sealed)) => {
                    let sealer = self.sealer.get().ok_or("a sealed access key needs its data directory")?;
                    let plain = sealer.unseal(&sealed, &key_context(&key.access_key_id))?;
                    String::from_utf8(plain.to_vec()).map_err(|_| "a kept access key is not text".to_owned())?
                }
                (None, None) => continue,
            };
            let credential = Credential {
                access_key_id: key.access_key_id.clone(),
                secret_access_key: secret,
                account_id: account_id.clone(),
                principal_arn: user.arn.clone(),
                user_id: user.user_id.clone(),
                session_token: None,
                expiration: None,
                source: CredentialSource::Iam,
                session_policy: None,
            };
            records.push((key.access_key_id, KeyRecord { user: key.user, active: key.active, credential }));
        }

        let credentials = app.auth.credentials();
        let kept: Vec<String> = rebuilt.users.values().flat_map(|u| u.access_keys.iter().cloned()).collect();
        let mut meta = self.meta.lock();
        let before = credentials.identities().update(&account_id, |account, _| {
            rebuilt.groups = account.groups.clone();
            std::mem::replace(account, rebuilt)
        });
        for gone in before.users.values().flat_map(|u| &u.access_keys).filter(|id| !kept.contains(id)) {
            credentials.remove_key(gone);
            meta.keys.remove(gone);
        }
        for (id, record) in records {
            credentials.remove_key(&id);
            if record.active {
                let _ = credentials.add_key(record.credential.clone());
            }
            meta.keys.insert(id, record);
        }
        meta.created.retain(|what, _| !in_account(what, &account_id));
        meta.created.extend(image.created);
        meta.descriptions.retain(|arn, _| !in_account(arn, &account_id));
        meta.descriptions.extend(image.descriptions);
        meta.max_session.retain(|arn, _| !in_account(arn, &account_id));
        meta.max_session.extend(image.max_session);
        meta.version_created.retain(|(arn, _), _| !in_account(arn, &account_id));
        meta.version_created.extend(version_dates);
        meta.next_version.retain(|arn, _| !in_account(arn, &account_id));
        meta.next_version.extend(next_versions);
        meta.policy_tags.retain(|arn, _| !in_account(arn, &account_id));
        meta.policy_tags.extend(policy_tags);
        meta.touched.insert(account_id);
        Ok(())
    }

    /// Journals the image of `account` after a change the API made to it (nothing without
    /// `--data-dir`); the answer then waits until it is durable.
    ///
    /// # Errors
    /// When the image cannot be made (a secret cannot be sealed).
    pub fn journal(&self, app: &crate::App, account: &str) -> Result<(), String> {
        self.meta.lock().touched.insert(account.to_owned());
        let Some(log) = self.changelog.get() else { return Ok(()) };
        let image = self.image(app, account, Secrets::Sealed)?;
        let change = crate::services::secretsmanager::state::Change::Iam(image);
        let bytes = serde_json::to_vec(&change).map_err(|e| e.to_string())?;
        let ticket = log.append(&bytes);
        log.observed(ticket);
        Ok(())
    }

    /// Attaches the durable journal and the sealing key: from now on each change is journalled.
    pub fn set_changelog(&self, log: Arc<dyn crate::services::secretsmanager::state::ChangeLog>) {
        let _ = self.changelog.set(log);
    }

    /// Gives the sealing key of the data directory (before anything is replayed).
    pub fn set_sealer(&self, sealer: Arc<crate::services::kms::sealer::Sealer>) {
        let _ = self.sealer.set(sealer);
    }

    /// Whether every image of an export can be put in place: its documents read as policies,
    /// and each key carries its secret. Checked before an import changes anything.
    ///
    /// # Errors
    /// The first problem found.
    pub fn check(images: &[AccountImage]) -> Result<(), String> {
        for image in images {
            for user in &image.users {
                user.inline.values().try_for_each(|text| document(text, true).map(drop))?;
            }
            for role in &image.roles {
                document(&role.trust, false)?;
                role.inline.values().try_for_each(|text| document(text, true).map(drop))?;
            }
            for policy in &image.policies {
                policy.versions.iter().try_for_each(|v| document(&v.document, true).map(drop))?;
            }
            if let Some(key) = image.keys.iter().find(|k| k.secret_access_key.is_none()) {
                return Err(format!("access key {} has no secretAccessKey", key.access_key_id));
            }
        }
        Ok(())
    }

    /// Replaces every account the API changed with those of an export (`POST /_smemu/state`),
    /// journalling each.
    ///
    /// # Errors
    /// When an image cannot be read or journalled.
    pub fn import(&self, app: &crate::App, images: Vec<AccountImage>) -> Result<(), String> {
        for image in images {
            let account = image.account.clone();
            self.restore(app, image)?;
            self.journal(app, &account)?;
        }
        Ok(())
    }
}
