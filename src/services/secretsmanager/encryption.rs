//! Envelope encryption of secret values under KMS keys, as Secrets Manager does it, and what
//! Secrets Manager answers when KMS refuses.
//!
//! Each version's value is sealed with AES-256-GCM under a data key of its own, drawn with
//! GenerateDataKey from the secret's KMS key (`None`: `aws/secretsmanager`, created on first use),
//! with the encryption context `{SecretARN, SecretVersionId}` binding both the wrapped data key
//! and the value to their place. Only the sealed value and the wrapped data key are kept; a read
//! asks KMS to unwrap the data key (Decrypt) each time, so a disabled, pending-deletion or
//! deleted key stops reads at once.
//!
//! Every call goes through `Kms::for_secrets_manager(acting)`, the one place where the key store
//! sees Secrets Manager act for a caller.

use super::state::secret::{Sealed, SecretValue, WrappedKey};
use super::state::{Scope, Vault};
use crate::api_error;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode, Result};
use crate::services::kms::{Kms, KmsError, crypto};
use std::borrow::Cow;
use std::sync::Arc;

/// [AWS] The context key naming the secret.
pub const CONTEXT_ARN: &str = "SecretARN";
/// [AWS] The context key naming the version.
pub const CONTEXT_VERSION: &str = "SecretVersionId";
/// [AWS] The version id Secrets Manager uses when it only checks that a key can be used.
pub const VALIDATION_VERSION: &str = "RequestToValidateKeyAccess";

/// The key store, as Secrets Manager's engine uses it.
pub struct KmsVault {
    kms: Arc<Kms>,
}

impl KmsVault {
    #[must_use]
    pub fn new(kms: Arc<Kms>) -> Self {
        Self { kms }
    }
}

/// The caller a request acts for; outside a request (a scheduled rotation, a seed file), the
/// account itself.
fn acting<'a>(scope: Scope<'a>) -> Cow<'a, Caller> {
    match scope.acting {
        Some(caller) => Cow::Borrowed(caller),
        None => Cow::Owned(account_caller(scope)),
    }
}

fn account_caller(scope: Scope<'_>) -> Caller {
    Caller {
        account_id: scope.account.to_owned(),
        region: scope.region.to_owned(),
        access_key_id: None,
        principal_arn: format!("arn:{}:iam::{}:root", super::state::ident::partition_of(scope.region), scope.account),
        user_id: scope.account.to_owned(),
        session_policy: None,
    }
}

fn context(arn: &str, version_id: &str) -> [(String, String); 2] {
    [(CONTEXT_ARN.to_owned(), arn.to_owned()), (CONTEXT_VERSION.to_owned(), version_id.to_owned())]
}

impl Vault for KmsVault {
    fn seal(
        &self,
        scope: Scope<'_>,
        key: Option<&str>,
        arn: &str,
        version_id: &str,
        value: &SecretValue,
    ) -> Result<Sealed> {
        let acting = acting(scope);
        let context = context(arn, version_id);
        let data_key = self
            .kms
            .for_secrets_manager(&acting)
            .of_secret_in(scope.account, scope.region)
            .generate_data_key(key, &context)
            .map_err(encryption_failure)?;
        let material = crypto::Material::from_bytes(data_key.plaintext.as_bytes())
            .ok_or_else(|| ApiError::internal("a data key has the wrong length"))?;
        let (binary, plaintext) = match value {
            SecretValue::String(s) => (false, s.as_bytes()),
            SecretValue::Binary(b) => (true, b.as_slice()),
        };
        let ciphertext = crypto::seal(&material, uuid::Uuid::nil(), plaintext, &context)
            .map_err(|_| ApiError::internal("a secret value could not be encrypted"))?;
        let wrapped =
            WrappedKey { key_id: key.map(str::to_owned), key_arn: data_key.key_arn, data_key: data_key.ciphertext };
        Ok(Sealed { binary, ciphertext, keys: vec![wrapped] })
    }

    fn open(&self, scope: Scope<'_>, arn: &str, version_id: &str, sealed: &Sealed) -> Result<SecretValue> {
        let acting = acting(scope);
        let context = context(arn, version_id);
        let data_key = unwrap_data_key(&self.kms, scope, &acting, sealed, &context)?;
        let mut plaintext = crypto::open(&data_key, &sealed.ciphertext, &context)
            .map_err(|_| decryption_failure(&crate::services::kms::error::invalid_ciphertext()))?;
        // Moved out, not copied: the answer needs it, and nothing else keeps it.
        let plaintext = std::mem::take(&mut *plaintext);
        if sealed.binary {
            return Ok(SecretValue::Binary(plaintext));
        }
        String::from_utf8(plaintext)
            .map(SecretValue::String)
            .map_err(|_| decryption_failure(&crate::services::kms::error::invalid_ciphertext()))
    }

