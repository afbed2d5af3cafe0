//! The engine's part of rotation: configuration, the AWSPENDING placeholder, finishing, cancelling
//! and the schedule. Hooks are called elsewhere, never under these locks.

use super::secret::{AWSCURRENT, AWSPENDING, RotationRules, Sealed, Secret, Version};
use super::{Due, DueKind, Engine, Scope};
use crate::api_error;
use crate::clock::Timestamp;
use crate::error::Result;
use crate::rotation::RotationSchedule;

/// What RotateSecret (or a schedule) asks for, already validated.
#[derive(Debug)]
pub struct RotateRequest {
    pub token: String,
    pub lambda_arn: Option<String>,
    pub rules: Option<RotationRules>,
    pub rotate_immediately: bool,
}

/// A rotation the engine has prepared; the caller runs its steps outside every lock.
#[derive(Debug)]
pub struct RotationStart<H> {
    pub arn: String,
    pub name: String,
    /// The AWSPENDING version the steps work on (the placeholder, or the temporary copy).
    pub version_id: String,
    /// `false` for RotateImmediately=false: only testSecret runs, on a temporary copy.
    pub full: bool,
    pub hook: H,
}

/// The schedule a secret's stored rules describe, if any.
#[must_use]
pub fn schedule_of(secret: &Secret) -> Option<RotationSchedule> {
    let rules = secret.rotation.rules.as_ref()?;
    RotationSchedule::parse(
        rules.automatically_after_days,
        rules.schedule_expression.as_deref(),
        rules.duration.as_deref(),
    )
    .ok()
    .flatten()
}

/// When the scheduler should start the secret's next rotation: the opening of the first window
/// after its last rotation (or its creation), while rotation is enabled.
#[must_use]
pub fn rotation_due(secret: &Secret) -> Option<Timestamp> {
    if secret.rotation.enabled != Some(true) || secret.is_deleted() {
        return None;
    }
    let last = secret.rotation.last_rotated.unwrap_or(secret.created);
    schedule_of(secret)?.next_window(last).map(crate::rotation::Window::due_at)
}

/// Sets `NextRotationDate` from the schedule; returns when the next rotation is due.
pub(super) fn refresh_next_rotation(secret: &mut Secret) -> Option<Timestamp> {
    let last = secret.rotation.last_rotated.unwrap_or(secret.created);
    secret.rotation.next_rotation = match (secret.rotation.enabled, schedule_of(secret)) {
        (Some(true), Some(schedule)) => schedule.next_rotation_date(last),
        _ => None,
    };
    rotation_due(secret)
}

fn incomplete_rotation(secret: &Secret) -> bool {
    secret.holder_of(AWSPENDING).is_some_and(|v| !v.has_stage(AWSCURRENT))
}

impl Engine {
    /// RotateSecret's part under the lock: checks, saves the configuration, and makes the
    /// AWSPENDING version. `hook_for` maps the function ARN to whatever will run the steps; when it
    /// fails nothing is saved (AWS answers AccessDenied and keeps the old configuration).
    pub fn begin_rotation<H>(
        &self,
        scope: Scope<'_>,
        id: &str,
        request: RotateRequest,
        hook_for: impl FnOnce(&str) -> Result<H>,
    ) -> Result<Option<RotationStart<H>>> {
        let (start, due) = self.write_live_secret(scope, id, |secret, now| {
            let arn = request
                .lambda_arn
                .filter(|a| !a.is_empty())
                .or_else(|| secret.rotation.lambda_arn.clone())
                .ok_or_else(|| api_error!(InvalidRequestException, "No Lambda rotation function ARN is associated with this secret."))?;
            let hook = hook_for(&arn)?;
            if incomplete_rotation(secret) {
                return Err(api_error!(InvalidRequestException, "A previous rotation isn't complete. That rotation will be reattempted."));
            }
            if secret.version(&request.token).is_some() {
                return Err(api_error!(
                    ResourceExistsException,
                    "You can't use ClientRequestToken {} because that value is already in use for a version of secret {}.",
                    request.token,
                    secret.arn
                ));
            }
            // A test-only rotation's copy of the current value is sealed for its own version id
            // (the encryption context names the version), before anything changes.
            let copy = match (request.rotate_immediately, secret.holder_of(AWSCURRENT)) {
                (false, Some(Version { id, value: Some(sealed), .. })) => {
                    let value = self.vault().open(scope, &secret.arn, id, sealed)?;
                    Some(self.vault().seal(scope, secret.kms_key_id.as_deref(), &secret.arn, &request.token, &value)?)
                }
                _ => None,
            };
            secret.rotation.lambda_arn = Some(arn);
            if let Some(rules) = request.rules {
                secret.rotation.rules = Some(rules);
            }
            secret.rotation.enabled = Some(true);
            secret.last_changed = now;
            let value = if request.rotate_immediately {
                None
            } else {
                match copy {
                    Some(current) => Some(current),
                    // Nothing to test against: the configuration is saved and that is all.
                    None => return Ok((None, refresh_next_rotation(secret))),
                }
            };
            add_pending(secret, &request.token, value, now);
            let due = if request.rotate_immediately { None } else { refresh_next_rotation(secret) };
            let start = RotationStart {
                arn: secret.arn.clone(),
                name: secret.name.clone(),
                version_id: request.token,
                full: request.rotate_immediately,
                hook,
            };
            Ok((Some(start), due))
        })?;
        if let (Some(at), Some(start)) = (due, &start) {
            self.schedule_rotation(scope, &start.name, at);
        }
        Ok(start)
    }

