//! Starting a rule's process without copying cloesce (Linux).
//!
//! A rule's process must start in its own process group, with the signals
//! cloesce blocks unblocked and with `PR_SET_PDEATHSIG = SIGKILL` (see
//! `interrupt.rs`). std's `Command` can do that only with a `pre_exec` hook,
//! and a hook makes it `fork`: the kernel then copies cloesce's page tables
//! (tens of MB on a large pipeline) for every rule, only for `execve` to throw
//! them away, and cloesce takes a copy-on-write fault on every page it touches
//! afterwards. On a cold 1,000-rule build that was ~15% of all CPU time of
//! the build, children included (`perf`: `copy_page_range`,
//! `unmap_page_range`, page faults).
//!
//! [`Spawner::spawn`] does what glibc's `posix_spawn` does instead —
//! `clone(CLONE_VM | CLONE_VFORK)`: the child borrows cloesce's memory and
//! runs on a small stack of its own until `execve`, while the calling thread
//! waits — and adds the one step `posix_spawn` cannot express, `PDEATHSIG`.
//! Everything the child touches is prepared by the parent beforehand; the
//! child itself only makes plain system calls (no allocation, no locks, no
//! Rust runtime), as a `vfork` child must.
//!
//! `PDEATHSIG` fires when the *thread* that started the child ends, so call
//! [`Spawner::spawn`] on a thread that outlives the child (the job workers
//! in `jobs.rs` do: they wait for the child and never exit).

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The child's stack: it makes a handful of system calls, nothing more.
const CHILD_STACK_BYTES: usize = 64 * 1024;

/// A started child: its pid and the read ends of its stdout and stderr.
#[derive(Debug)]
pub struct Spawned {
    pub pid: libc::pid_t,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Starts children from one thread; keeps the child stack and `/dev/null`
/// between spawns.
pub struct Spawner {
    stack: Box<[u8]>,
    dev_null: Option<OwnedFd>,
}

impl Default for Spawner {
    fn default() -> Self {
        Spawner {
            stack: vec![0u8; CHILD_STACK_BYTES].into_boxed_slice(),
            dev_null: None,
        }
    }
}

/// What the child needs, prepared by the parent. The child writes `error`
/// (an errno) when a step fails; the parent reads it once `clone` returns,
/// which with `CLONE_VFORK` is after the child called `execve` or exited.
#[repr(C)]
struct ChildArgs {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    stdin: c_int,
    stdout: c_int,
    stderr: c_int,
    parent: libc::pid_t,
    error: c_int,
}

impl Spawner {
    /// Starts `program` with the arguments `args` (its `argv[0]` is
    /// `program`), exactly the environment `env`, in `cwd`; stdin is `/dev/null`, stdout
    /// and stderr are pipes. The child leads a new process group, has no
    /// blocked signals, the default SIGPIPE action, and dies with its parent.
    pub fn spawn(
        &mut self,
        program: &str,
        args: &[String],
        env: &BTreeMap<String, String>,
        cwd: &str,
    ) -> io::Result<Spawned> {
        let program = c_string(program)?;
        let cwd = c_string(cwd)?;
        let argv = std::iter::once(Ok(program.clone()))
            .chain(args.iter().map(|a| c_string(a)))
            .collect::<io::Result<Vec<_>>>()?;
        let envp = env
            .iter()
            .map(|(k, v)| c_string(&format!("{k}={v}")))
            .collect::<io::Result<Vec<_>>>()?;
        let argv_ptrs = null_terminated(&argv);
        let envp_ptrs = null_terminated(&envp);
        let stdin = match &self.dev_null {
            Some(fd) => fd.as_raw_fd(),
            None => {
                let fd = std::fs::File::open("/dev/null")?;
                self.dev_null.insert(above_stdio(fd.into())?).as_raw_fd()
            }
        };
        let (stdout_read, stdout_write) = pipe()?;
        let (stderr_read, stderr_write) = pipe()?;
        let mut args = ChildArgs {
            program: program.as_ptr(),
            argv: argv_ptrs.as_ptr(),
            envp: envp_ptrs.as_ptr(),
            cwd: cwd.as_ptr(),
            stdin,
            stdout: stdout_write.as_raw_fd(),
            stderr: stderr_write.as_raw_fd(),
            // SAFETY: getpid has no preconditions.
            parent: unsafe { libc::getpid() },
            error: 0,
        };
        // The stack grows down from its (16-byte aligned) top.
        let top = (self.stack.as_mut_ptr() as usize + self.stack.len()) & !15;
        // SAFETY: `child_main` only makes async-signal-safe system calls on
        // the memory prepared above, which outlives the call: with
        // CLONE_VFORK this thread is suspended until the child has called
        // `execve` or `_exit`, so nothing here is freed or moved meanwhile.
        let pid = unsafe {
            libc::clone(
                child_main,
                top as *mut c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                std::ptr::addr_of_mut!(args).cast::<c_void>(),
            )
        };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the child has finished with `args` (see above).
        let error = unsafe { std::ptr::read_volatile(std::ptr::addr_of!(args.error)) };
        if error != 0 {
            reap(pid);
            return Err(io::Error::from_raw_os_error(error));
        }
        Ok(Spawned {
            pid,
            stdout: stdout_read,
            stderr: stderr_read,
        })
    }
}

/// How a waited-for child ended.
#[derive(Debug)]
pub enum Ended {
    Code(i32),
    Signal(i32),
}

/// Waits for `pid` to end (it must be a child of this process).
pub fn wait(pid: libc::pid_t) -> io::Result<Ended> {
    let mut status: c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        if unsafe { libc::waitpid(pid, &mut status, 0) } >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(if libc::WIFEXITED(status) {
        Ended::Code(libc::WEXITSTATUS(status))
    } else {
        Ended::Signal(libc::WTERMSIG(status))
    })
}

/// Reaps a child that failed before `execve` (its status says nothing new).
fn reap(pid: libc::pid_t) {
    let _ = wait(pid);
}

/// The child, between `clone` and `execve`. Runs on the parent's memory:
/// system calls only. On failure it records errno and exits with 127.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `ChildArgs` the parent prepared and keeps alive;
    // every pointer in it is valid and NUL-terminated as execve wants.
    unsafe {
        let args = &mut *arg.cast::<ChildArgs>();
        if libc::setpgid(0, 0) != 0 {
            fail(args);
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            fail(args);
        }
        // cloesce died before the line above: do not run orphaned.
        if libc::getppid() != args.parent {
            libc::_exit(137);
        }
        if libc::dup2(args.stdin, 0) < 0
            || libc::dup2(args.stdout, 1) < 0
            || libc::dup2(args.stderr, 2) < 0
        {
            fail(args);
        }
        if libc::chdir(args.cwd) != 0 {
            fail(args);
        }
        // Rust ignores SIGPIPE, and an ignored signal stays ignored across
        // execve: give the rule the default, as std's Command does.
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        if libc::sigaction(libc::SIGPIPE, &default, std::ptr::null_mut()) != 0 {
            fail(args);
        }
        // cloesce blocks SIGINT, SIGTERM and SIGHUP in every thread (they are
        // received by one thread with sigwait); the rule must get them.
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            fail(args);
        }
        libc::execve(args.program, args.argv, args.envp);
        fail(args)
    }
}

