//! Temporary credentials that describe themselves, so issuing them stores
//! nothing and checking them touches no shared state.
//!
//! The session token is an AEAD seal (ChaCha20-Poly1305 under a key made at
//! startup) of who the credentials are for: access key id, account, principal
//! ARN, `UserId` and expiry. The secret access key is an HMAC of the access key
//! id under a second startup key, so it never needs to be kept either. Checking
//! a request opens its token, compares the access key id and the expiry, and
//! derives the secret: constant work per request, no lock, no memory per
//! issued credential, and expiry needs no sweeping.
//!
//! The keys live only in memory: temporary credentials end with the process
//! that issued them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::sigv4::{system_time_from_unix, unix_seconds};

/// Binds tokens to this use, so nothing else sealed under the key opens as one.
const AAD: &[u8] = b"smemu session token v1";
/// Longer tokens are not ours: not worth decoding.
const MAX_TOKEN_LEN: usize = 4096;
/// Length of a secret access key, as AWS issues them.
const SECRET_LEN: usize = 40;

/// Who a temporary credential is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "k")]
    pub access_key_id: String,
    #[serde(rename = "a")]
    pub account_id: String,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    #[serde(rename = "p")]
    pub principal_arn: String,
    /// `AROA…:<session>`.
    #[serde(rename = "u")]
    pub user_id: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// The session policy AssumeRole was given, as sent.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
}

impl Claims {
    pub fn expiration(&self) -> SystemTime {
        system_time_from_unix(self.expires)
    }
}

/// Seals and opens session tokens. `Debug` shows no key material.
pub struct SessionKeys {
    seal: LessSafeKey,
    secrets: hmac::Key,
    /// Nonces are this prefix and a counter: unique for the life of the keys.
    nonce_prefix: [u8; 4],
    counter: AtomicU64,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

impl Default for SessionKeys {
    fn default() -> Self {
        Self::new()
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    crate::random::fill(&mut bytes).expect("the system random generator failed");
    bytes
}

impl SessionKeys {
    /// Fresh keys: tokens sealed by other instances never open here.
    pub fn new() -> Self {
        let seal_key = random_bytes::<32>();
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &seal_key).expect("a 32-byte ChaCha20-Poly1305 key");
        Self {
            seal: LessSafeKey::new(unbound),
            secrets: hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>()),
            nonce_prefix: random_bytes::<4>(),
            counter: AtomicU64::new(0),
        }
    }

    /// The secret access key that belongs to `access_key_id`.
    pub fn secret_for(&self, access_key_id: &str) -> String {
        let tag = hmac::sign(&self.secrets, access_key_id.as_bytes());
        let mut secret = STANDARD.encode(tag.as_ref());
        secret.truncate(SECRET_LEN);
        secret
    }

    /// The session token carrying `claims`.
    pub fn seal(&self, claims: &Claims) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..4].copy_from_slice(&self.nonce_prefix);
        nonce[4..].copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let mut sealed = serde_json::to_vec(claims).expect("a struct of strings and an integer serialises");
        self.seal
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(AAD), &mut sealed)
            .expect("sealing fails only past ChaCha20's 256 GiB message limit");
        let mut token = Vec::with_capacity(NONCE_LEN + sealed.len());
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&sealed);
        STANDARD.encode(token)
    }

    /// The claims of a token sealed with these keys; `None` for any other
    /// text. Expiry is the caller's to check.
    pub fn open(&self, token: &str) -> Option<Claims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let mut bytes = STANDARD.decode(token).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.seal.open_in_place(nonce, Aad::from(AAD), sealed).ok()?;
        serde_json::from_slice(plain).ok()
    }

    /// Whether the claims have expired at `now`.
    pub fn expired(claims: &Claims, now: SystemTime) -> bool {
        unix_seconds(now) >= claims.expires
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            access_key_id: "ASIAEXAMPLE000000001".into(),
            account_id: "222222222222".into(),
            principal_arn: "arn:aws:sts::222222222222:assumed-role/r/s".into(),
            user_id: "AROAEXAMPLE:s".into(),
            expires: 1_735_693_200,
            session_policy: None,
        }
    }

    #[test]
    fn tokens_round_trip_and_resist_tampering() {
        let keys = SessionKeys::new();
        let token = keys.seal(&claims());
        assert_eq!(keys.open(&token), Some(claims()));
        assert_ne!(keys.seal(&claims()), token, "every token has its own nonce");

        // Every flipped byte breaks it.
        let raw = STANDARD.decode(&token).unwrap();
        for i in 0..raw.len() {
            let mut changed = raw.clone();
            changed[i] ^= 1;
            assert_eq!(keys.open(&STANDARD.encode(&changed)), None, "byte {i}");
        }
        assert_eq!(keys.open(&token[..token.len() - 4]), None);
        assert_eq!(SessionKeys::new().open(&token), None, "another instance's keys");
        for junk in ["", "smemu/abc", "AAAA", &"A".repeat(MAX_TOKEN_LEN + 4)] {
            assert_eq!(keys.open(junk), None);
        }
        assert!(!format!("{keys:?}").contains(&format!("{:?}", keys.nonce_prefix)));
    }

    #[test]
    fn secrets_are_derived_and_private_to_the_keys() {
        let keys = SessionKeys::new();
        let secret = keys.secret_for("ASIAEXAMPLE000000001");
        assert_eq!(secret.len(), 40);
        assert_eq!(secret, keys.secret_for("ASIAEXAMPLE000000001"));
        assert_ne!(secret, keys.secret_for("ASIAEXAMPLE000000002"));
        assert_ne!(secret, SessionKeys::new().secret_for("ASIAEXAMPLE000000001"));
    }

    #[test]
    fn expiry() {
        let c = claims();
        assert!(!SessionKeys::expired(&c, system_time_from_unix(c.expires - 1)));
        assert!(SessionKeys::expired(&c, system_time_from_unix(c.expires)));
        assert_eq!(c.expiration(), system_time_from_unix(c.expires));
    }
}
