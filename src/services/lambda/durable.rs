//! Functions under `--data-dir`: each change to a function is journalled as its after-image
//! ([`FunctionImage`]), a deletion or a reset as such, and snapshots hold every function's image.
//!
//! A deployment package is code, not a secret: it is kept as it was uploaded, in
//! `lambda/<hex SHA-256>.zip` of the data directory, written and synced before the record that
//! names it; at start each function's package is unpacked again, and packages no function names
//! any more are removed. A function run from a local directory keeps only that path.
//! Environment values may be credentials: records and snapshots carry them only sealed with the
//! data directory's key ([`crate::services::kms::sealer`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::code::{self, Origin};
use super::{Function, Lambda, function_arn};
use crate::services::kms::sealer::Sealer;
use crate::services::secretsmanager::state::ChangeLog;

/// The directory of the data directory that holds the packages.
pub const DIR_NAME: &str = "lambda";

/// One journalled change to the functions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::large_enum_variant)] // lives only while one record is encoded or replayed
pub enum Change {
    Put(FunctionImage),
    Remove { account: String, region: String, name: String },
    Reset { account: Option<String>, region: Option<String> },
}

/// A function as the data directory keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionImage {
    pub name: String,
    pub account: String,
    pub region: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub description: String,
    pub timeout_secs: u64,
    pub memory_mb: u64,
    /// Each variable's value, sealed.
    pub environment: BTreeMap<String, String>,
    pub code: CodeImage,
    pub last_modified: String,
    pub revision_id: String,
    pub statements: Vec<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CodeImage {
    Zip { sha256_hex: String },
    Local { path: String },
}

/// Where the functions are kept, once `--data-dir` is open.
pub(super) struct Kept {
    packages: PathBuf,
    sealer: Arc<Sealer>,
    log: std::sync::OnceLock<Arc<dyn ChangeLog>>,
}

fn variable_context(arn: &str, variable: &str) -> [(String, String); 2] {
    [("FunctionArn".to_owned(), arn.to_owned()), ("Variable".to_owned(), variable.to_owned())]
}

fn package_name(sha256_hex: &str) -> String {
    format!("{sha256_hex}.zip")
}

impl Lambda {
    /// Opens the functions' part of the data directory `dir` (before anything is replayed); its
    /// package directory is made with the first package.
    pub fn open_dir(&self, dir: &Path, sealer: Arc<Sealer>) {
        let _ = self.kept.set(Kept { packages: dir.join(DIR_NAME), sealer, log: std::sync::OnceLock::new() });
    }

    /// From now on every change is journalled to `log`.
    pub fn set_changelog(&self, log: Arc<dyn ChangeLog>) {
        if let Some(kept) = self.kept.get() {
            let _ = kept.log.set(log);
        }
    }

