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

use std::ffi::{CStr, CString};
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
        replace(stage, &temp, dir, &name)
    })();
    if result.is_err() {
        // SAFETY: valid fd and name.
        unsafe { libc::unlinkat(stage.as_raw_fd(), temp.as_ptr(), 0) };
    }
    result
}

/// Appends `bytes` to the file `name` in the folder `dir` in one `write`
/// (`O_APPEND`), creating it when missing.
pub fn append_in(dir: &OwnedFd, name: &str, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let name = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: valid fd and NUL-terminated name; the result is checked.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o666 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }).write_all(bytes)
}

/// Puts the finished temporary file `temp` (in `stage`) at `name` (in
/// `dir`) in one step, so a reader finds the old file or the new one, never
/// none. A file or symlink already there is swapped with it
/// (`RENAME_EXCHANGE`) and then removed from `temp`: a plain rename over an
/// existing file makes ext4 start writing the new file's data at once
/// (`auto_da_alloc`), about 1 ms per MB on our machines, and generated
/// files are replaced on every edit. Anything else (nothing there, a
/// folder, a file system without the exchange) gets the plain rename, with
/// its errors. A symlink at `name` is replaced itself, never its target.
fn replace(stage: &OwnedFd, temp: &CStr, dir: &OwnedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: valid fds and NUL-terminated names; results are checked.
    unsafe {
        let mut there: libc::stat = std::mem::zeroed();
        let found = libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut there,
            libc::AT_SYMLINK_NOFOLLOW,
        ) == 0;
        let kind = there.st_mode & libc::S_IFMT;
        if found && (kind == libc::S_IFREG || kind == libc::S_IFLNK) {
            let exchanged = libc::syscall(
                libc::SYS_renameat2,
                stage.as_raw_fd(),
                temp.as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::RENAME_EXCHANGE,
            ) == 0;
            if exchanged {
                // The old file, now at `temp`. Left behind (it cannot be
                // removed), it is swept with the staging folder's leftovers.
                libc::unlinkat(stage.as_raw_fd(), temp.as_ptr(), 0);
                return Ok(());
            }
        }
        if libc::renameat(
            stage.as_raw_fd(),
            temp.as_ptr(),
            dir.as_raw_fd(),
            name.as_ptr(),
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn open_dir(path: &std::path::Path) -> OwnedFd {
        fs::File::open(path).unwrap().into()
    }

    /// A project folder with a staging folder inside; (root, stage, dir fds).
    fn folders() -> (tempfile::TempDir, OwnedFd, OwnedFd) {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("stage")).unwrap();
        let stage = open_dir(&root.path().join("stage"));
        let dir = open_dir(root.path());
        (root, stage, dir)
    }

    #[test]
    fn a_write_replaces_a_file_a_symlink_or_nothing_and_leaves_no_temporary_file() {
        let (root, stage, dir) = folders();
        let at = root.path().join("out.txt");
        // Nothing there yet: the plain rename.
        write_in(&stage, "1.0", &dir, "out.txt", b"first", false).unwrap();
        assert_eq!(fs::read(&at).unwrap(), b"first");
        // A file there, open for reading: swapped, and the reader keeps the
        // old bytes while the name gives the new ones.
        let mut reader = fs::File::open(&at).unwrap();
        write_in(&stage, "1.1", &dir, "out.txt", b"second", false).unwrap();
        assert_eq!(fs::read(&at).unwrap(), b"second");
        let mut old = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut old).unwrap();
        assert_eq!(old, b"first");
        // A symlink there: the link itself is replaced, its target untouched.
        fs::write(root.path().join("target.txt"), b"target").unwrap();
        fs::remove_file(&at).unwrap();
        symlink("target.txt", &at).unwrap();
        write_in(&stage, "1.2", &dir, "out.txt", b"third", true).unwrap();
        assert!(!fs::symlink_metadata(&at).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&at).unwrap(), b"third");
        assert_eq!(fs::read(root.path().join("target.txt")).unwrap(), b"target");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&at).unwrap().permissions().mode() & 0o777,
            0o755
        );
        // Nothing is left in the staging folder.
        assert_eq!(fs::read_dir(root.path().join("stage")).unwrap().count(), 0);
    }

    #[test]
    fn a_folder_in_the_way_is_an_error_and_stays() {
        let (root, stage, dir) = folders();
        fs::create_dir(root.path().join("out")).unwrap();
        fs::write(root.path().join("out/kept.txt"), b"kept").unwrap();
        assert!(write_in(&stage, "1.0", &dir, "out", b"bytes", false).is_err());
        assert_eq!(fs::read(root.path().join("out/kept.txt")).unwrap(), b"kept");
        assert_eq!(fs::read_dir(root.path().join("stage")).unwrap().count(), 0);
    }
}
