//! Function code on disk: a zip archive unpacked into a private directory (0700) under smemu's
//! own temporary directory, or a local directory used where it is.

use super::error::LambdaError;
use base64::Engine as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// AWS's limit on a function's unpacked code.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// More entries than any deployment package needs; a bound on the work an archive can cause.
const MAX_ENTRIES: usize = 20_000;

/// Where one version of a function's code lives. An unpacked archive is removed with it.
#[derive(Debug)]
pub struct CodeDir {
    pub path: PathBuf,
    /// Unpacked by smemu (removed on drop), rather than the user's own directory.
    owned: bool,
    pub sha256: String,
    pub size: u64,
    /// Where the code came from, as `--data-dir` keeps it.
    pub origin: Origin,
}

/// The source of a function's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A deployment package, by the hex SHA-256 of its bytes.
    Zip { sha256_hex: String },
    /// A local directory run in place.
    Local { path: String },
}

/// The hex SHA-256 of a package: the name it is kept under in the data directory.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

impl Drop for CodeDir {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Creates `path` readable and writable by smemu's user alone.
///
/// # Errors
/// When the directory can't be made.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Unpacks `zip` into a new directory `dest` (which must not exist yet).
///
/// # Errors
/// `InvalidParameterValueException` for an archive that can't be read, or whose entries would
/// land outside `dest` or unpack to more than [`MAX_UNZIPPED_BYTES`].
pub fn unpack(zip: &[u8], dest: PathBuf) -> Result<CodeDir, LambdaError> {
    let bad = |why: String| {
        LambdaError::invalid(format!(
            "Could not unzip uploaded file. Please check your file, then try to upload again. ({why})"
        ))
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| bad(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(bad(format!("more than {MAX_ENTRIES} entries")));
    }
    private_dir(&dest).map_err(|e| LambdaError::service(format!("cannot create the code directory: {e}")))?;
    // From here on the directory goes away with `code` if unpacking fails.
    let code = CodeDir {
        path: dest,
        owned: true,
        sha256: sha256_base64(zip),
        size: zip.len() as u64,
        origin: Origin::Zip { sha256_hex: sha256_hex(zip) },
    };
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| bad(e.to_string()))?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(bad(format!("entry {:?} points outside the archive", entry.name())));
        };
        let target = code.path.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| bad(e.to_string()))?;
            continue;
        }
        if entry.is_symlink() {
            // A link could point anywhere on the host; deployment packages don't need them.
            return Err(bad(format!("entry {:?} is a symbolic link", entry.name())));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| bad(e.to_string()))?;
        }
        let left = MAX_UNZIPPED_BYTES.saturating_sub(total);
        let mut out = std::fs::File::create(&target).map_err(|e| bad(e.to_string()))?;
        // Counted as it inflates: the sizes an archive declares can lie.
        let copied = std::io::copy(&mut (&mut entry).take(left + 1), &mut out).map_err(|e| bad(e.to_string()))?;
        total += copied;
        if total > MAX_UNZIPPED_BYTES {
            return Err(LambdaError::invalid(format!("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")));
        }
        #[cfg(unix)]
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o700 | 0o600));
        }
    }
    Ok(code)
}

/// A directory of the user's, run in place (nothing is copied or removed).
///
/// # Errors
/// `InvalidParameterValueException` when it is not an absolute path to a directory.
pub fn local(path: &str) -> Result<CodeDir, LambdaError> {
    let dir = PathBuf::from(path);
    if !dir.is_absolute() || !dir.is_dir() {
        return Err(LambdaError::invalid(format!(
            "S3Key must be the absolute path of a local directory when S3Bucket is hot-reload: {path}"
        )));
    }
    Ok(CodeDir {
        sha256: sha256_base64(path.as_bytes()),
        size: 0,
        path: dir,
        owned: false,
        origin: Origin::Local { path: path.to_owned() },
    })
}

/// Lambda's `CodeSha256`: the base64 of the package's SHA-256.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            out.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            out.write_all(data).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("smemu-code-test-{name}-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn unpacks_into_a_private_directory_removed_with_the_code() {
        let dest = scratch("ok");
        let code = unpack(&zip_of(&[("a/b.py", b"x = 1\n"), ("c.py", b"")]), dest.clone()).unwrap();
        assert_eq!(std::fs::read(dest.join("a/b.py")).unwrap(), b"x = 1\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o700);
        }
        drop(code);
        assert!(!dest.exists());
    }

    #[test]
    fn entries_that_escape_the_directory_are_refused_and_nothing_is_left() {
        let dest = scratch("escape");
        let err = unpack(&zip_of(&[("../evil.py", b"boom")]), dest.clone()).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");
        assert!(!dest.exists());
        assert!(!dest.parent().unwrap().join("evil.py").exists());
    }

    #[test]
    fn garbage_is_not_a_zip() {
        let err = unpack(b"not a zip at all", scratch("garbage")).unwrap_err();
        assert!(err.message.starts_with("Could not unzip uploaded file"), "{}", err.message);
    }
}
