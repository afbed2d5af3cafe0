//! Key material behind `--data-dir`: the file `keys`, apart from the journal and snapshots.
//!
//! The journal and the snapshots hold what the key store knows about keys but never their
//! material, so a copy of them alone opens nothing the keys sealed. The material lives here, in a
//! file only its owner can read (mode 0600), rewritten whole — to `keys.tmp`, synced, renamed
//! over `keys`, and the directory synced — every time a key is added or deleted. Keys come and go
//! rarely, so a rewrite per change is cheap, and a crash leaves either the old file or the new
//! one, never a mix. A key is added here before it exists anywhere else.
//!
//! Layout, one line each:
//! ```text
//! smemu-kms-keys 1
//! <account> <region> <key id> <base64 of the 32 bytes of material>
//! ```

use super::crypto::Material;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const FILE_NAME: &str = "keys";
#[cfg(test)]
const TEMP_NAME: &str = "keys.tmp";
const HEADER: &str = "smemu-kms-keys 1";

type Entries = BTreeMap<(String, String, String), Material>;

/// The `keys` file and what it holds, kept in step.
pub struct KeyFile {
    dir: PathBuf,
    path: PathBuf,
    temp: PathBuf,
    entries: Mutex<Entries>,
}

impl KeyFile {
    /// Reads `<dir>/keys` (none yet is an empty file). A leftover `keys.tmp` is a rewrite that
    /// never finished: the `keys` beside it is the one that counts.
    ///
    /// # Errors
    /// A message naming the file and the line that cannot be read (never its content).
    pub fn open(dir: &Path) -> Result<Self, String> {
        Self::open_named(dir, FILE_NAME)
    }

    /// [`Self::open`] for a file of another name in `dir`, in the same format: material other
    /// parts of smemu keep apart from the KMS keys (see [`super::sealer`]).
    ///
    /// # Errors
    /// As [`Self::open`].
    pub fn open_named(dir: &Path, name: &str) -> Result<Self, String> {
        let path = dir.join(name);
        let temp = dir.join(format!("{name}.tmp"));
        let _ = fs::remove_file(&temp);
        let entries = match fs::read(&path) {
            Ok(bytes) => parse(&Zeroizing::new(bytes)).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Entries::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Self { dir: dir.to_owned(), path, temp, entries: Mutex::new(entries) })
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.lock().is_empty()
    }

    #[must_use]
    pub fn get(&self, account: &str, region: &str, id: &str) -> Option<Material> {
        self.entries.lock().get(&(account.to_owned(), region.to_owned(), id.to_owned())).cloned()
    }

    /// Adds a key's material and returns once it is on disk.
    ///
    /// # Errors
    /// When the file cannot be written; the material is then not kept.
    pub fn add(&self, account: &str, region: &str, id: &str, material: &Material) -> Result<(), String> {
        let mut entries = self.entries.lock();
        let slot = (account.to_owned(), region.to_owned(), id.to_owned());
        entries.insert(slot.clone(), material.clone());
        let written = self.write(&entries);
        if written.is_err() {
            entries.remove(&slot);
        }
        written
    }

    /// Drops the material of these keys, on disk too.
    ///
    /// # Errors
    /// When the file cannot be rewritten (the material is forgotten in memory all the same).
    pub fn remove(&self, keys: &[(String, String, String)]) -> Result<(), String> {
        let mut entries = self.entries.lock();
        let before = entries.len();
        for key in keys {
            entries.remove(key);
        }
        if entries.len() == before { Ok(()) } else { self.write(&entries) }
    }

    /// Keeps only the material `keep` says yes to (account, region, key id), on disk too.
    ///
    /// # Errors
    /// When the file cannot be rewritten.
    pub fn retain(&self, keep: impl Fn(&str, &str, &str) -> bool) -> Result<(), String> {
        let mut entries = self.entries.lock();
        let before = entries.len();
        entries.retain(|(a, r, id), _| keep(a, r, id));
        if entries.len() == before { Ok(()) } else { self.write(&entries) }
    }

