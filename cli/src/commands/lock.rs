//! The project lock: one `cloesce run` (or `clean`) per project at a time.

use cloesce_engine::host::Host;
use cloesce_engine::WorkspacePath;

use crate::exit::Exit;
use crate::platform::{Platform, Stream};

/// How often a waiting run tries the lock again.
const LOCK_POLL_MS: u32 = 100;

/// Held for the duration of a command; released on drop.
pub struct ProjectLock<'h, H: Host> {
    host: &'h H,
    path: WorkspacePath,
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
        let path = WorkspacePath::new(".cloesce/lock").expect("constant path");
        let env_error = |e: std::io::Error| {
            Exit::environment(format!(
                "error: cannot take the project lock .cloesce/lock: {e}\n  help: check that the project folder is writable\n"
            ))
        };
        if !host.try_lock(&path).map_err(env_error)? {
            if !wait {
                return Err(Exit::environment(
                    "error: another cloesce run holds the project lock (.cloesce/lock)\n  help: wait for it to finish, or run without --no-wait to wait automatically\n",
                ));
            }
            if !silent {
                platform.write(
                    Stream::Stderr,
                    "cloesce: waiting for another cloesce run in this project to finish…\n",
                );
            }
            while !host.try_lock(&path).map_err(env_error)? {
                platform.sleep(LOCK_POLL_MS).await;
            }
        }
        Ok(ProjectLock { host, path })
    }
}

impl<H: Host> Drop for ProjectLock<'_, H> {
    fn drop(&mut self) {
        let _ = self.host.unlock(&self.path);
    }
}
