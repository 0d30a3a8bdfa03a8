//! `NativeHost`: the engine's `Host` over `std::fs`, rooted at the project.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use cloesce_engine::containment::{self, Resolved};
use cloesce_engine::host::{DirEntry, FileKind, FileStat, Host, ProcessProbe};
use cloesce_engine::staging;
use cloesce_engine::WorkspacePath;

/// Temporary files get a name unique to this process and write.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A project folder on the local disk.
#[derive(Debug)]
pub struct NativeHost {
    root: PathBuf,
    /// The root, opened for the `openat2` fast path of the containment
    /// check (`beneath.rs`); `None` when it could not be opened.
    #[cfg(target_os = "linux")]
    root_fd: Option<std::os::fd::OwnedFd>,
}

/// The lock files this process created and has not removed, with what it
/// wrote in them: removed by [`remove_held_lock_files`] when a signal ends
/// cloesce.
static LOCK_FILES: Mutex<Vec<(PathBuf, Vec<u8>)>> = Mutex::new(Vec::new());

fn lock_files() -> std::sync::MutexGuard<'static, Vec<(PathBuf, Vec<u8>)>> {
    LOCK_FILES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the lock files this process still holds (if they still hold what
/// it wrote). Called by the interrupt handler just before it exits.
pub fn remove_held_lock_files() {
    for (path, bytes) in lock_files().drain(..) {
        if fs::read(&path).is_ok_and(|now| now == bytes) {
            let _ = fs::remove_file(&path);
        }
    }
}

/// `kill(pid, 0)`: the process exists when it succeeds or fails with EPERM
/// (someone else's process). On Linux its `/proc/<pid>/stat` line comes
/// along (zombie state, start time).
#[cfg(unix)]
fn probe_process(pid: u32) -> ProcessProbe {
    let Ok(signed) = libc::pid_t::try_from(pid) else {
        return ProcessProbe::Gone;
    };
    if signed <= 0 {
        // 0 and negative pids name process groups, not a process.
        return ProcessProbe::Gone;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(signed, 0) } == 0;
    if !alive {
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::ESRCH) => return ProcessProbe::Gone,
            Some(libc::EPERM) => {}
            _ => return ProcessProbe::Unknown,
        }
    }
    let proc_stat = if cfg!(target_os = "linux") {
        fs::read_to_string(format!("/proc/{pid}/stat")).ok()
    } else {
        None
    };
    ProcessProbe::Running { proc_stat }
}

/// Without `kill`, whether a process lives is not known here: a lock counts
/// as held (delete `.cloesce/lock` by hand after a crash).
#[cfg(not(unix))]
fn probe_process(_pid: u32) -> ProcessProbe {
    ProcessProbe::Unknown
}

/// The machine's name, as Node's `os.hostname()` reports it (both call
/// `gethostname`), so the two builds name the same host alike.
fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname
        // NUL-terminates within it on success.
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_string())
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

    /// Refuses `path` when it resolves outside the project through a
    /// symbolic link (`cloesce_engine::containment` decides; this resolves
    /// with `canonicalize`). With `follow_last`, the final component is
    /// followed too (reads, listings); without, only the folders above it
    /// (writes and removals act on the final component itself).
    fn check_inside(&self, path: &WorkspacePath, follow_last: bool) -> io::Result<()> {
        containment::check_inside(path, follow_last, |part| {
            match self.abs(part).canonicalize() {
                Ok(resolved) if resolved.starts_with(&self.root) => Resolved::Inside,
                Ok(resolved) => Resolved::Outside(resolved.display().to_string()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Resolved::Missing,
                // Not a folder, a loop, …: let the real operation report it.
                Err(_) => Resolved::Unknown,
            }
        })
    }

    /// [`Host::write_atomic`] through a temporary file named `temp` in the
    /// staging folder. An error means nothing was written: the caller falls
    /// back to a temporary file beside the target.
    fn write_staged(
        &self,
        path: &WorkspacePath,
        temp: &str,
        bytes: &[u8],
        executable: bool,
    ) -> io::Result<()> {
        let stage = staging::staging_dir();
        #[cfg(target_os = "linux")]
        {
            use super::beneath::Beneath;
            let open_stage = || self.open_beneath(stage.as_str(), libc::O_PATH | libc::O_DIRECTORY);
            let mut opened = open_stage();
            if matches!(opened, Beneath::NotFound) {
                self.check_inside(&stage, false)?;
                fs::create_dir_all(self.abs(&stage))?;
                opened = open_stage();
            }
            if let (Beneath::Opened(stage), Beneath::Opened(dir)) =
                (opened, self.open_parent_beneath(path))
            {
                return super::beneath::write_in(
                    &stage,
                    temp,
                    &dir,
                    path.file_name(),
                    bytes,
                    executable,
                );
            }
        }
        let staged = stage.join(temp).map_err(io::Error::other)?;
        self.check_inside(&staged, false)?;
        self.check_inside(path, false)?;
        let abs = self.abs(path);
        let parent = abs.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent)?;
        fs::create_dir_all(self.abs(&stage))?;
        write_then_rename(&self.abs(&staged), &abs, bytes, executable)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn abs(&self, path: &WorkspacePath) -> PathBuf {
        abs_path(&self.root, path)
    }
}