    fn write(&self, entries: &Entries) -> Result<(), String> {
        let mut text = Zeroizing::new(String::with_capacity(32 + entries.len() * 128));
        text.push_str(HEADER);
        text.push('\n');
        for ((account, region, id), material) in entries {
            let encoded = Zeroizing::new(STANDARD.encode(material.as_bytes()));
            text.push_str(&format!("{account} {region} {id} "));
            text.push_str(&encoded);
            text.push('\n');
        }
        let temp = self.temp.as_path();
        let fail = |action: &str, path: &Path, e: std::io::Error| format!("cannot {action} {}: {e}", path.display());
        let mut file = create_private(temp).map_err(|e| fail("create", temp, e))?;
        file.write_all(text.as_bytes()).map_err(|e| fail("write", temp, e))?;
        file.sync_all().map_err(|e| fail("sync", temp, e))?;
        drop(file);
        fs::rename(temp, &self.path).map_err(|e| fail("replace", &self.path, e))?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| fail("sync", &self.dir, e))
    }
}

/// A new file only its owner may read or write.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        // The mode above only applies to a file that did not exist yet.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

fn parse(bytes: &[u8]) -> Result<Entries, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not a smemu keys file".to_owned())?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err("not a smemu keys file (or a newer format)".to_owned());
    }
    let mut entries = Entries::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let bad = || format!("line {} cannot be read", n + 2);
        let fields: Vec<&str> = line.split(' ').collect();
        let [account, region, id, material] = fields[..] else { return Err(bad()) };
        let bytes = Zeroizing::new(STANDARD.decode(material).map_err(|_| bad())?);
        let material = Material::from_bytes(&bytes).ok_or_else(bad)?;
        entries.insert((account.to_owned(), region.to_owned(), id.to_owned()), material);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(byte: u8) -> Material {
        Material::from_bytes(&[byte; 32]).unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("smemu-keyfile-{name}-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn material_survives_a_reopen_and_removal_is_durable_too() {
        let dir = temp_dir("reopen");
        let file = KeyFile::open(&dir).unwrap();
        assert!(file.is_empty());
        file.add("111122223333", "us-east-1", "k1", &material(1)).unwrap();
        file.add("111122223333", "eu-west-1", "k2", &material(2)).unwrap();
        let again = KeyFile::open(&dir).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(again.get("111122223333", "us-east-1", "k1").unwrap().as_bytes(), &[1; 32]);
        assert!(again.get("111122223333", "us-east-1", "k2").is_none());
        again.remove(&[("111122223333".into(), "us-east-1".into(), "k1".into())]).unwrap();
        let third = KeyFile::open(&dir).unwrap();
        assert_eq!(third.len(), 1);
        third.retain(|_, r, _| r != "eu-west-1").unwrap();
        assert!(KeyFile::open(&dir).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_can_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("mode");
        let file = KeyFile::open(&dir).unwrap();
        file.add("111122223333", "us-east-1", "k1", &material(7)).unwrap();
        let mode = fs::metadata(dir.join(FILE_NAME)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damage_is_reported_without_the_content() {
        let dir = temp_dir("damage");
        fs::write(dir.join(FILE_NAME), format!("{HEADER}\na b c not-base64!\n")).unwrap();
        let e = KeyFile::open(&dir).err().unwrap();
        assert!(e.ends_with("line 2 cannot be read"), "{e}");
        assert!(!e.contains("not-base64"), "{e}");
        fs::write(dir.join(FILE_NAME), "something else\n").unwrap();
        assert!(KeyFile::open(&dir).err().unwrap().contains("not a smemu keys file"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_leftover_temp_file_is_ignored() {
        let dir = temp_dir("temp");
        fs::write(dir.join(TEMP_NAME), "half written").unwrap();
        assert!(KeyFile::open(&dir).unwrap().is_empty());
        assert!(!dir.join(TEMP_NAME).exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