    fn rewrap(
        &self,
        scope: Scope<'_>,
        key: Option<&str>,
        arn: &str,
        version_id: &str,
        sealed: &Sealed,
    ) -> Result<Option<Sealed>> {
        let acting = acting(scope);
        let kms = self.kms.for_secrets_manager(&acting).of_secret_in(scope.account, scope.region);
        let key_arn = kms.key_arn(key).map_err(encryption_failure)?;
        if sealed.keys.last().is_some_and(|k| k.key_arn == key_arn) {
            return Ok(None);
        }
        let context = context(arn, version_id);
        let data_key = unwrap_data_key(&self.kms, scope, &acting, sealed, &context)?;
        let wrapped = kms.encrypt(key, data_key.as_bytes(), &context).map_err(encryption_failure)?;
        let mut resealed = sealed.clone();
        resealed.keys.push(WrappedKey {
            key_id: key.map(str::to_owned),
            key_arn: wrapped.key_arn,
            data_key: wrapped.blob,
        });
        Ok(Some(resealed))
    }

    fn check_key(&self, scope: Scope<'_>, key: Option<&str>, arn: &str) -> Result<()> {
        let acting = acting(scope);
        let context = context(arn, VALIDATION_VERSION);
        let kms = self.kms.for_secrets_manager(&acting).of_secret_in(scope.account, scope.region);
        let data_key = kms.generate_data_key(key, &context).map_err(encryption_failure)?;
        kms.decrypt(&data_key.ciphertext, &context).map_err(encryption_failure)?;
        Ok(())
    }
}

/// The version's data key, from the newest wrapping KMS opens: a version re-encrypted under a
/// new key stays readable under the previous one. When none opens, the newest one's refusal.
fn unwrap_data_key(
    kms: &Kms,
    scope: Scope<'_>,
    acting: &Caller,
    sealed: &Sealed,
    context: &[(String, String)],
) -> Result<crypto::Material> {
    let kms = kms.for_secrets_manager(acting).of_secret_in(scope.account, scope.region);
    let mut refusal = None;
    for wrapped in sealed.keys.iter().rev() {
        match kms.decrypt(&wrapped.data_key, context) {
            Ok(plaintext) => {
                return crypto::Material::from_bytes(plaintext.as_bytes())
                    .ok_or_else(|| ApiError::internal("a data key has the wrong length"));
            }
            Err(e) => {
                refusal.get_or_insert(e);
            }
        }
    }
    Err(refusal.map_or_else(|| ApiError::internal("a secret value has no data key"), |e| decryption_failure(&e)))
}

/// How Secrets Manager words a KMS error inside its own, as the AWS SDK for Java prints a
/// service error (what AWS shows on the wire).
fn kms_detail(e: &KmsError) -> String {
    let message = if e.message().is_empty() { String::new() } else { format!("{} ", e.message()) };
    format!(
        "{message}(Service: AWSKMS; Status Code: {}; Error Code: {}; Request ID: {}; Proxy: null)",
        e.status(),
        e.code(),
        uuid::Uuid::new_v4()
    )
}

/// A refusal common to writes and reads, or `None` for the failure's own wording.
fn common(e: &KmsError) -> Option<ApiError> {
    match e.error_code() {
        // [AWS] What a caller without KMS permissions on a customer key is told.
        ErrorCode::AccessDeniedException => Some(api_error!(AccessDeniedException, "Access to KMS is not allowed")),
        ErrorCode::KMSInternalException => Some(ApiError::internal("the key store failed")),
        _ => None,
    }
}

/// [AWS for NotFoundException; the same wording for the other refusals is unconfirmed] What a
/// write answers when KMS refuses the secret's key.
#[must_use]
pub fn encryption_failure(e: KmsError) -> ApiError {
    common(&e).unwrap_or_else(|| {
        ApiError::new(
            ErrorCode::EncryptionFailure,
            format!("Secrets Manager can't encrypt the secret value: {}", kms_detail(&e)),
        )
    })
}

/// [AWS model text; the KMS error appended is unconfirmed] What a read answers when KMS cannot
/// open a value: the key is disabled, pending deletion or gone.
#[must_use]
pub fn decryption_failure(e: &KmsError) -> ApiError {
    common(e).unwrap_or_else(|| {
        ApiError::new(
            ErrorCode::DecryptionFailure,
            format!(
                "Secrets Manager can't decrypt the protected secret text using the provided KMS key. {}",
                kms_detail(e)
            ),
        )
    })
}

