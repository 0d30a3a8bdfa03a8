//! The fast path of `NativeHost`'s containment check (Linux 5.6+).
//!
//! `NativeHost::check_inside` resolves a path with `canonicalize`, one
//! `readlink` per component of the absolute path: about 70 system calls per
//! rule on a cold build (inputs read, outputs removed and read, two store
//! writes). `openat2(RESOLVE_BENEATH)` from a descriptor of the project root
//! opens the file (or its folder) and refuses, in the same call, any
//! resolution that leaves the root. When it succeeds or says "not found" the
//! answer is the one the slow check would give (an escaping component fails
//! with `EXDEV` before anything below it is looked up); every other outcome
//! (`EXDEV` — which also covers absolute symlinks that point back inside —,
//! `ELOOP`, an old kernel, a seccomp filter) falls back to the slow path, so
//! behaviour and messages are unchanged.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What the fast path found.
pub enum Beneath {
    /// Opened, and every component resolved inside the root.
    Opened(OwnedFd),
    /// A component does not exist; everything before it is inside the root.
    NotFound,
    /// Undecided: use the slow check.
    Unsure,
}

/// Opens the project root for [`open`].
pub fn open_root(root: &std::path::Path) -> Option<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(root)
        .ok()
        .map(OwnedFd::from)
}

/// `openat2(root, relative, flags | O_CLOEXEC, RESOLVE_BENEATH)`.
pub fn open(root: &OwnedFd, relative: &str, flags: libc::c_int) -> Beneath {
    let Ok(path) = CString::new(relative) else {
        return Beneath::Unsure;
    };
    // SAFETY: open_how is plain data; zeroed is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        // SAFETY: valid fd, NUL-terminated path, `how` of the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                std::ptr::addr_of!(how),
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh descriptor that nothing else owns.
            return Beneath::Opened(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
            Some(libc::ENOENT) => return Beneath::NotFound,
            _ => return Beneath::Unsure,
        }
    }
}

/// Writes `bytes` to a new temporary file `temp` in the folder `stage` and
/// renames it to `name` in the folder `dir` (which may be `stage`); the
/// temporary file is removed on failure.
pub fn write_in(
    stage: &OwnedFd,
    temp: &str,
    dir: &OwnedFd,
    name: &str,
    bytes: &[u8],
    executable: bool,
) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let temp = CString::new(temp).map_err(io::Error::other)?;
    let name = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: valid fd and NUL-terminated name; the result is checked.
    let fd = unsafe {
        libc::openat(
            stage.as_raw_fd(),
            temp.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o666 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let result = (|| {
        file.write_all(bytes)?;
        if executable {
            file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        }
        drop(file);
        // SAFETY: valid fd and names. renameat replaces a symlink at `name`
        // itself, never its target.
        if unsafe {
            libc::renameat(
                stage.as_raw_fd(),
                temp.as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    })();
    if result.is_err() {
        // SAFETY: valid fd and name.
        unsafe { libc::unlinkat(stage.as_raw_fd(), temp.as_ptr(), 0) };
    }
    result
}

/// Removes the file `name` in the folder `dir`; a missing file is fine.
pub fn remove_in(dir: &OwnedFd, name: &str) -> io::Result<()> {
    let name = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: valid fd and NUL-terminated name.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } != 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::NotFound {
            return Err(e);
        }
    }
    Ok(())
}
