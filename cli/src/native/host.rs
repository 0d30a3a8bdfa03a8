//! `NativeHost`: the engine's `Host` over `std::fs`, rooted at the project.

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use cloesce_engine::host::{DirEntry, FileKind, FileStat, Host};
use cloesce_engine::WorkspacePath;

/// Temporary files get a name unique to this process and write.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A project folder on the local disk.
#[derive(Debug)]
pub struct NativeHost {
    root: PathBuf,
    lock: RefCell<Option<File>>,
    /// The root, opened for the `openat2` fast path of the containment
    /// check (`beneath.rs`); `None` when it could not be opened.
    #[cfg(target_os = "linux")]
    root_fd: Option<std::os::fd::OwnedFd>,
}

impl NativeHost {
    /// A host rooted at `root` (made canonical, so the containment checks
    /// below compare like with like).
    pub fn new(root: PathBuf) -> Self {
        let root = root.canonicalize().unwrap_or(root);
        NativeHost {
            #[cfg(target_os = "linux")]
            root_fd: super::beneath::open_root(&root),
            root,
            lock: RefCell::new(None),
        }
    }

    /// The fast path (`beneath.rs`): `path` opened with `flags`, checked to
    /// resolve inside the project in the same system call.
    #[cfg(target_os = "linux")]
    fn open_beneath(&self, path: &str, flags: libc::c_int) -> super::beneath::Beneath {
        match &self.root_fd {
            Some(root) => super::beneath::open(root, path, flags),
            None => super::beneath::Beneath::Unsure,
        }
    }

    /// The folder holding `path`, opened through the fast path.
    #[cfg(target_os = "linux")]
    fn open_parent_beneath(&self, path: &WorkspacePath) -> super::beneath::Beneath {
        let parent = path.as_str().rsplit_once('/').map_or(".", |(p, _)| p);
        self.open_beneath(parent, libc::O_PATH | libc::O_DIRECTORY)
    }

    /// Refuses `abs` (the host path of `path`) when it resolves outside the
    /// project through a symbolic link. With `follow_last`, the final
    /// component is followed too (reads, listings); without, only the folders
    /// above it are checked (writes and removals act on the final component
    /// itself: a rename or unlink replaces a symlink, never its target).
    ///
    /// A `WorkspacePath` cannot spell `..` or an absolute path, so symlinks
    /// are the only way out of the project; this check closes it for every
    /// read, write and removal cloesce itself makes. Components that do not
    /// exist yet are fine: `create_dir_all` makes real folders.
    fn check_inside(&self, abs: &Path, path: &WorkspacePath, follow_last: bool) -> io::Result<()> {
        let mut probe = if follow_last {
            abs
        } else {
            match abs.parent() {
                Some(parent) => parent,
                None => return Ok(()),
            }
        };
        // The deepest part that exists decides.
        let resolved = loop {
            match probe.canonicalize() {
                Ok(resolved) => break resolved,
                Err(e) if e.kind() == io::ErrorKind::NotFound => match probe.parent() {
                    Some(parent) if parent.starts_with(&self.root) => probe = parent,
                    _ => return Ok(()),
                },
                // Not a folder, a loop, …: let the real operation report it.
                Err(_) => return Ok(()),
            }
        };
        if resolved.starts_with(&self.root) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{path} leads to {} through a symbolic link, outside the project; cloesce never reads or writes outside the project (replace the link with a real file or folder)",
                    resolved.display()
                ),
            ))
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn abs(&self, path: &WorkspacePath) -> PathBuf {
        abs_path(&self.root, path)
    }

    fn open_lock_file(&self, path: &WorkspacePath) -> io::Result<File> {
        let abs = self.abs(path);
        self.check_inside(&abs, path, false)?;
        if let Some(parent) = abs.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(abs)
    }
}

/// Below this many paths, `stat_many` does not start threads.
const PARALLEL_STAT_MIN: usize = 256;

fn abs_path(root: &Path, path: &WorkspacePath) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(path.as_str().split('/'));
    p
}