/// Records errno for the parent and ends the child (before `execve`).
///
/// # Safety
/// Only in the child of [`Spawner::spawn`].
unsafe fn fail(args: &mut ChildArgs) -> ! {
    args.error = *libc::__errno_location();
    if args.error == 0 {
        args.error = libc::EINVAL;
    }
    libc::_exit(127)
}

fn c_string(text: &str) -> io::Result<CString> {
    CString::new(text).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{text:?} contains a NUL byte"),
        )
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// A close-on-exec pipe: (read end, write end), both above fd 2 so that the
/// child's `dup2`s onto 0, 1 and 2 cannot overwrite one another.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both fds are open and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(read)?, above_stdio(write)?))
}

/// `fd` itself when it is above 2, else a close-on-exec duplicate that is
/// (cloesce started with a standard stream closed).
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: fcntl on an open fd; the result is a new fd we own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh open fd.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn run(argv: &[&str], env: &[(&str, &str)]) -> io::Result<(Ended, Vec<u8>, Vec<u8>)> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let spawned = Spawner::default().spawn(&argv[0], &argv[1..], &env, "/")?;
        let mut out = Vec::new();
        std::fs::File::from(spawned.stdout).read_to_end(&mut out)?;
        let mut err = Vec::new();
        std::fs::File::from(spawned.stderr).read_to_end(&mut err)?;
        Ok((wait(spawned.pid)?, out, err))
    }

    #[test]
    fn runs_with_exactly_the_given_environment_directory_and_streams() {
        let (ended, out, err) = run(
            &[
                "/bin/sh",
                "-c",
                "echo \"$ONLY|$HOME|$(pwd)\"; echo oops >&2; read x; echo \"read:$x\"; exit 3",
            ],
            &[("ONLY", "one")],
        )
        .unwrap();
        assert!(matches!(ended, Ended::Code(3)));
        assert_eq!(String::from_utf8(out).unwrap(), "one||/\nread:\n");
        assert_eq!(String::from_utf8(err).unwrap(), "oops\n");
    }

    #[test]
    fn the_child_leads_its_own_group_and_gets_default_signals() {
        // As in cloesce: the spawning thread blocks the interrupt signals,
        // and Rust ignores SIGPIPE.
        // SAFETY: plain libc calls on a local, initialised sigset.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        // The programs read their own /proc entries directly, with no shell
        // in between: a shell may change its own signal mask (some versions
        // of dash exec the last command with every signal blocked), which
        // would say nothing about what the child was given.
        let (_, stat, _) = run(&["/bin/cat", "/proc/self/stat"], &[]).unwrap();
        let stat = String::from_utf8(stat).unwrap();
        // Fields after the parenthesised command name: state, ppid, pgrp.
        let (pid, rest) = stat.split_once(" (").unwrap();
        let fields: Vec<&str> = rest.rsplit_once(") ").unwrap().1.split(' ').collect();
        assert_eq!(
            fields[2], pid,
            "the child leads its own process group: {stat}"
        );
        let (_, status, _) = run(&["/bin/cat", "/proc/self/status"], &[]).unwrap();
        let status = String::from_utf8(status).unwrap();
        let mask = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name)).expect(name);
            u64::from_str_radix(line.rsplit('\t').next().unwrap(), 16).unwrap()
        };
        assert_eq!(mask("SigBlk:"), 0, "{status}");
        // (Other ignored signals are inherited from whoever started the test.)
        assert_eq!(mask("SigIgn:") & (1 << (libc::SIGPIPE - 1)), 0, "{status}");
    }

    #[test]
    fn a_program_that_cannot_be_started_is_an_error_not_a_child() {
        let e = run(&["/nonexistent/program"], &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = run(&["/"], &[]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn a_signal_that_ends_the_child_is_reported() {
        let (ended, _, _) = run(&["/bin/sh", "-c", "kill -TERM $$"], &[]).unwrap();
        assert!(matches!(ended, Ended::Signal(libc::SIGTERM)));
    }
}
