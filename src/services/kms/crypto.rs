//! The cryptography behind KMS keys: AES-256-GCM from `ring`, and the ciphertext blob format.
//!
//! A blob is self-describing, so Decrypt needs no key id:
//!
//! | bytes  | what |
//! |--------|------|
//! | 1      | format version, [`VERSION`] |
//! | 16     | the key id (a UUID) |
//! | 12     | the nonce, random per encryption |
//! | n + 16 | AES-256-GCM ciphertext of the n plaintext bytes, then the tag |
//!
//! The associated data is the header (version and key id) followed by the encryption context in a
//! canonical form: pairs sorted by key, each key and value length-prefixed. So a blob only opens
//! under the key it names, with the same context in any order, and any changed byte — header,
//! nonce, ciphertext or tag — fails the tag check.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// The blob format this code writes and reads.
pub const VERSION: u8 = 1;
pub const KEY_ID_LEN: usize = 16;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
/// What a blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
pub const MATERIAL_LEN: usize = 32;

/// A key's AES-256 material, wiped from memory when dropped, with its cipher prepared once: every
/// Secrets Manager read opens a data key with it, and expanding the key each time would cost more
/// than the decryption itself.
#[derive(Clone)]
pub struct Material {
    bytes: Zeroizing<[u8; MATERIAL_LEN]>,
    aead: LessSafeKey,
}

impl Material {
    /// Fresh material from the system's CSPRNG.
    ///
    /// # Errors
    /// When the random source fails.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; MATERIAL_LEN]);
        crate::random::fill(bytes.as_mut()).map_err(|_| CryptoError::Unavailable)?;
        Self::prepared(bytes).ok_or(CryptoError::Unavailable)
    }

    /// Material read back from storage; `None` unless exactly [`MATERIAL_LEN`] bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; MATERIAL_LEN] = bytes.try_into().ok()?;
        Self::prepared(Zeroizing::new(array))
    }

    fn prepared(bytes: Zeroizing<[u8; MATERIAL_LEN]>) -> Option<Self> {
        let aead = UnboundKey::new(&AES_256_GCM, bytes.as_ref()).map(LessSafeKey::new).ok()?;
        Some(Self { bytes, aead })
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    fn aead(&self) -> Result<&LessSafeKey, CryptoError> {
        Ok(&self.aead)
    }
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Material(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The random source or the cipher could not be set up.
    Unavailable,
    /// The blob is not one of ours, or it was altered, or the key or context is not the one it
    /// was sealed with. Deliberately one case: KMS tells the caller nothing more.
    Invalid,
}

/// The key id a blob names, without opening it.
///
/// # Errors
/// [`CryptoError::Invalid`] for anything too short or of another format.
pub fn key_id_of(blob: &[u8]) -> Result<uuid::Uuid, CryptoError> {
    if blob.len() < OVERHEAD || blob[0] != VERSION {
        return Err(CryptoError::Invalid);
    }
    let id: [u8; KEY_ID_LEN] = blob[1..HEADER_LEN].try_into().map_err(|_| CryptoError::Invalid)?;
    Ok(uuid::Uuid::from_bytes(id))
}

/// Seals `plaintext` under `material`, naming `key_id` in the blob and binding `context`.
///
/// # Errors
/// [`CryptoError::Unavailable`] when no nonce can be drawn.
pub fn seal(
    material: &Material,
    key_id: uuid::Uuid,
    plaintext: &[u8],
    context: &[(String, String)],
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    crate::random::fill(&mut nonce).map_err(|_| CryptoError::Unavailable)?;
    let mut blob = Vec::with_capacity(OVERHEAD + plaintext.len());
    blob.push(VERSION);
    blob.extend_from_slice(key_id.as_bytes());
    blob.extend_from_slice(&nonce);
    let aad = associated_data(&blob[..HEADER_LEN], context);
    let mut sealed = Zeroizing::new(plaintext.to_vec());
    let tag = material
        .aead()?
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut sealed)
        .map_err(|_| CryptoError::Unavailable)?;
    blob.extend_from_slice(&sealed);
    blob.extend_from_slice(tag.as_ref());
    Ok(blob)
}

