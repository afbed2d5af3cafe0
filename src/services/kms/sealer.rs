//! The sealing key behind `--data-dir` for secrets that are not Secrets Manager values: IAM
//! secret access keys and Lambda environment values. Journal records and snapshots carry them
//! only sealed (AES-256-GCM, bound to what they belong to); the key itself lives in the file
//! `sealing-key` beside `keys`, in the same format and with the same care (mode 0600, rewritten
//! atomically), and is made on first use, before the first record that needs it.
//!
//! A copy of the journal and snapshots alone therefore opens none of these secrets, exactly as
//! it opens no secret value without `keys`.

use super::crypto::{self, Material};
use super::keyfile::KeyFile;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use parking_lot::Mutex;
use std::path::Path;

pub const FILE_NAME: &str = "sealing-key";
/// The one entry of the file (it reuses the keys file's layout of account, region, id).
const SLOT: (&str, &str, &str) = ("smemu", "local", "sealing-key");

/// The data directory's sealing key, made when first needed.
pub struct Sealer {
    file: KeyFile,
    material: Mutex<Option<Material>>,
}

impl Sealer {
    /// Opens `<dir>/sealing-key`; none yet is fine.
    ///
    /// # Errors
    /// A message naming the file when it cannot be read.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let file = KeyFile::open_named(dir, FILE_NAME)?;
        let material = file.get(SLOT.0, SLOT.1, SLOT.2);
        Ok(Self { file, material: Mutex::new(material) })
    }

    fn material(&self) -> Result<Material, String> {
        let mut held = self.material.lock();
        if let Some(material) = held.as_ref() {
            return Ok(material.clone());
        }
        let material = Material::generate().map_err(|_| "the random source failed".to_owned())?;
        // On disk before anything sealed with it is.
        self.file.add(SLOT.0, SLOT.1, SLOT.2, &material)?;
        *held = Some(material.clone());
        Ok(material)
    }

    /// `plaintext` sealed and bound to `context` (what it belongs to), base64-encoded.
    ///
    /// # Errors
    /// When the key cannot be made or written, or no nonce can be drawn.
    pub fn seal(&self, plaintext: &[u8], context: &[(String, String)]) -> Result<String, String> {
        let material = self.material()?;
        let blob = crypto::seal(&material, uuid::Uuid::nil(), plaintext, context)
            .map_err(|_| "a value could not be sealed".to_owned())?;
        Ok(STANDARD.encode(blob))
    }

    /// What [`Self::seal`] sealed with the same context.
    ///
    /// # Errors
    /// When there is no key, or the blob is not one it sealed with that context (the message
    /// never holds the value).
    pub fn unseal(&self, sealed: &str, context: &[(String, String)]) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
        let material = self.material.lock().clone().ok_or_else(|| {
            format!("a sealed value needs the key in {}, which holds none", self.file.path().display())
        })?;
        let blob = STANDARD.decode(sealed).map_err(|_| "a sealed value is not base64".to_owned())?;
        crypto::open(&material, &blob, context)
            .map_err(|_| format!("a sealed value does not open with the key in {}", self.file.path().display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_after_a_reopen_only_in_its_context() {
        let dir = std::env::temp_dir().join(format!("smemu-sealer-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let context = [("AccessKeyId".to_owned(), "AKIA1".to_owned())];
        let sealed = Sealer::open(&dir).unwrap().seal(b"wJalrXUtnFEMI", &context).unwrap();
        assert!(!sealed.contains("wJalrXUtnFEMI"));
        let again = Sealer::open(&dir).unwrap();
        assert_eq!(again.unseal(&sealed, &context).unwrap().as_slice(), b"wJalrXUtnFEMI");
        let other = [("AccessKeyId".to_owned(), "AKIA2".to_owned())];
        assert!(again.unseal(&sealed, &other).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