    /// A scheduled rotation that fell due at `at`: prepared like RotateSecret with a fresh token,
    /// if the entry is still current (rotation enabled, same window) and nothing blocks it.
    pub fn begin_scheduled_rotation<H>(
        &self,
        scope: Scope<'_>,
        name: &str,
        at: Timestamp,
        hook_for: impl FnOnce(&str) -> Result<H>,
    ) -> Result<Option<RotationStart<H>>> {
        let current = self.read_secret(scope, name, |s| Ok(rotation_due(s) == Some(at) && !incomplete_rotation(s)))?;
        if !current {
            return Ok(None);
        }
        let request = RotateRequest {
            token: uuid::Uuid::new_v4().to_string(),
            lambda_arn: None,
            rules: None,
            rotate_immediately: true,
        };
        self.begin_rotation(scope, name, request, hook_for)
    }

    /// After a successful finishSecret: the version must now be current; AWSPENDING leaves it,
    /// LastRotatedDate is now and the next rotation is scheduled.
    ///
    /// # Errors
    /// Why the rotation cannot be finished, for the rotation log.
    pub fn finish_rotation(&self, scope: Scope<'_>, arn: &str, version_id: &str) -> std::result::Result<(), String> {
        let (name, due) = self
            .write_secret(scope, arn, |secret, now| {
                let version = secret.version(version_id).ok_or_else(|| api_error!(ResourceNotFoundException, "version {version_id} is gone"))?;
                if !version.has_stage(AWSCURRENT) {
                    return Err(api_error!(
                        InvalidRequestException,
                        "finishSecret returned, but version {version_id} is not AWSCURRENT: the function must move AWSCURRENT to it"
                    ));
                }
                secret.move_stage(AWSPENDING, Some(version_id), None);
                secret.rotation.last_rotated = Some(now);
                secret.last_changed = now;
                Ok((secret.name.clone(), refresh_next_rotation(secret)))
            })
            .map_err(|e| e.message.into_owned())?;
        if let Some(at) = due {
            self.schedule_rotation(scope, &name, at);
        }
        Ok(())
    }

    /// Removes the temporary version a RotateImmediately=false test ran against.
    ///
    /// # Errors
    /// Why it could not, for the rotation log.
    pub fn discard_version(&self, scope: Scope<'_>, arn: &str, version_id: &str) -> std::result::Result<(), String> {
        self.write_secret(scope, arn, |secret, _| {
            secret.remove_version(version_id);
            Ok(())
        })
        .map_err(|e| e.message.into_owned())
    }

    /// CancelRotateSecret: disables rotation, keeps the function and rules, and leaves any
    /// in-flight AWSPENDING version where it is. Returns the ARN, the name and that version's id.
    pub fn cancel_rotation(&self, scope: Scope<'_>, id: &str) -> Result<(String, String, Option<String>)> {
        self.write_live_secret(scope, id, |secret, now| {
            secret.rotation.enabled = Some(false);
            secret.rotation.next_rotation = None;
            secret.last_changed = now;
            let pending = secret.holder_of(AWSPENDING).filter(|v| !v.has_stage(AWSCURRENT)).map(|v| v.id.clone());
            Ok((secret.arn.clone(), secret.name.clone(), pending))
        })
    }

    fn schedule_rotation(&self, scope: Scope<'_>, name: &str, at: Timestamp) {
        self.schedule(Due {
            at,
            kind: DueKind::Rotate,
            account: scope.account.to_owned(),
            region: scope.region.to_owned(),
            name: name.to_owned(),
        });
    }
}

