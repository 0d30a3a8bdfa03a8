//! The project lock: one `cloesce run` (or `clean`, `cache verify|gc`) per
//! project at a time, native and npm builds alike. The protocol (lock file
//! contents, staleness, takeover) is `cloesce_engine::lock`; this module
//! waits for it and words the messages.

use cloesce_engine::host::Host;
use cloesce_engine::lock::{self, Attempt, HeldLock, Owner};
use cloesce_engine::shown::shown_lines;
use cloesce_engine::WorkspacePath;

use crate::exit::Exit;
use crate::platform::{Platform, Stream};

/// How often a waiting run tries the lock again.
const LOCK_POLL_MS: u32 = 100;

/// The lock file, relative to the project root.
pub const LOCK_PATH: &str = ".cloesce/lock";

/// Held for the duration of a command; released on drop.
pub struct ProjectLock<'h, H: Host> {
    host: &'h H,
    held: HeldLock,
}

/// ` (process 123 on host)`, or nothing when the lock file names no one yet.
fn holder(owner: &Option<Owner>) -> String {
    owner
        .as_ref()
        .map_or_else(String::new, |owner| format!(", {owner}"))
}

/// The hint for a lock taken on another machine (a shared folder), whose
/// process cannot be checked from here.
fn foreign_hint<H: Host>(host: &H, owner: &Option<Owner>) -> Option<String> {
    let theirs = owner.as_ref()?.host.as_ref()?;
    let (_, ours) = host.process_identity();
    (theirs != &ours).then(|| {
        format!(
            "it was taken on host `{theirs}`, whose processes cannot be checked from here; if no cloesce runs there any more, delete {LOCK_PATH}"
        )
    })
}

impl<'h, H: Host> ProjectLock<'h, H> {
    /// Takes `.cloesce/lock`, waiting (and saying so) when another run holds
    /// it, or failing at once when `wait` is false. Waiting polls with
    /// `Platform::sleep`, so under Node the event loop keeps running and the
    /// "waiting" line is flushed before the wait, not after it.
    pub async fn acquire<P: Platform>(
        platform: &P,
        host: &'h H,
        wait: bool,
        silent: bool,
    ) -> Result<Self, Exit> {
        let path = WorkspacePath::new(LOCK_PATH).expect("constant path");
        let env_error = |e: std::io::Error| {
            Exit::environment(format!(
                "error: cannot take the project lock {LOCK_PATH}: {e}\n  help: check that the project folder is writable\n"
            ))
        };
        let owner = match lock::try_acquire(host, &path).map_err(env_error)? {
            Attempt::Acquired(held) => return Ok(ProjectLock { host, held }),
            Attempt::Busy(owner) => owner,
        };
        let hint = foreign_hint(host, &owner);
        if !wait {
            let help = hint.unwrap_or_else(|| {
                "wait for it to finish, or run without --no-wait to wait automatically".into()
            });
            // The holder's host name comes from the lock file: shown escaped.
            return Err(Exit::environment(shown_lines(&format!(
                "error: another cloesce run holds the project lock ({LOCK_PATH}{})\n  help: {help}\n",
                holder(&owner)
            ))));
        }
        if !silent {
            let pid = owner
                .as_ref()
                .map_or_else(String::new, |o| format!(" (process {})", o.pid));
            let mut text = format!(
                "cloesce: waiting for another cloesce run in this project{pid} to finish…\n"
            );
            if let Some(hint) = hint {
                text.push_str(&format!("  note: {hint}\n"));
            }
            platform.write(Stream::Stderr, &shown_lines(&text));
        }
        loop {
            platform.sleep(LOCK_POLL_MS).await;
            if let Attempt::Acquired(held) = lock::try_acquire(host, &path).map_err(env_error)? {
                return Ok(ProjectLock { host, held });
            }
        }
    }
}

impl<H: Host> Drop for ProjectLock<'_, H> {
    fn drop(&mut self) {
        let _ = lock::release(self.host, &self.held);
    }
}
