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
        Ok(is_dir.then_some(FileStat {
            kind: FileKind::Dir,
            size: 0,
            mtime_ns: 0,
            ctime_ns: 0,
            inode: 0,
            executable: false,
        }))
    }

    fn write_atomic(&self, path: &WorkspacePath, bytes: &[u8], executable: bool) -> io::Result<()> {
        let now = self.tick();
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

    fn remove_file(&self, path: &WorkspacePath) -> io::Result<()> {
        self.files.borrow_mut().remove(path);
        Ok(())
    }

    fn remove_dir_all(&self, path: &WorkspacePath) -> io::Result<()> {
        self.files.borrow_mut().retain(|p, _| !p.starts_with(path));
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
