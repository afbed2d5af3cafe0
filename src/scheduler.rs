//! Work that falls due on smemu's clock: purges at the end of recovery windows (and, later,
//! scheduled rotations).
//!
//! Due work is kept in the engine as an ordered set, so nothing polls: the sweeper sleeps until
//! the earliest entry, or until a new entry or a clock jump wakes it. Moving the clock forward runs
//! everything that falls due on the way, in time order, before the move returns.

use crate::App;
use crate::clock::Timestamp;
use crate::services::secretsmanager::state::{Due, DueKind};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Runs every piece of work due at or before the clock's current time.
pub async fn run_due(app: &App) {
    let now = app.engine.now();
    for due in app.engine.take_due(now) {
        run_one(app, &due).await;
    }
}

async fn run_one(app: &App, due: &Due) {
    match due.kind {
        DueKind::Purge => {
            // One event per version the window's end deleted.
            if let Some((arn, versions)) = app.engine.purge(due) {
                for _ in 0..versions.max(1) {
                    app.audit.service_event(&due.account, &due.region, "EndSecretVersionDelete", &arn, None);
                }
            }
        }
        DueKind::Rotate => crate::rotation::run::run_scheduled(app, due).await,
        DueKind::KeyDeletion => {
            app.kms.purge(due);
        }
        DueKind::Replicate => app.engine.run_replication(due),
    }
}

/// Moves the clock to `target`, running due work in time order on the way.
/// The clock never goes backwards: a target in the past leaves it where it is.
pub async fn advance_to(app: &App, target: Timestamp) -> Timestamp {
    let _serial = app.advancing.lock().await;
    while let Some(at) = app.engine.next_due().filter(|&at| at <= target) {
        move_clock(app, at);
        for due in app.engine.take_due(at) {
            run_one(app, &due).await;
        }
    }
    let now = move_clock(app, target);
    app.engine.due_notify().notify_waiters();
    now
}

/// Moves the clock forward to `to`. The new offset is journalled first: a change made at the new
/// time is then journalled after it, so recovery never finds a secret dated past its clock.
fn move_clock(app: &App, to: Timestamp) -> Timestamp {
    let clock = app.engine.clock();
    let ahead = to.millis().saturating_sub(clock.now().millis());
    if ahead <= 0 {
        return clock.now();
    }
    let offset = clock.offset().saturating_add(ahead);
    app.engine.journal_clock(offset);
    clock.raise_offset(offset)
}

/// Sleeps until work falls due on the real-time clock, runs it, and repeats until `shutdown`.
/// A manual clock only moves through [`advance_to`], which does the work itself.
pub async fn sweeper(app: Arc<App>, shutdown: impl Future<Output = ()>) {
    if app.engine.clock().is_manual() {
        return;
    }
    tokio::pin!(shutdown);
    // While state loads, purging or rotating would race with recovery and the seed.
    tokio::select! {
        () = app.wait_ready() => {}
        () = &mut shutdown => return,
    }
    loop {
        let changed = app.engine.due_notify().notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let wait = app.engine.next_due().map(|at| {
            let ms = at.millis().saturating_sub(app.engine.now().millis()).max(0);
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        });
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => run_due(&app).await,
            () = &mut changed => {}
            () = &mut shutdown => return,
        }
    }
}