/// Opens a blob [`seal`] made with the same material and context (in any order).
///
/// # Errors
/// [`CryptoError::Invalid`] for a wrong key, a wrong context or any altered byte.
pub fn open(material: &Material, blob: &[u8], context: &[(String, String)]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    key_id_of(blob)?;
    let (header, rest) = blob.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Invalid)?;
    let aad = associated_data(header, context);
    let mut buffer = Zeroizing::new(sealed.to_vec());
    let plain_len =
        material.aead()?.open_in_place(nonce, Aad::from(aad), &mut buffer).map_err(|_| CryptoError::Invalid)?.len();
    buffer.truncate(plain_len);
    Ok(buffer)
}

/// The header, then the context's pairs sorted by key, each part length-prefixed so that no two
/// contexts share an encoding.
fn associated_data(header: &[u8], context: &[(String, String)]) -> Vec<u8> {
    let mut pairs: Vec<&(String, String)> = context.iter().collect();
    pairs.sort();
    let mut out = Vec::with_capacity(header.len() + pairs.iter().map(|(k, v)| k.len() + v.len() + 8).sum::<usize>());
    out.extend_from_slice(header);
    for (key, value) in pairs {
        for part in [key, value] {
            // Both parts come from a request body capped far below 4 GiB.
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn setup() -> (Material, uuid::Uuid) {
        let material = Material::generate().unwrap();
        (material, uuid::Uuid::new_v4())
    }

    #[test]
    fn round_trip_names_the_key() {
        let (material, id) = setup();
        let context = ctx(&[("SecretARN", "arn:x"), ("SecretVersionId", "v1")]);
        let blob = seal(&material, id, b"hello", &context).unwrap();
        assert_eq!(blob.len(), OVERHEAD + 5);
        assert_eq!(blob[0], VERSION);
        assert_eq!(key_id_of(&blob).unwrap(), id);
        assert_eq!(open(&material, &blob, &context).unwrap().as_slice(), b"hello");
    }

    #[test]
    fn context_order_does_not_matter_but_its_content_does() {
        let (material, id) = setup();
        let blob = seal(&material, id, b"p", &ctx(&[("a", "1"), ("b", "2")])).unwrap();
        assert!(open(&material, &blob, &ctx(&[("b", "2"), ("a", "1")])).is_ok());
        for wrong in [ctx(&[]), ctx(&[("a", "1")]), ctx(&[("a", "1"), ("b", "3")]), ctx(&[("a", "1b"), ("", "2")])] {
            assert_eq!(open(&material, &blob, &wrong).unwrap_err(), CryptoError::Invalid, "{wrong:?}");
        }
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        let blob = seal(&material, id, b"p", &ctx(&[("ab", "c")])).unwrap();
        assert!(open(&material, &blob, &ctx(&[("a", "bc")])).is_err());
    }

    #[test]
    fn every_altered_byte_is_caught() {
        let (material, id) = setup();
        let blob = seal(&material, id, b"secret data", &[]).unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(open(&material, &bad, &[]).is_err(), "byte {i}");
        }
        assert!(open(&material, &blob[..blob.len() - 1], &[]).is_err());
        assert!(open(&material, &[], &[]).is_err());
        assert!(open(&material, &[VERSION; OVERHEAD - 1], &[]).is_err());
    }

    #[test]
    fn another_key_cannot_open_it() {
        let (material, id) = setup();
        let other = Material::generate().unwrap();
        let blob = seal(&material, id, b"x", &[]).unwrap();
        assert_eq!(open(&other, &blob, &[]).unwrap_err(), CryptoError::Invalid);
    }

    #[test]
    fn nonces_differ_per_encryption() {
        let (material, id) = setup();
        let a = seal(&material, id, b"same", &[]).unwrap();
        let b = seal(&material, id, b"same", &[]).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn material_never_shows_in_debug_output() {
        let material = Material::from_bytes(&[0xAB; MATERIAL_LEN]).unwrap();
        assert_eq!(format!("{material:?}"), "Material(..)");
        assert!(Material::from_bytes(&[0; 31]).is_none());
    }
}
