//! The processes of `command` hooks. Each hook runs as the leader of a process group of its own,
//! so that it and everything it started die together: when the step ends (the program exited or
//! ran past its timeout), when the step is abandoned, and at shutdown. Killing the program alone
//! would leave its children running, holding its pipes, past smemu's own exit.
//!
//! Long-lived processes (the workers of deployed functions) use the same groups: a [`Group`] owns
//! its share of the registry, so it can be kept as long as the process should live.
//!
//! A process that leaves the group on purpose (`setsid`) is beyond reach, as it would be for any
//! supervisor that is not its parent.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::process::{Child, Command};

/// The groups of the hooks running now, per smemu instance.
#[derive(Debug, Default)]
pub struct ProcessGroups {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    running: HashSet<u32>,
    /// Set at shutdown: no hook starts after it.
    closed: bool,
}

impl ProcessGroups {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns `command` as the leader of a new process group, tracked until the returned
    /// [`Group`] is dropped (which kills whatever is left of the group).
    ///
    /// # Errors
    /// When the program can't start, or smemu is shutting down.
    pub fn spawn(&self, command: &mut Command) -> std::io::Result<Group> {
        #[cfg(unix)]
        command.process_group(0);
        // Spawning under the lock means a concurrent shutdown either refuses this hook or sees
        // its group: none slips between the two.
        let mut inner = self.inner.lock();
        if inner.closed {
            return Err(std::io::Error::other("smemu is shutting down"));
        }
        let child = command.spawn()?;
        let pgid = child.id();
        if let Some(id) = pgid {
            inner.running.insert(id);
        }
        Ok(Group { groups: self.inner.clone(), pgid, child })
    }

    /// Kills every running hook's group and refuses new hooks: smemu is stopping.
    pub fn shut_down(&self) {
        let mut inner = self.inner.lock();
        inner.closed = true;
        for &id in &inner.running {
            kill_group(id);
        }
    }

    /// How many hooks run now.
    #[must_use]
    pub fn running(&self) -> usize {
        self.inner.lock().running.len()
    }
}

/// A running hook: its leader process, and its group, killed when this is dropped.
pub struct Group {
    groups: Arc<Mutex<Inner>>,
    pgid: Option<u32>,
    pub child: Child,
}

impl Group {
    /// Sends SIGKILL to every process of the group, the leader included.
    pub fn kill(&mut self) {
        if let Some(id) = self.pgid {
            kill_group(id);
        }
        // Where there are no process groups, the leader at least.
        let _ = self.child.start_kill();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(id) = self.pgid.take() {
            kill_group(id);
            self.groups.lock().running.remove(&id);
        }
    }
}

#[cfg(unix)]
fn kill_group(pgid: u32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    // 0 would be smemu's own group and 1 init's: a hook's group id is its leader's pid, never either.
    match i32::try_from(pgid) {
        Ok(raw) if raw > 1 => {
            // ESRCH (the group is already gone) is the usual, expected answer.
            let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
        }
        _ => {}
    }
}

#[cfg(not(unix))]
fn kill_group(_pgid: u32) {}
