//! `JsHost`: the engine's [`Host`] over `node:fs`, for one opened project.
//!
//! Each method joins its workspace-relative path to the project root and
//! calls one synchronous function of the JS [`Node`] object. Synchronous file
//! IO is fine on Node's event loop: it is what the native build does on its
//! main thread, and child processes (the slow part) are asynchronous.
//!
//! ## The project lock
//!
//! The protocol is `cloesce_engine::lock`, shared with the native binary;
//! this host only supplies its primitives: exclusive creation
//! (`openSync(path, "wx")`), removal, `process.kill(pid, 0)` plus
//! `/proc/<pid>/stat`, and `os.hostname()`. The JS side removes the lock
//! files it created when the process exits, however it exits short of a hard
//! kill, and a hard kill leaves a file whose pid is dead.
//!
//! ## Symlinks
//!
//! Every read, write, removal and listing is checked with
//! `cloesce_engine::containment` (`fs.realpathSync.native` resolves), as the
//! native host does: nothing is read or written outside the project through
//! a symbolic link.

use std::io;

use std::sync::atomic::{AtomicU64, Ordering};

use cloesce_engine::containment::{self, Resolved};
use cloesce_engine::host::{DirEntry, FileKind, FileStat, Host, ProcessProbe};
use cloesce_engine::job::{resolve_program, Os};
use cloesce_engine::staging;
use cloesce_engine::WorkspacePath;

use crate::node::{get, io_error, Node};

/// Temporary files get a name unique to this process and write.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The JS host for one project root.
pub struct JsHost {
    node: Node,
    root: String,
    /// `root` with symlinks resolved, for the containment checks.
    real_root: String,
    os: Os,
}