    /// Keeps an uploaded package in the data directory, synced, before any record names it.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn keep_zip(&self, zip: &[u8]) -> Result<(), String> {
        let Some(kept) = self.kept.get() else { return Ok(()) };
        let path = kept.packages.join(package_name(&code::sha256_hex(zip)));
        if path.exists() {
            return Ok(());
        }
        let temp = path.with_extension("zip.tmp");
        let write = || -> std::io::Result<()> {
            code::private_dir(&kept.packages)?;
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(zip)?;
            file.sync_all()?;
            std::fs::rename(&temp, &path)?;
            std::fs::File::open(&kept.packages)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            format!("{}: {e}", path.display())
        })
    }

    /// The image of `f`, its environment sealed.
    fn image(kept: &Kept, f: &Function) -> Result<FunctionImage, String> {
        let mut environment = BTreeMap::new();
        for (key, value) in &f.environment {
            environment.insert(key.clone(), kept.sealer.seal(value.as_bytes(), &variable_context(&f.arn, key))?);
        }
        let code = match &f.code.origin {
            Origin::Zip { sha256_hex } => CodeImage::Zip { sha256_hex: sha256_hex.clone() },
            Origin::Local { path } => CodeImage::Local { path: path.clone() },
        };
        Ok(FunctionImage {
            name: f.name.clone(),
            account: f.account.clone(),
            region: f.region.clone(),
            runtime: f.runtime.clone(),
            handler: f.handler.clone(),
            role: f.role.clone(),
            description: f.description.clone(),
            timeout_secs: f.timeout_secs,
            memory_mb: f.memory_mb,
            environment,
            code,
            last_modified: f.last_modified.clone(),
            revision_id: f.revision_id.clone(),
            statements: f.statements.clone(),
        })
    }

    fn journal(&self, change: impl FnOnce(&Kept) -> Result<Change, String>) {
        let Some(kept) = self.kept.get() else { return };
        let Some(log) = kept.log.get() else { return };
        let record = change(kept).and_then(|change| {
            serde_json::to_vec(&crate::services::secretsmanager::state::Change::Lambda(change))
                .map_err(|e| e.to_string())
        });
        match record {
            Ok(bytes) => log.observed(log.append(&bytes)),
            Err(e) => tracing::error!(error = %e, "a Lambda change could not be journalled"),
        }
    }

    /// Journals `f` as it is now (call under the functions' lock).
    pub(super) fn journal_put(&self, f: &Function) {
        self.journal(|kept| Self::image(kept, f).map(Change::Put));
    }

    pub(super) fn journal_remove(&self, key: &(String, String, String)) {
        self.journal(|_| Ok(Change::Remove { account: key.0.clone(), region: key.1.clone(), name: key.2.clone() }));
    }

    pub(super) fn journal_reset(&self, account: Option<&str>, region: Option<&str>) {
        self.journal(|_| Ok(Change::Reset { account: account.map(str::to_owned), region: region.map(str::to_owned) }));
    }

    /// Every function's image, for a snapshot.
    ///
    /// # Errors
    /// When an environment value cannot be sealed.
    pub fn export(&self) -> Result<Vec<FunctionImage>, String> {
        let Some(kept) = self.kept.get() else { return Ok(Vec::new()) };
        self.functions.lock().values().map(|f| Self::image(kept, f)).collect()
    }

    /// Rebuilds the functions from a snapshot's images and the changes after it, unpacking
    /// each package again, then removes the packages no function names. Returns a warning per
    /// function that could not come back (its local directory is gone, say).
    ///
    /// # Errors
    /// When a kept package or sealed value is missing or does not open.
    pub fn restore(&self, images: Vec<FunctionImage>, changes: Vec<Change>) -> Result<Vec<String>, String> {
        let Some(kept) = self.kept.get() else { return Ok(Vec::new()) };
        let mut wanted: BTreeMap<(String, String, String), FunctionImage> =
            images.into_iter().map(|i| ((i.account.clone(), i.region.clone(), i.name.clone()), i)).collect();
        for change in changes {
            match change {
                Change::Put(image) => {
                    wanted.insert((image.account.clone(), image.region.clone(), image.name.clone()), image);
                }
                Change::Remove { account, region, name } => {
                    wanted.remove(&(account, region, name));
                }
                Change::Reset { account, region } => wanted.retain(|(a, r, _), _| {
                    !(account.as_deref().is_none_or(|want| want == a) && region.as_deref().is_none_or(|want| want == r))
                }),
            }
        }
        let mut warnings = Vec::new();
        let mut functions = BTreeMap::new();
        for (key, image) in wanted {
            match self.rebuild(kept, image) {
                Ok(Some(function)) => {
                    functions.insert(key, function);
                }
                Ok(None) => warnings.push(format!(
                    "Lambda function {} cannot run any more: its code directory is gone; it was dropped",
                    function_arn(&key.0, &key.1, &key.2)
                )),
                Err(e) => return Err(e),
            }
        }
        let names: Vec<String> = functions
            .values()
            .filter_map(|f: &Function| match &f.code.origin {
                Origin::Zip { sha256_hex } => Some(package_name(sha256_hex)),
                Origin::Local { .. } => None,
            })
            .collect();
        if let Ok(entries) = std::fs::read_dir(&kept.packages) {
            for entry in entries.flatten() {
                if !names.iter().any(|n| entry.file_name().to_str() == Some(n.as_str())) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        *self.functions.lock() = functions;
        Ok(warnings)
    }

    fn rebuild(&self, kept: &Kept, image: FunctionImage) -> Result<Option<Function>, String> {
        let arn = function_arn(&image.account, &image.region, &image.name);
        let code = match &image.code {
            CodeImage::Zip { sha256_hex } => {
                let path = kept.packages.join(package_name(sha256_hex));
                let zip = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                code::unpack(&zip, self.code_dir(&image.name))
                    .map_err(|e| format!("{}: {}", path.display(), e.message))?
            }
            CodeImage::Local { path } => match code::local(path) {
                Ok(code) => code,
                Err(_) => return Ok(None),
            },
        };
        let kind = super::api::check_runtime(&image.runtime).map_err(|e| e.message)?;
        let mut environment = BTreeMap::new();
        for (key, sealed) in image.environment {
            let plain = kept.sealer.unseal(&sealed, &variable_context(&arn, &key))?;
            let value = String::from_utf8(plain.to_vec()).map_err(|_| "a kept variable is not text".to_owned())?;
            environment.insert(key, value);
        }
        Ok(Some(Function {
            arn,
            name: image.name,
            account: image.account,
            region: image.region,
            runtime: image.runtime,
            kind,
            handler: image.handler,
            role: image.role,
            description: image.description,
            timeout_secs: image.timeout_secs,
            memory_mb: image.memory_mb,
            environment,
            code: Arc::new(code),
            last_modified: image.last_modified,
            revision_id: image.revision_id,
            statements: image.statements,
            worker: Arc::default(),
        }))
    }
}
