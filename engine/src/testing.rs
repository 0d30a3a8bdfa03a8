//! `MemoryHost`: an in-memory [`Host`] with a fake clock, for tests.
//!
//! Files live in a map; every write bumps the fake clock, so modification
//! times behave like a real file system's. Tests of the engine run over it
//! without touching the disk.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;

use crate::host::{DirEntry, FileKind, FileStat, Host, ProcessProbe};

/// The pid a [`MemoryHost`] says it runs as.
pub const MEMORY_PID: u32 = 1;
use crate::path::WorkspacePath;

#[derive(Debug, Clone)]
struct MemFile {
    bytes: Vec<u8>,
    mtime_ns: u64,
    inode: u64,
    executable: bool,
}

/// An in-memory project.
#[derive(Debug, Default)]
pub struct MemoryHost {
    files: RefCell<BTreeMap<WorkspacePath, MemFile>>,
    env: RefCell<BTreeMap<String, String>>,
    clock_ns: Cell<u64>,
    next_inode: Cell<u64>,
    /// Live processes (pid → `/proc` stat line); this process is [`MEMORY_PID`].
    processes: RefCell<BTreeMap<u32, Option<String>>>,
    /// Every path read, in order (for asserting what a run hashed).
    pub reads: RefCell<Vec<WorkspacePath>>,
    /// Every path stat-ed, in order (`stat` and each path of `stat_many`).
    pub stats: RefCell<Vec<WorkspacePath>>,
    /// Every file removed (`remove_file` of a file that was there), in order.
    pub removed: RefCell<Vec<WorkspacePath>>,
    /// Each folder's mtime (`""` = the root), changed as on a real file
    /// system whenever an entry is created, replaced or removed in it.
    folder_mtimes: RefCell<BTreeMap<String, u64>>,
}

impl MemoryHost {
    pub fn new() -> Self {
        let host = MemoryHost::default();
        host.clock_ns.set(1_700_000_000_000_000_000);
        host.processes.borrow_mut().insert(MEMORY_PID, None);
        host
    }

    /// Writes a file (test setup), advancing the clock.
    pub fn put(&self, path: &str, text: &str) {
        let path = WorkspacePath::new(path).expect("test paths are valid");
        self.write_atomic(&path, text.as_bytes(), false)
            .expect("memory writes succeed");
    }

    /// The file's text, if present.
    pub fn get(&self, path: &str) -> Option<String> {
        let path = WorkspacePath::new(path).ok()?;
        self.files
            .borrow()
            .get(&path)
            .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
    }

    /// Changes a file's mtime without changing its bytes.
    pub fn touch(&self, path: &str) {
        let path = WorkspacePath::new(path).expect("test paths are valid");
        let now = self.tick();
        if let Some(f) = self.files.borrow_mut().get_mut(&path) {
            f.mtime_ns = now;
        }
    }

    /// Makes `pid` a live process, with its `/proc/<pid>/stat` line if given.
    pub fn set_process(&self, pid: u32, proc_stat: Option<&str>) {
        self.processes
            .borrow_mut()
            .insert(pid, proc_stat.map(str::to_string));
    }

    /// Ends process `pid`.
    pub fn forget_process(&self, pid: u32) {
        self.processes.borrow_mut().remove(&pid);
    }

    pub fn set_env(&self, name: &str, value: &str) {
        self.env.borrow_mut().insert(name.into(), value.into());
    }

    /// Moves the clock forward (past the racy window, typically).
    pub fn advance(&self, ns: u64) {
        self.clock_ns.set(self.clock_ns.get() + ns);
    }

    /// Marks `path`'s folder as changed, and each folder above it whose
    /// existence the change started or ended.
    fn folder_changed(
        &self,
        path: &WorkspacePath,
        now: u64,
        existed_before: &dyn Fn(&str) -> bool,
    ) {
        let mut dir = parent_of(path.as_str());
        self.folder_mtimes.borrow_mut().insert(dir.to_string(), now);
        // A folder that appeared or vanished changes its own parent.
        while !dir.is_empty() && !existed_before(dir) {
            dir = parent_of(dir);
            self.folder_mtimes.borrow_mut().insert(dir.to_string(), now);
        }
    }

    fn has_folder(&self, dir: &str) -> bool {
        dir.is_empty()
            || self.files.borrow().keys().any(|p| {
                p.as_str().len() > dir.len()
                    && p.as_str().starts_with(dir)
                    && p.as_str().as_bytes()[dir.len()] == b'/'
            })
    }

    fn tick(&self) -> u64 {
        let now = self.clock_ns.get() + 1_000;
        self.clock_ns.set(now);
        now
    }

    /// All file paths, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.files.borrow().keys().map(|p| p.to_string()).collect()
    }
}

/// The folder holding `path` (`""` = the root).
fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The folders above `path`, nearest first, ending with the root (`""`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(parent_of(path)), |dir| {
        (!dir.is_empty()).then(|| parent_of(dir))
    })
}

impl MemoryHost {
    /// A folder's stat: its mtime changes with its entries.
    fn folder_stat(&self, dir: &str) -> FileStat {
        let mtime_ns = self.folder_mtimes.borrow().get(dir).copied().unwrap_or(0);
        FileStat {
            kind: FileKind::Dir,
            size: 0,
            mtime_ns,
            ctime_ns: mtime_ns,
            inode: 0,
            executable: false,
        }
    }
}

fn not_found(path: &WorkspacePath) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path}: no such file"))
}