/// The state as `GET /_smemu/state` shows it: every value a KMS key still opens in plaintext
/// (`{"String": ...}` or `{"Binary": [...]}`), for tests to read and to import elsewhere; a
/// value no key opens any more (its key disabled or gone) stays sealed. With the key store's
/// keys and aliases, never their material.
#[must_use]
pub fn export_plain(app: &crate::App) -> serde_json::Value {
    let mut state = app.engine.export();
    state.kms = app.kms.export();
    match app.iam.export(app, crate::services::iam::Secrets::Plain) {
        Ok(iam) => state.iam = iam,
        Err(e) => tracing::error!(error = %e, "IAM's part of the state cannot be exported"),
    }
    let mut json = serde_json::to_value(&state).unwrap_or_default();
    for_each_value(&mut json, |scope, arn, _key, version_id, value| {
        let Ok(sealed) = serde_json::from_value::<Sealed>(value.clone()) else { return Ok(()) };
        if let Ok(plain) = app.engine.open_value(scope, arn, version_id, &sealed)
            && let Ok(plain) = serde_json::to_value(plain)
        {
            *value = plain;
        }
        Ok(())
    });
    json
}

/// An export read back (`POST /_smemu/state`): the key store's part replaces the keys first, then
/// every plaintext value is sealed under its secret's key.
///
/// # Errors
/// Why the export cannot be read, or which secret's value cannot be sealed.
pub fn import_plain(
    app: &crate::App,
    mut json: serde_json::Value,
) -> std::result::Result<super::state::StateDump, String> {
    let kms: Vec<crate::services::kms::StoreDump> = match json.as_object_mut().and_then(|o| o.remove("kms")) {
        Some(kms) if !kms.is_null() => {
            serde_json::from_value(kms).map_err(|e| format!("not a smemu state export: {e}"))?
        }
        _ => Vec::new(),
    };
    // Checked whole before anything changes: each plaintext value must be one, and the rest must
    // read as a state once the values are sealed.
    let mut shape = json.clone();
    let mut unreadable = None;
    for_each_value(&mut shape, |_, arn, _, _, value| {
        if value.get("ciphertext").is_none() {
            if serde_json::from_value::<SecretValue>(value.clone()).is_err() {
                unreadable.get_or_insert(format!("not a smemu state export: a value of {arn} is not a secret value"));
            }
            *value = serde_json::to_value(Sealed { binary: false, ciphertext: Vec::new(), keys: Vec::new() })
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    if let Some(unreadable) = unreadable {
        return Err(unreadable);
    }
    serde_json::from_value::<super::state::StateDump>(shape).map_err(|e| format!("not a smemu state export: {e}"))?;
    let replaced = if kms.is_empty() { None } else { Some(app.kms.import(kms).map_err(|e| e.message().to_owned())?) };
    let mut failure = None;
    for_each_value(&mut json, |scope, arn, key, version_id, value| {
        if value.get("ciphertext").is_some() {
            return Ok(());
        }
        let plain: SecretValue = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        match app.engine.seal_value(scope, key, arn, version_id, &plain) {
            Ok(sealed) => {
                *value = serde_json::to_value(sealed).map_err(|e| e.to_string())?;
                Ok(())
            }
            Err(e) => {
                failure.get_or_insert(format!("the value of {arn} cannot be sealed: {}", e.message));
                Ok(())
            }
        }
    });
    let state = match failure {
        Some(failure) => Err(failure),
        None => serde_json::from_value(json).map_err(|e| format!("not a smemu state export: {e}")),
    };
    if state.is_err()
        && let Some(replaced) = replaced
    {
        app.kms.undo_import(replaced);
    }
    state
}

/// Runs `f` on each version's value of an exported state: (scope, secret ARN, secret key,
/// version id, value).
fn for_each_value(
    json: &mut serde_json::Value,
    mut f: impl FnMut(Scope<'_>, &str, Option<&str>, &str, &mut serde_json::Value) -> std::result::Result<(), String>,
) {
    let Some(stores) = json.get_mut("stores").and_then(serde_json::Value::as_array_mut) else { return };
    for store in stores {
        let account = store.get("account").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        let region = store.get("region").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        let scope = Scope::of(&account, &region);
        let Some(secrets) = store.get_mut("secrets").and_then(serde_json::Value::as_array_mut) else { continue };
        for secret in secrets {
            let arn = secret.get("arn").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
            let key = secret.get("kms_key_id").and_then(serde_json::Value::as_str).map(str::to_owned);
            let Some(versions) = secret.get_mut("versions").and_then(serde_json::Value::as_array_mut) else { continue };
            for version in versions {
                let id = version.get("id").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
                if let Some(value) = version.get_mut("value").filter(|v| !v.is_null())
                    && let Err(e) = f(scope, &arn, key.as_deref(), &id, value)
                {
                    tracing::warn!(secret = %arn, error = %e, "a value of the state could not be converted");
                }
            }
        }
    }
}