impl JsHost {
    pub fn new(node: Node, root: String, os: Os) -> JsHost {
        let real_root = node.realpath(&root).unwrap_or_else(|_| root.clone());
        JsHost {
            node,
            root,
            real_root,
            os,
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

    /// Refuses `path` when it resolves outside the project through a
    /// symbolic link (see [`containment::check_inside`]).
    fn check_inside(&self, path: &WorkspacePath, follow_last: bool) -> io::Result<()> {
        let sep = match self.os {
            Os::Unix => '/',
            Os::Windows => '\\',
        };
        containment::check_inside(path, follow_last, |part| {
            match self.node.realpath(&self.abs(part)) {
                Ok(resolved) if containment::is_within(&resolved, &self.real_root, sep) => {
                    Resolved::Inside
                }
                Ok(resolved) => Resolved::Outside(resolved),
                Err(err) => match self.err(err).kind() {
                    io::ErrorKind::NotFound => Resolved::Missing,
                    _ => Resolved::Unknown,
                },
            }
        })
    }
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
        self.check_inside(path, true)?;
        self.node
            .read_file(&self.abs(path))
            .map_err(|e| self.err(e))
    }

    fn stat(&self, path: &WorkspacePath) -> io::Result<Option<FileStat>> {
        match self.node.lstat(&self.abs(path)).map_err(|e| self.err(e))? {
            Some(raw) => file_stat(&raw).map(Some),
            None => Ok(None),
        }
    }

    fn stat_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Option<FileStat>> {
        let Some(dir) = dir else {
            return match self.node.lstat(&self.root).map_err(|e| self.err(e))? {
                Some(raw) => file_stat(&raw).map(Some),
                None => Ok(None),
            };
        };
        self.stat(dir)
    }

    /// One call into JS for all of them: a no-op run stats every path it
    /// checks, and crossing into JS per path cost more than the stat.
    fn stat_many(&self, paths: &[WorkspacePath]) -> Vec<io::Result<Option<FileStat>>> {
        if paths.is_empty() {
            return Vec::new();
        }
        let joined = paths
            .iter()
            .map(|p| self.abs(p))
            .collect::<Vec<_>>()
            .join("\0");
        let raw = match self.node.lstat_many(&joined) {
            Ok(raw) if raw.len() == paths.len() * 7 => raw,
            _ => return paths.iter().map(|p| self.stat(p)).collect(),
        };
        raw.chunks(7)
            .zip(paths)
            .map(|(fields, path)| match fields[0] {
                0 => Ok(None),
                1 => file_stat(&fields[1..]).map(Some),
                // Asked again alone, for the error's details.
                _ => self.stat(path),
            })
            .collect()
    }

    /// Stages the temporary file in `.cloesce/tmp/` (see
    /// `cloesce_engine::staging`); beside the target only when that fails.
    fn write_atomic(&self, path: &WorkspacePath, bytes: &[u8], executable: bool) -> io::Result<()> {
        self.check_inside(path, false)?;
        let pid = self.node.pid();
        let counter = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let staged = staging::staging_dir()
            .join(&staging::staged_name(pid, counter))
            .map_err(io::Error::other)?;
        if self.check_inside(&staged, false).is_ok()
            && self
                .node
                .write_atomic(&self.abs(path), bytes, executable, &self.abs(&staged))
                .is_ok()
        {
            return Ok(());
        }
        let beside = staging::beside_path(path, pid, counter).map_err(io::Error::other)?;
        self.node
            .write_atomic(&self.abs(path), bytes, executable, &self.abs(&beside))
            .map_err(|e| self.err(e))
    }

    fn read_range(&self, path: &WorkspacePath, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.check_inside(path, true)?;
        self.node
            .read_range(&self.abs(path), offset as f64, len as f64)
            .map_err(|e| self.err(e))
    }

    fn append(&self, path: &WorkspacePath, bytes: &[u8]) -> io::Result<()> {
        self.check_inside(path, false)?;
        self.node
            .append_file(&self.abs(path), bytes)
            .map_err(|e| self.err(e))
    }

    fn remove_file(&self, path: &WorkspacePath) -> io::Result<()> {
        self.check_inside(path, false)?;
        self.node
            .remove_file(&self.abs(path))
            .map_err(|e| self.err(e))
    }

    fn remove_dir_all(&self, path: &WorkspacePath) -> io::Result<()> {
        self.check_inside(path, false)?;
        self.node
            .remove_dir_all(&self.abs(path))
            .map_err(|e| self.err(e))
    }

    fn list_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Vec<DirEntry>> {
        let abs = match dir {
            Some(dir) => {
                self.check_inside(dir, true)?;
                self.abs(dir)
            }
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

    fn create_lock_file(&self, path: &WorkspacePath, bytes: &[u8]) -> io::Result<bool> {
        self.check_inside(path, false)?;
        self.node
            .create_lock_file(&self.abs(path), bytes)
            .map_err(|e| self.err(e))
    }

    fn remove_lock_file(&self, path: &WorkspacePath) -> io::Result<()> {
        self.check_inside(path, false)?;
        self.node
            .remove_lock_file(&self.abs(path))
            .map_err(|e| self.err(e))
    }

    fn probe_process(&self, pid: u32) -> ProcessProbe {
        parse_probe(&self.node.probe_process(pid))
    }

    fn process_identity(&self) -> (u32, String) {
        (self.node.pid(), self.node.hostname())
    }
}

/// Reads the answer of the JS `probeProcess`.
fn parse_probe(answer: &str) -> ProcessProbe {
    match answer.split_once(' ') {
        _ if answer == "gone" => ProcessProbe::Gone,
        _ if answer == "running" => ProcessProbe::Running { proc_stat: None },
        Some(("running", stat)) => ProcessProbe::Running {
            proc_stat: Some(stat.to_string()),
        },
        _ => ProcessProbe::Unknown,
    }
}

/// A [`FileStat`] from the six numbers of the JS `lstat`.
fn file_stat(raw: &[u64]) -> io::Result<FileStat> {
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
    Ok(FileStat {
        kind,
        size,
        mtime_ns,
        ctime_ns,
        inode,
        executable: executable != 0,
    })
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

    #[test]
    fn probe_answers_are_read() {
        assert_eq!(parse_probe("gone"), ProcessProbe::Gone);
        assert_eq!(
            parse_probe("running"),
            ProcessProbe::Running { proc_stat: None }
        );
        assert_eq!(
            parse_probe("running 7 (sh) S 1"),
            ProcessProbe::Running {
                proc_stat: Some("7 (sh) S 1".into())
            }
        );
        assert_eq!(parse_probe("unknown"), ProcessProbe::Unknown);
    }
}
