//! Helpers the fuzz targets share.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory, removed on drop. Lives in `/dev/shm` when it exists, so the journal's
/// fsyncs cost nothing and the fuzzer does not wear the disk.
pub struct TempDir(PathBuf);

impl TempDir {
    /// # Panics
    /// When the directory cannot be created (the harness cannot go on).
    #[must_use]
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() };
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("smemu-fuzz-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Splits `data` at every `sep` byte, at most `max` pieces (the last one keeps the rest).
#[must_use]
pub fn split(data: &[u8], sep: u8, max: usize) -> Vec<&[u8]> {
    data.splitn(max, |&b| b == sep).collect()
}

/// A current-thread tokio runtime for targets that drive async code.
///
/// # Panics
/// When the runtime cannot be built.
#[must_use]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("build a tokio runtime")
}