/// Adds the rotation's version under `token`, labelled AWSPENDING: value-less for a real
/// rotation, a copy of the current value for a test-only one.
fn add_pending(secret: &mut Secret, token: &str, value: Option<Sealed>, now: Timestamp) {
    secret.push_version(Version { id: token.to_owned(), value, stages: Vec::new(), created: now, last_accessed: None });
    secret.move_stage(AWSPENDING, None, Some(token));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, MILLIS_PER_DAY};
    use crate::services::secretsmanager::state::NewSecret;
    use crate::services::secretsmanager::state::secret::SecretValue;
    use std::sync::Arc;

    fn engine() -> Engine {
        Engine::new(Arc::new(Clock::manual(Timestamp::from_secs(1_767_225_600 + 12 * 3600))))
    }

    const SCOPE: Scope<'static> = Scope::of("000000000000", "us-east-1");
    const T1: &str = "11111111-1111-4111-8111-111111111111";
    const T2: &str = "22222222-2222-4222-8222-222222222222";

    fn request(token: &str, days: Option<i64>) -> RotateRequest {
        RotateRequest {
            token: token.to_owned(),
            lambda_arn: Some("arn:aws:lambda:us-east-1:000000000000:function:r".into()),
            rules: days.map(|d| RotationRules { automatically_after_days: Some(d), ..RotationRules::default() }),
            rotate_immediately: true,
        }
    }

    #[test]
    fn a_rotation_makes_a_valueless_pending_version_and_blocks_the_next() {
        let engine = engine();
        let new = NewSecret {
            name: "s".into(),
            token: T1.into(),
            value: Some(SecretValue::String("a".into())),
            ..NewSecret::default()
        };
        engine.create_secret(SCOPE, new).unwrap();
        let start = engine.begin_rotation(SCOPE, "s", request(T2, Some(30)), |_| Ok(())).unwrap().unwrap();
        assert!(start.full);
        engine
            .read_secret(SCOPE, "s", |s| {
                let v = s.version(T2).unwrap();
                assert!(v.value.is_none() && v.has_stage(AWSPENDING));
                assert_eq!(s.rotation.enabled, Some(true));
                Ok(())
            })
            .unwrap();
        let err = engine
            .begin_rotation(SCOPE, "s", request("33333333-3333-4333-8333-333333333333", None), |_| Ok(()))
            .unwrap_err();
        assert_eq!(err.message, "A previous rotation isn't complete. That rotation will be reattempted.");
        assert!(engine.finish_rotation(SCOPE, "s", T2).is_err(), "AWSCURRENT has not moved");
        engine.update_secret_version_stage(SCOPE, "s", AWSCURRENT, Some(T1), Some(T2)).unwrap();
        engine.finish_rotation(SCOPE, "s", T2).unwrap();
        engine
            .read_secret(SCOPE, "s", |s| {
                assert_eq!(s.version(T2).unwrap().stages, [AWSCURRENT]);
                assert_eq!(s.rotation.last_rotated, Some(engine.now()));
                // 30 days after the day of the rotation, reported at the window's last second.
                let next = engine.now().start_of_day().plus_days(31).plus_millis(-1000);
                assert_eq!(s.rotation.next_rotation, Some(next));
                Ok(())
            })
            .unwrap();
        assert_eq!(engine.next_due(), Some(engine.now().start_of_day().plus_days(30)));
    }

    #[test]
    fn a_failed_hook_lookup_saves_nothing() {
        let engine = engine();
        engine.create_secret(SCOPE, NewSecret { name: "s".into(), token: T1.into(), ..NewSecret::default() }).unwrap();
        let err = engine
            .begin_rotation(SCOPE, "s", request(T2, Some(1)), |_| -> Result<()> {
                Err(api_error!(AccessDeniedException, "no"))
            })
            .unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::AccessDeniedException);
        engine
            .read_secret(SCOPE, "s", |s| {
                assert!(s.rotation.enabled.is_none() && s.rotation.rules.is_none());
                Ok(())
            })
            .unwrap();
        let _ = MILLIS_PER_DAY;
    }

    #[test]
    fn cancel_keeps_the_configuration_and_the_pending_version() {
        let engine = engine();
        let new = NewSecret {
            name: "s".into(),
            token: T1.into(),
            value: Some(SecretValue::String("a".into())),
            ..NewSecret::default()
        };
        engine.create_secret(SCOPE, new).unwrap();
        engine.begin_rotation(SCOPE, "s", request(T2, Some(7)), |_| Ok(())).unwrap();
        let (_, _, pending) = engine.cancel_rotation(SCOPE, "s").unwrap();
        assert_eq!(pending.as_deref(), Some(T2));
        engine
            .read_secret(SCOPE, "s", |s| {
                assert_eq!(s.rotation.enabled, Some(false));
                assert!(s.rotation.lambda_arn.is_some() && s.rotation.rules.is_some());
                assert!(rotation_due(s).is_none());
                Ok(())
            })
            .unwrap();
    }
}
