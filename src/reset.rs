//! What a reset forgets, for `POST /_smemu/reset` and moto's `POST /moto-api/reset`.
//!
//! A reset forgets the state of every world, of one account, or of one account and region:
//! their secrets (with their versions, tags and resource policies) and KMS keys (with their aliases), the work scheduled for them
//! (purges at the end of recovery windows, scheduled rotations) and their entries in the rotation
//! log. Configuration stays, as it came from the operator: rotation hooks (seeded or registered),
//! the clock, the seed file (which is not loaded again).

use crate::App;
use crate::auth::{is_account_id, is_region_like};

/// The worlds a reset acts on. `region` is only ever set together with `account`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Worlds<'a> {
    account: Option<&'a str>,
    region: Option<&'a str>,
}

impl<'a> Worlds<'a> {
    /// Every world.
    #[must_use]
    pub const fn all() -> Self {
        Self { account: None, region: None }
    }

    /// The worlds a reset request names, checked as requests' accounts and regions are.
    ///
    /// # Errors
    /// What is wrong with the request, for a 400 answer.
    pub fn named(account: Option<&'a str>, region: Option<&'a str>) -> Result<Self, String> {
        if let Some(account) = account
            && !is_account_id(account)
        {
            return Err(format!("\"account\" must be a 12-digit account id, not {}", shown(account)));
        }
        if let Some(region) = region {
            if !is_region_like(region) {
                return Err(format!("\"region\" must be a region name such as us-east-1, not {}", shown(region)));
            }
            if account.is_none() {
                return Err("a region can only be reset together with its account".into());
            }
        }
        Ok(Self { account, region })
    }

    #[must_use]
    pub const fn account(&self) -> Option<&'a str> {
        self.account
    }

    #[must_use]
    pub const fn region(&self) -> Option<&'a str> {
        self.region
    }
}

/// Forgets the state of `worlds` (journalled when state is durable).
pub fn reset(app: &App, worlds: Worlds<'_>) {
    app.reset(worlds.account, worlds.region);
    app.rotation_log.forget(worlds.account, worlds.region);
    app.lambda.forget(worlds.account, worlds.region);
}

/// A value quoted for an error message; a long one is not repeated whole.
fn shown(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        format!("a value of {} characters", value.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worlds_are_checked_like_requests() {
        let ok = Worlds::named(Some("111122223333"), Some("eu-west-1")).unwrap();
        assert_eq!((ok.account(), ok.region()), (Some("111122223333"), Some("eu-west-1")));
        assert!(Worlds::named(None, None).unwrap().account().is_none());
        for (account, region, message) in [
            (Some("1234"), None, "\"account\" must be a 12-digit account id, not \"1234\""),
            (Some("11112222333a"), None, "\"account\" must be a 12-digit account id, not \"11112222333a\""),
            (
                Some("111122223333"),
                Some("EU West"),
                "\"region\" must be a region name such as us-east-1, not \"EU West\"",
            ),
            (Some("111122223333"), Some(""), "\"region\" must be a region name such as us-east-1, not \"\""),
            (None, Some("us-east-1"), "a region can only be reset together with its account"),
        ] {
            assert_eq!(Worlds::named(account, region).unwrap_err(), message, "{account:?} {region:?}");
        }
        let long = "9".repeat(5000);
        assert!(Worlds::named(Some(&long), None).is_err());
        assert_eq!(
            Worlds::named(Some(&long), None).unwrap_err(),
            "\"account\" must be a 12-digit account id, not a value of 5000 characters"
        );
    }

    #[test]
    fn a_replayed_reset_drops_the_schedules_too() {
        use crate::clock::{Clock, Timestamp};
        use crate::services::secretsmanager::state::{Change, Engine, NewSecret, Scope, secret::SecretValue};
        let engine = Engine::new(std::sync::Arc::new(Clock::manual(Timestamp::from_secs(1_767_225_600))));
        for account in ["111111111111", "222222222222"] {
            let scope = Scope::of(account, "us-east-1");
            let value = Some(SecretValue::String("x".into()));
            let new = NewSecret { name: "s".into(), token: "t".repeat(32), value, ..NewSecret::default() };
            engine.create_secret(scope, new).unwrap();
            engine.delete_secret(scope, "s", Some(if account.starts_with('1') { 7 } else { 9 }), false).unwrap();
        }
        let day = |d: i64| Some(Timestamp::from_secs(1_767_225_600).plus_days(d));
        assert_eq!(engine.next_due(), day(7));
        engine.apply_change(Change::Reset { account: Some("111111111111".into()), region: Some("us-east-1".into()) });
        assert_eq!(engine.next_due(), day(9));
        engine.apply_change(Change::Reset { account: None, region: None });
        assert_eq!(engine.next_due(), None);
    }
}
