//! `JsHost`: the engine's [`Host`] over `node:fs`, for one opened project.
//!
//! Each method joins its workspace-relative path to the project root and
//! calls one synchronous function of the JS [`Node`] object. Synchronous file
//! IO is fine on Node's event loop: it is what the native build does on its
//! main thread, and child processes (the slow part) are asynchronous.
//!
//! ## The project lock
//!
//! A lock file created with `O_CREAT | O_EXCL` (`openSync(path, "wx")`) that
//! holds the owner's pid and a newline. A second process finds it, reads the
//! pid and asks whether that process still lives (`process.kill(pid, 0)`); a
//! dead owner (or our own pid without our own lock: a pid reused after a
//! crash, as happens in containers) makes the lock stale, and it is removed
//! and taken. A lock file without a pid yet is being written: it is held,
//! unless it has stayed empty for [`EMPTY_LOCK_STALE_MS`]. The JS side removes
//! the files it created when the process exits, however it exits short of a
//! hard kill, and a hard kill leaves a file whose pid is dead.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;

use cloesce_engine::host::{DirEntry, FileKind, FileStat, Host};
use cloesce_engine::job::{resolve_program, Os};
use cloesce_engine::WorkspacePath;

use crate::node::{get, io_error, Node};

/// How long a lock file may hold no pid before it counts as stale.
pub const EMPTY_LOCK_STALE_MS: f64 = 10_000.0;

/// How long [`Host::lock`] sleeps between attempts.
pub const LOCK_POLL_MS: u32 = 100;

/// The JS host for one project root.
pub struct JsHost {
    node: Node,
    root: String,
    os: Os,
    pid: u32,
    /// Lock files this host holds (absolute paths).
    held: RefCell<BTreeSet<String>>,
}

impl JsHost {
    pub fn new(node: Node, root: String, os: Os) -> JsHost {
        let pid = node.pid();
        JsHost {
            node,
            root,
            os,
            pid,
            held: RefCell::new(BTreeSet::new()),
        }
    }

    /// The project root, absolute and platform-native.
    pub fn root(&self) -> &str {
        &self.root
    }

    fn abs(&self, path: &WorkspacePath) -> String {
        join_native(&self.root, path.as_str(), self.os)
    }

    fn err(&self, err: wasm_bindgen::JsValue) -> io::Error {
        io_error(err, self.os == Os::Unix)
    }

