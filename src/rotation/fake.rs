//! An in-memory stand-in for the engine's side of rotation, for the module's tests.

use super::hook::{AWSCURRENT, AWSPENDING, SecretsApi, StoredValue, ValueSelector};
use parking_lot::Mutex;

pub const ARN: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf";
const AWSPREVIOUS: &str = "AWSPREVIOUS";

#[derive(Clone, Debug)]
pub struct FakeVersion {
    pub id: String,
    pub value: Option<StoredValue>,
    pub stages: Vec<String>,
}

/// One secret, whose versions the tests inspect.
pub struct FakeSecrets {
    pub versions: Mutex<Vec<FakeVersion>>,
}

impl FakeSecrets {
    pub fn with_current(value: &str) -> Self {
        Self {
            versions: Mutex::new(vec![FakeVersion {
                id: "v1".into(),
                value: Some(StoredValue::String(value.into())),
                stages: vec![AWSCURRENT.into()],
            }]),
        }
    }

    /// What RotateSecret does before the first step: a value-less version labelled AWSPENDING.
    pub fn add_placeholder(&self, token: &str) {
        self.versions.lock().push(FakeVersion { id: token.into(), value: None, stages: vec![AWSPENDING.into()] });
    }

    pub fn stages(&self, id: &str) -> Vec<String> {
        let mut stages = self.versions.lock().iter().find(|v| v.id == id).map(|v| v.stages.clone()).unwrap_or_default();
        stages.sort();
        stages
    }

    pub fn value(&self, id: &str) -> Option<String> {
        match self.versions.lock().iter().find(|v| v.id == id)?.value.clone()? {
            StoredValue::String(s) => Some(s),
            StoredValue::Binary(_) => None,
        }
    }

    pub fn current_id(&self) -> String {
        self.versions.lock().iter().find(|v| v.stages.iter().any(|s| s == AWSCURRENT)).map(|v| v.id.clone()).unwrap()
    }

    fn check(secret_id: &str) -> Result<(), String> {
        if secret_id == ARN { Ok(()) } else { Err("Secrets Manager can't find the specified secret.".into()) }
    }
}

impl SecretsApi for FakeSecrets {
    fn get_value(&self, secret_id: &str, selector: ValueSelector<'_>) -> Result<Option<StoredValue>, String> {
        Self::check(secret_id)?;
        let versions = self.versions.lock();
        let found = versions.iter().find(|v| {
            selector.version_id.is_none_or(|id| v.id == id)
                && selector.stage.is_none_or(|s| v.stages.iter().any(|x| x == s))
        });
        Ok(found.and_then(|v| v.value.clone()))
    }

    fn put_pending(&self, secret_id: &str, token: &str, value: String) -> Result<(), String> {
        Self::check(secret_id)?;
        let mut versions = self.versions.lock();
        for v in versions.iter_mut() {
            v.stages.retain(|s| s != AWSPENDING);
        }
        match versions.iter_mut().find(|v| v.id == token) {
            Some(v) if v.value.is_some() && v.value != Some(StoredValue::String(value.clone())) => {
                return Err(format!("You can't use ClientRequestToken {token} because that value is already in use."));
            }
            Some(v) => {
                v.value = Some(StoredValue::String(value));
                v.stages.push(AWSPENDING.into());
            }
            None => versions.push(FakeVersion {
                id: token.into(),
                value: Some(StoredValue::String(value)),
                stages: vec![AWSPENDING.into()],
            }),
        }
        Ok(())
    }

    fn move_current(&self, secret_id: &str, token: &str) -> Result<(), String> {
        Self::check(secret_id)?;
        let mut versions = self.versions.lock();
        let Some(to) = versions.iter().position(|v| v.id == token) else {
            return Err(format!("version {token} doesn't exist"));
        };
        let from = versions.iter().position(|v| v.stages.iter().any(|s| s == AWSCURRENT));
        if from == Some(to) {
            return Ok(());
        }
        for v in versions.iter_mut() {
            v.stages.retain(|s| s != AWSPREVIOUS);
        }
        if let Some(from) = from {
            versions[from].stages.retain(|s| s != AWSCURRENT);
            versions[from].stages.push(AWSPREVIOUS.into());
        }
        versions[to].stages.push(AWSCURRENT.into());
        Ok(())
    }
}