/// Writes `bytes` to the new file `temp` and renames it to `target`; `temp`
/// is removed on failure.
fn write_then_rename(temp: &Path, target: &Path, bytes: &[u8], executable: bool) -> io::Result<()> {
    let result = (|| {
        let mut file = File::create_new(temp)?;
        file.write_all(bytes)?;
        #[cfg(unix)]
        if executable {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o755))?;
        }
        #[cfg(not(unix))]
        let _ = executable;
        drop(file);
        // rename replaces a symlink at `target` itself, never its target.
        fs::rename(temp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(temp);
    }
    result
}

/// Below this many paths, `stat_many` does not start threads.
const PARALLEL_STAT_MIN: usize = 256;

/// `root` joined with `path`. On Unix a workspace path (validated:
/// relative, `/`-separated, no `.` or `..`) is already a native relative
/// path, so it is appended in one piece instead of segment by segment (the
/// segment loop was most of the stat threads' user time on a no-op).
fn abs_path(root: &Path, path: &WorkspacePath) -> PathBuf {
    #[cfg(unix)]
    {
        root.join(path.as_str())
    }
    #[cfg(not(unix))]
    {
        let mut p = root.to_path_buf();
        p.extend(path.as_str().split('/'));
        p
    }
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

pub(super) fn stat_of(meta: &fs::Metadata) -> FileStat {
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

/// Up to `len` bytes of `file` from `offset` (fewer at its end).
fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    #[cfg(unix)]
    use std::os::unix::fs::FileExt;
    #[cfg(windows)]
    use std::os::windows::fs::FileExt;
    let mut bytes = vec![0; len];
    let mut filled = 0;
    while filled < len {
        let at = offset + filled as u64;
        #[cfg(unix)]
        let read = file.read_at(&mut bytes[filled..], at);
        #[cfg(windows)]
        let read = file.seek_read(&mut bytes[filled..], at);
        match read {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
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
        self.check_inside(path, true)?;
        fs::read(abs)
    }

    fn stat(&self, path: &WorkspacePath) -> io::Result<Option<FileStat>> {
        #[cfg(target_os = "linux")]
        if let Some(root) = &self.root_fd {
            return super::stat_at::lstat_at(root, path.as_str());
        }
        lstat(&self.abs(path))
    }

    fn stat_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Option<FileStat>> {
        match dir {
            Some(dir) => self.stat(dir),
            None => lstat(&self.root),
        }
    }

    /// One chunk of paths per core, each stat-ed on its own thread.
    fn stat_many(&self, paths: &[WorkspacePath]) -> Vec<io::Result<Option<FileStat>>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 || paths.len() < PARALLEL_STAT_MIN {
            return paths.iter().map(|path| self.stat(path)).collect();
        }
        let chunk = paths.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = paths
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|path| self.stat(path)).collect::<Vec<_>>())
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

    /// Stages the temporary file in `.cloesce/tmp/` (see
    /// `cloesce_engine::staging`); beside the target only when that fails.
    fn write_atomic(&self, path: &WorkspacePath, bytes: &[u8], executable: bool) -> io::Result<()> {
        let pid = std::process::id();
        let counter = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let staged = staging::staged_name(pid, counter);
        if self.write_staged(path, &staged, bytes, executable).is_ok() {
            return Ok(());
        }
        let beside = staging::beside_name(path.file_name(), pid, counter);
        // The folder exists and is inside: write relative to it.
        #[cfg(target_os = "linux")]
        if let super::beneath::Beneath::Opened(dir) = self.open_parent_beneath(path) {
            return super::beneath::write_in(
                &dir,
                &beside,
                &dir,
                path.file_name(),
                bytes,
                executable,
            );
        }
        let abs = self.abs(path);
        self.check_inside(path, false)?;
        let parent = abs.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&parent)?;
        write_then_rename(&parent.join(beside), &abs, bytes, executable)
    }

    fn read_range(&self, path: &WorkspacePath, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        #[cfg(target_os = "linux")]
        match self.open_beneath(path.as_str(), libc::O_RDONLY) {
            super::beneath::Beneath::Opened(fd) => return read_at(&File::from(fd), offset, len),
            super::beneath::Beneath::NotFound => {
                return Err(io::Error::from_raw_os_error(libc::ENOENT))
            }
            super::beneath::Beneath::Unsure => {}
        }
        let abs = self.abs(path);
        self.check_inside(path, true)?;
        read_at(&File::open(abs)?, offset, len)
    }

    /// `O_APPEND`: one `write` at the end, in the file's own inode (no
    /// temporary file, so a run's many appends create one file).
    fn append(&self, path: &WorkspacePath, bytes: &[u8]) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let super::beneath::Beneath::Opened(dir) = self.open_parent_beneath(path) {
            return super::beneath::append_in(&dir, path.file_name(), bytes);
        }
        let abs = self.abs(path);
        self.check_inside(path, false)?;
        // A symlink in the file's place is refused, never followed (only
        // the folder above was checked, as for every write).
        let open = || {
            let mut options = fs::OpenOptions::new();
            options.append(true).create(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
            options.open(&abs)
        };
        let mut file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(abs.parent().unwrap_or(&self.root))?;
                open()?
            }
            other => other?,
        };
        file.write_all(bytes)
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
        self.check_inside(path, false)?;
        match fs::remove_file(abs) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn remove_dir_all(&self, path: &WorkspacePath) -> io::Result<()> {
        let abs = self.abs(path);
        self.check_inside(path, false)?;
        match fs::remove_dir_all(abs) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn list_dir(&self, dir: Option<&WorkspacePath>) -> io::Result<Vec<DirEntry>> {
        let abs = dir.map_or_else(|| self.root.clone(), |d| self.abs(d));
        if let Some(dir) = dir {
            self.check_inside(dir, true)?;
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

    fn create_lock_file(&self, path: &WorkspacePath, bytes: &[u8]) -> io::Result<bool> {
        let abs = self.abs(path);
        self.check_inside(path, false)?;
        if let Some(parent) = abs.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&abs)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        };
        lock_files().push((abs.clone(), bytes.to_vec()));
        if let Err(e) = file.write_all(bytes) {
            drop(file);
            let _ = self.remove_lock_file(path);
            return Err(e);
        }
        Ok(true)
    }

    fn remove_lock_file(&self, path: &WorkspacePath) -> io::Result<()> {
        let abs = self.abs(path);
        self.check_inside(path, false)?;
        lock_files().retain(|(held, _)| held != &abs);
        match fs::remove_file(abs) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn probe_process(&self, pid: u32) -> ProcessProbe {
        probe_process(pid)
    }

    fn process_identity(&self) -> (u32, String) {
        (std::process::id(), hostname())
    }
}