impl Host for MemoryHost {
    fn read(&self, path: &WorkspacePath) -> io::Result<Vec<u8>> {
        self.reads.borrow_mut().push(path.clone());
        self.files
            .borrow()
            .get(path)
            .map(|f| f.bytes.clone())
            .ok_or_else(|| not_found(path))
    }

    fn stat(&self, path: &WorkspacePath) -> io::Result<Option<FileStat>> {
        self.stats.borrow_mut().push(path.clone());
        let files = self.files.borrow();
        if let Some(f) = files.get(path) {
            return Ok(Some(FileStat {
                kind: FileKind::File,
                size: f.bytes.len() as u64,
                mtime_ns: f.mtime_ns,
                ctime_ns: f.mtime_ns,
                inode: f.inode,
                executable: f.executable,
            }));
        }
        let is_dir = files.keys().any(|p| p.starts_with(path) && p != path);
        Ok(is_dir.then(|| self.folder_stat(path.as_str())))
    }

    fn stat_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Option<FileStat>> {
        match dir {
            Some(dir) => self.stat(dir),
            None => Ok(Some(self.folder_stat(""))),
        }
    }

    fn write_atomic(&self, path: &WorkspacePath, bytes: &[u8], executable: bool) -> io::Result<()> {
        let now = self.tick();
        let folders_before: Vec<bool> = ancestors(path.as_str())
            .map(|d| self.has_folder(d))
            .collect();
        let existed = |dir: &str| {
            ancestors(path.as_str())
                .position(|d| d == dir)
                .is_some_and(|i| folders_before[i])
        };
        self.folder_changed(path, now, &existed);
        let inode = self.next_inode.get() + 1;
        self.next_inode.set(inode);
        self.files.borrow_mut().insert(
            path.clone(),
            MemFile {
                bytes: bytes.to_vec(),
                mtime_ns: now,
                inode,
                executable,
            },
        );
        Ok(())
    }

    fn read_range(&self, path: &WorkspacePath, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.reads.borrow_mut().push(path.clone());
        let files = self.files.borrow();
        let bytes = &files.get(path).ok_or_else(|| not_found(path))?.bytes;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start.saturating_add(len).min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }

    /// Appends in place (same inode); a missing file is created like
    /// [`Host::write_atomic`] creates one.
    fn append(&self, path: &WorkspacePath, bytes: &[u8]) -> io::Result<()> {
        if !self.files.borrow().contains_key(path) {
            return self.write_atomic(path, bytes, false);
        }
        let now = self.tick();
        let mut files = self.files.borrow_mut();
        let file = files.get_mut(path).expect("checked above");
        file.bytes.extend_from_slice(bytes);
        file.mtime_ns = now;
        Ok(())
    }

    fn remove_file(&self, path: &WorkspacePath) -> io::Result<()> {
        if self.files.borrow_mut().remove(path).is_some() {
            self.removed.borrow_mut().push(path.clone());
            let now = self.tick();
            let exists = |dir: &str| self.has_folder(dir);
            self.folder_changed(path, now, &exists);
        }
        Ok(())
    }

    fn remove_dir_all(&self, path: &WorkspacePath) -> io::Result<()> {
        let before = self.files.borrow().len();
        self.files.borrow_mut().retain(|p, _| !p.starts_with(path));
        if self.files.borrow().len() != before {
            let now = self.tick();
            let exists = |dir: &str| self.has_folder(dir);
            self.folder_changed(path, now, &exists);
        }
        Ok(())
    }

    fn list_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Vec<DirEntry>> {
        let files = self.files.borrow();
        let mut names: BTreeMap<String, FileKind> = BTreeMap::new();
        let mut found = dir.is_none();
        for path in files.keys() {
            let rest = match dir {
                None => path.as_str(),
                Some(d) if path.starts_with(d) && path != d => {
                    found = true;
                    &path.as_str()[d.as_str().len() + 1..]
                }
                Some(_) => continue,
            };
            match rest.split_once('/') {
                Some((first, _)) => names.insert(first.to_string(), FileKind::Dir),
                None => names.insert(rest.to_string(), FileKind::File),
            };
        }
        if !found {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such folder"));
        }
        Ok(names
            .into_iter()
            .map(|(name, kind)| DirEntry { name, kind })
            .collect())
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.env.borrow().get(name).cloned()
    }

    fn now_ns(&self) -> u64 {
        self.tick()
    }

    fn tool_version(&self, argv: &[String]) -> Result<String, String> {
        let name = argv.first().cloned().unwrap_or_default();
        self.env
            .borrow()
            .get(&format!("TOOL_VERSION_{name}"))
            .cloned()
            .ok_or_else(|| format!("`{name}` was not found"))
    }

    fn create_lock_file(&self, path: &WorkspacePath, bytes: &[u8]) -> io::Result<bool> {
        if self.files.borrow().contains_key(path) {
            return Ok(false);
        }
        self.write_atomic(path, bytes, false)?;
        Ok(true)
    }

    fn remove_lock_file(&self, path: &WorkspacePath) -> io::Result<()> {
        self.remove_file(path)
    }

    fn probe_process(&self, pid: u32) -> ProcessProbe {
        match self.processes.borrow().get(&pid) {
            Some(proc_stat) => ProcessProbe::Running {
                proc_stat: proc_stat.clone(),
            },
            None => ProcessProbe::Gone,
        }
    }

    fn process_identity(&self) -> (u32, String) {
        (MEMORY_PID, "memory".to_string())
    }
}

/// Paths in a set, for assertions.
pub fn set_of(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|s| s.to_string()).collect()
}