    /// Who holds the lock file at `abs`.
    fn lock_owner(&self, abs: &str) -> io::Result<LockOwner> {
        let bytes = match self.node.read_file(abs) {
            Ok(bytes) => bytes,
            Err(err) => {
                let err = self.err(err);
                return match err.kind() {
                    io::ErrorKind::NotFound => Ok(LockOwner::Gone),
                    _ => Err(err),
                };
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        match text.trim().parse::<u32>() {
            Ok(pid) => Ok(LockOwner::Pid(pid)),
            Err(_) => Ok(LockOwner::Unknown),
        }
    }
}

enum LockOwner {
    /// The file vanished before it could be read.
    Gone,
    Pid(u32),
    /// Empty or unreadable content.
    Unknown,
}

/// Joins a `/`-separated relative path to an absolute root with the OS's
/// separator.
pub fn join_native(root: &str, relative: &str, os: Os) -> String {
    match os {
        Os::Unix => format!("{}/{}", root.trim_end_matches('/'), relative),
        Os::Windows => format!(
            "{}\\{}",
            root.trim_end_matches(['/', '\\']),
            relative.replace('/', "\\")
        ),
    }
}

impl Host for JsHost {
    fn read(&self, path: &WorkspacePath) -> io::Result<Vec<u8>> {
        self.node
            .read_file(&self.abs(path))
            .map_err(|e| self.err(e))
    }

    fn stat(&self, path: &WorkspacePath) -> io::Result<Option<FileStat>> {
        let Some(raw) = self.node.lstat(&self.abs(path)).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        let [kind, size, mtime_ns, ctime_ns, inode, executable] = raw[..] else {
            return Err(io::Error::other(format!(
                "internal: lstat returned {} fields",
                raw.len()
            )));
        };
        let kind = match kind {
            1 => FileKind::Dir,
            2 => FileKind::Symlink,
            _ => FileKind::File,
        };
        Ok(Some(FileStat {
            kind,
            size,
            mtime_ns,
            ctime_ns,
            inode,
            executable: executable != 0,
        }))
    }

    fn write_atomic(&self, path: &WorkspacePath, bytes: &[u8], executable: bool) -> io::Result<()> {
        self.node
            .write_atomic(&self.abs(path), bytes, executable)
            .map_err(|e| self.err(e))
    }

    fn remove_file(&self, path: &WorkspacePath) -> io::Result<()> {
        self.node
            .remove_file(&self.abs(path))
            .map_err(|e| self.err(e))
    }

    fn remove_dir_all(&self, path: &WorkspacePath) -> io::Result<()> {
        self.node
            .remove_dir_all(&self.abs(path))
            .map_err(|e| self.err(e))
    }

    fn list_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Vec<DirEntry>> {
        let abs = match dir {
            Some(dir) => self.abs(dir),
            None => self.root.clone(),
        };
        let raw = self.node.list_dir(&abs).map_err(|e| self.err(e))?;
        Ok(raw
            .into_iter()
            .filter_map(|entry| {
                let mut chars = entry.chars();
                let kind = match chars.next()? {
                    'd' => FileKind::Dir,
                    'l' => FileKind::Symlink,
                    _ => FileKind::File,
                };
                Some(DirEntry {
                    name: chars.as_str().to_string(),
                    kind,
                })
            })
            .collect())
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.node.env_var(name)
    }

    fn now_ns(&self) -> u64 {
        self.node.now_ns()
    }

    fn tool_version(&self, argv: &[String]) -> Result<String, String> {
        let Some(program) = argv.first() else {
            return Err("empty command".to_string());
        };
        let path_var = self
            .node
            .env_var("PATH")
            .or_else(|| self.node.env_var("Path"));
        let pathext = self.node.env_var("PATHEXT");
        let node = &self.node;
        let exists = |p: &str| node.is_executable(p);
        let Some(resolved) = resolve_program(
            program,
            &self.root,
            path_var.as_deref(),
            pathext.as_deref(),
            self.os,
            &exists,
        ) else {
            return Err(format!(
                "`{program}` was not found in node_modules/.bin or PATH"
            ));
        };
        let result = self
            .node
            .run_to_completion(&self.root, &resolved, argv[1..].to_vec());
        if let Some(error) = get(&result, "error").as_string() {
            return Err(format!("`{program}` could not start: {error}"));
        }
        let stdout = get(&result, "stdout").as_string().unwrap_or_default();
        let stderr = get(&result, "stderr").as_string().unwrap_or_default();
        if let Some(signal) = get(&result, "signal").as_string() {
            return Err(format!("`{}` was killed by {signal}", argv.join(" ")));
        }
        match get(&result, "status").as_f64() {
            Some(0.0) => Ok(stdout.trim().to_string()),
            status => {
                let tail = stderr.trim();
                let code = status.map_or("?".to_string(), |s| (s as i64).to_string());
                if tail.is_empty() {
                    Err(format!("`{}` exited with code {code}", argv.join(" ")))
                } else {
                    Err(format!(
                        "`{}` exited with code {code}: {tail}",
                        argv.join(" ")
                    ))
                }
            }
        }
    }

    fn try_lock(&self, path: &WorkspacePath) -> io::Result<bool> {
        let abs = self.abs(path);
        if self.held.borrow().contains(&abs) {
            return Ok(true);
        }
        let content = format!("{}\n", self.pid);
        // Two rounds: the second after removing a stale lock.
        for _ in 0..2 {
            if self
                .node
                .create_lock_file(&abs, &content)
                .map_err(|e| self.err(e))?
            {
                self.held.borrow_mut().insert(abs);
                return Ok(true);
            }
            let stale = match self.lock_owner(&abs)? {
                LockOwner::Gone => false,
                LockOwner::Pid(pid) if pid == self.pid => true,
                LockOwner::Pid(pid) => !self.node.process_alive(pid),
                LockOwner::Unknown => self
                    .node
                    .file_age_ms(&abs)
                    .is_some_and(|age| age > EMPTY_LOCK_STALE_MS),
            };
            if stale {
                self.node.remove_file(&abs).map_err(|e| self.err(e))?;
            } else if !matches!(self.lock_owner(&abs)?, LockOwner::Gone) {
                return Ok(false);
            }
        }
        Ok(false)
    }

    fn lock(&self, path: &WorkspacePath) -> io::Result<()> {
        while !self.try_lock(path)? {
            self.node.sleep_ms(LOCK_POLL_MS);
        }
        Ok(())
    }

    fn unlock(&self, path: &WorkspacePath) -> io::Result<()> {
        let abs = self.abs(path);
        if self.held.borrow_mut().remove(&abs) {
            self.node.release_lock_file(&abs).map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_with_the_os_separator() {
        assert_eq!(join_native("/p", "a/b", Os::Unix), "/p/a/b");
        assert_eq!(join_native("/", "a", Os::Unix), "/a");
        assert_eq!(join_native("C:\\p\\", "a/b", Os::Windows), "C:\\p\\a\\b");
        assert_eq!(join_native("C:\\", "a", Os::Windows), "C:\\a");
    }
}
