//! `Host`: the engine's only route to the outside world.
//!
//! Every file read, write, stat and directory listing, every environment
//! lookup, every clock read and the project lock's files go through this
//! trait.
//! Processes are *not* spawned here: the engine hands a [`crate::build::Job`]
//! to its driver, which runs it (threads natively, Promises under Node) and
//! reports back. Keeping IO behind one seam is what lets the same engine run
//! natively, inside WebAssembly driven by Node, and in tests over
//! [`MemoryHost`](crate::testing::MemoryHost) with a fake clock.
//!
//! All paths are [`WorkspacePath`]s: the host joins them to the project root.

use std::io;

use crate::path::WorkspacePath;

/// What the engine needs to know about a file, as `lstat` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub kind: FileKind,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// Status-change time (0 where the platform has none).
    pub ctime_ns: u64,
    /// Inode or file index (0 where the platform has none).
    pub inode: u64,
    pub executable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub kind: FileKind,
}

/// The IO seam. Implemented by the native CLI (`std::fs`), by the JS host of
/// the npm package (`node:fs`), and by `MemoryHost` for tests.
pub trait Host {
    /// Reads a whole file.
    fn read(&self, path: &WorkspacePath) -> io::Result<Vec<u8>>;

    /// `lstat`: never follows a symlink. `Ok(None)` when nothing is there.
    fn stat(&self, path: &WorkspacePath) -> io::Result<Option<FileStat>>;

    /// [`Host::stat`] of many paths, results in the same order. A build asks
    /// for the files it will check up front, so a host may spread the calls
    /// over threads (the native one does); the default stats one by one.
    fn stat_many(&self, paths: &[WorkspacePath]) -> Vec<io::Result<Option<FileStat>>> {
        paths.iter().map(|path| self.stat(path)).collect()
    }

    /// Writes `bytes` to a temporary file and renames it into place,
    /// creating parent folders. A reader never sees a half-written file.
    /// The temporary file goes in [`crate::staging::STAGING_DIR`] (beside
    /// `path` only when that cannot be used), so a kill leaves nothing where
    /// a glob looks.
    fn write_atomic(&self, path: &WorkspacePath, bytes: &[u8], executable: bool) -> io::Result<()>;

    /// Reads up to `len` bytes of a file from byte `offset` (fewer at its
    /// end, none past it): one entry of a store pack, without reading the
    /// whole pack.
    fn read_range(&self, path: &WorkspacePath, offset: u64, len: usize) -> io::Result<Vec<u8>>;

    /// Appends `bytes` to the end of a file in one write, creating it (and
    /// its parent folders) when missing. Not atomic: a kill may leave part
    /// of `bytes`, so the format written this way must find its own end
    /// (the store's packs do, see `pack.rs`). Used so that a run records
    /// its results into one file instead of creating a file per result.
    fn append(&self, path: &WorkspacePath, bytes: &[u8]) -> io::Result<()>;

    /// Removes a file; a missing file is not an error.
    fn remove_file(&self, path: &WorkspacePath) -> io::Result<()>;

    /// Removes a folder and everything below it; a missing one is not an error.
    fn remove_dir_all(&self, path: &WorkspacePath) -> io::Result<()>;

    /// The stat of a folder, the project root when `dir` is `None`; taken
    /// before a walk lists it, so the witness can tell whether the listing
    /// could have changed. A host that cannot stat its root says `None`
    /// for it, and a walk from the root is then never vouched for.
    fn stat_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Option<FileStat>> {
        match dir {
            Some(dir) => self.stat(dir),
            None => Ok(None),
        }
    }

    /// Lists a folder (`None` = the project root). Order is unspecified.
    fn list_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Vec<DirEntry>>;

    /// A variable of the environment cloesce was started in.
    fn env_var(&self, name: &str) -> Option<String>;

    /// Wall-clock time, nanoseconds since the Unix epoch.
    fn now_ns(&self) -> u64;

    /// Runs `argv` to completion and returns its trimmed stdout: used only for
    /// a declared tool's `--version`, never for rules.
    fn tool_version(&self, argv: &[String]) -> Result<String, String>;

    /// Creates the lock file `path` (and its parent folders) holding `bytes`
    /// only if nothing is there (`O_CREAT | O_EXCL`); `Ok(false)` when
    /// something is. The host remembers it and removes it when cloesce is
    /// interrupted or exits without [`Host::remove_lock_file`]. The lock
    /// protocol itself is [`crate::lock`].
    fn create_lock_file(&self, path: &WorkspacePath, bytes: &[u8]) -> io::Result<bool>;

    /// Removes a lock file (ours, or a stale one being taken over) and
    /// forgets it; a missing file is not an error.
    fn remove_lock_file(&self, path: &WorkspacePath) -> io::Result<()>;

    /// Whether process `pid` exists on this machine.
    fn probe_process(&self, pid: u32) -> ProcessProbe;

    /// This process's pid and the machine's host name.
    fn process_identity(&self) -> (u32, String);
}

/// What a host knows about a process ([`Host::probe_process`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessProbe {
    /// No such process (`kill(pid, 0)` fails with `ESRCH`).
    Gone,
    /// It exists (`kill(pid, 0)` succeeds or fails with `EPERM`);
    /// `proc_stat` is its `/proc/<pid>/stat` line where there is one
    /// (Linux), from which [`crate::lock`] reads zombies and start times.
    Running { proc_stat: Option<String> },
    /// The host cannot tell: the lock counts as held.
    Unknown,
}