fn lstat(abs: &Path) -> io::Result<Option<FileStat>> {
    match fs::symlink_metadata(abs) {
        Ok(meta) => Ok(Some(stat_of(&meta))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn nanos(time: io::Result<SystemTime>) -> u64 {
    time.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

fn stat_of(meta: &fs::Metadata) -> FileStat {
    let kind = if meta.file_type().is_symlink() {
        FileKind::Symlink
    } else if meta.is_dir() {
        FileKind::Dir
    } else {
        FileKind::File
    };
    #[cfg(unix)]
    let (ctime_ns, inode, executable) = {
        use std::os::unix::fs::MetadataExt;
        (
            (meta.ctime() as u64).saturating_mul(1_000_000_000) + meta.ctime_nsec() as u64,
            meta.ino(),
            meta.mode() & 0o111 != 0,
        )
    };
    #[cfg(not(unix))]
    let (ctime_ns, inode, executable) = (0, 0, false);
    FileStat {
        kind,
        size: meta.len(),
        mtime_ns: nanos(meta.modified()),
        ctime_ns,
        inode,
        executable,
    }
}

impl Host for NativeHost {
    fn read(&self, path: &WorkspacePath) -> io::Result<Vec<u8>> {
        #[cfg(target_os = "linux")]
        match self.open_beneath(path.as_str(), libc::O_RDONLY) {
            super::beneath::Beneath::Opened(fd) => {
                let mut bytes = Vec::new();
                io::Read::read_to_end(&mut File::from(fd), &mut bytes)?;
                return Ok(bytes);
            }
            super::beneath::Beneath::NotFound => {
                return Err(io::Error::from_raw_os_error(libc::ENOENT))
            }
            super::beneath::Beneath::Unsure => {}
        }
        let abs = self.abs(path);
        self.check_inside(&abs, path, true)?;
        fs::read(abs)
    }

    fn stat(&self, path: &WorkspacePath) -> io::Result<Option<FileStat>> {
        lstat(&self.abs(path))
    }

    /// One chunk of paths per core, each stat-ed on its own thread.
    fn stat_many(&self, paths: &[WorkspacePath]) -> Vec<io::Result<Option<FileStat>>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 || paths.len() < PARALLEL_STAT_MIN {
            return paths.iter().map(|path| self.stat(path)).collect();
        }
        let root = self.root.as_path();
        let chunk = paths.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = paths
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|path| lstat(&abs_path(root, path)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }

    fn write_atomic(&self, path: &WorkspacePath, bytes: &[u8], executable: bool) -> io::Result<()> {
        let temp_name = format!(
            ".{}.cloesce-tmp.{}.{}",
            path.file_name(),
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        // The folder exists and is inside: write relative to it.
        #[cfg(target_os = "linux")]
        if let super::beneath::Beneath::Opened(dir) = self.open_parent_beneath(path) {
            return super::beneath::write_in(&dir, &temp_name, path.file_name(), bytes, executable);
        }
        let abs = self.abs(path);
        self.check_inside(&abs, path, false)?;
        let parent = abs.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&parent)?;
        let temp = parent.join(temp_name);
        let result = (|| {
            let mut file = File::create(&temp)?;
            file.write_all(bytes)?;
            #[cfg(unix)]
            if executable {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(fs::Permissions::from_mode(0o755))?;
            }
            #[cfg(not(unix))]
            let _ = executable;
            drop(file);
            // rename replaces a symlink at `abs` itself, never its target.
            fs::rename(&temp, &abs)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn remove_file(&self, path: &WorkspacePath) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        match self.open_parent_beneath(path) {
            super::beneath::Beneath::Opened(dir) => {
                return super::beneath::remove_in(&dir, path.file_name())
            }
            // No folder, no file.
            super::beneath::Beneath::NotFound => return Ok(()),
            super::beneath::Beneath::Unsure => {}
        }
        let abs = self.abs(path);
        self.check_inside(&abs, path, false)?;
        match fs::remove_file(abs) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn remove_dir_all(&self, path: &WorkspacePath) -> io::Result<()> {
        let abs = self.abs(path);
        self.check_inside(&abs, path, false)?;
        match fs::remove_dir_all(abs) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn list_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Vec<DirEntry>> {
        let abs = dir.map_or_else(|| self.root.clone(), |d| self.abs(d));
        if let Some(dir) = dir {
            self.check_inside(&abs, dir, true)?;
        }
        let mut out = Vec::new();
        for entry in fs::read_dir(abs)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not UTF-8: cannot be named in a pipeline
            };
            let file_type = entry.file_type()?;
            let kind = if file_type.is_symlink() {
                FileKind::Symlink
            } else if file_type.is_dir() {
                FileKind::Dir
            } else {
                FileKind::File
            };
            out.push(DirEntry { name, kind });
        }
        Ok(out)
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn now_ns(&self) -> u64 {
        nanos(Ok(SystemTime::now()))
    }

    fn tool_version(&self, argv: &[String]) -> Result<String, String> {
        let Some((program, args)) = argv.split_first() else {
            return Err("no command".into());
        };
        let root = self.root.to_string_lossy();
        let resolved = cloesce_engine::job::resolve_program(
            program,
            &root,
            std::env::var("PATH").ok().as_deref(),
            std::env::var("PATHEXT").ok().as_deref(),
            super::platform::native_os(),
            &|p| Path::new(p).is_file(),
        )
        .ok_or_else(|| format!("`{program}` was not found in node_modules/.bin or on PATH"))?;
        let output = std::process::Command::new(resolved)
            .args(args)
            .current_dir(&self.root)
            .output()
            .map_err(|e| format!("`{program}` could not be started: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`{}` failed with {}",
                argv.join(" "),
                output.status
            ));
        }
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if stdout.is_empty() {
            Ok(String::from_utf8_lossy(&output.stderr).trim().to_string())
        } else {
            Ok(stdout)
        }
    }

    fn try_lock(&self, path: &WorkspacePath) -> io::Result<bool> {
        let file = self.open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => {
                *self.lock.borrow_mut() = Some(file);
                Ok(true)
            }
            Err(fs::TryLockError::WouldBlock) => Ok(false),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn lock(&self, path: &WorkspacePath) -> io::Result<()> {
        let file = self.open_lock_file(path)?;
        file.lock()?;
        *self.lock.borrow_mut() = Some(file);
        Ok(())
    }

    fn unlock(&self, _path: &WorkspacePath) -> io::Result<()> {
        if let Some(file) = self.lock.borrow_mut().take() {
            file.unlock()?;
        }
        Ok(())
    }
}
