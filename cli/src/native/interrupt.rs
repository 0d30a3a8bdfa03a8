//! Ctrl-C (SIGINT), SIGTERM and SIGHUP for the native binary.
//!
//! Every rule's process is started in its own process group, so the
//! terminal's Ctrl-C reaches cloesce only, and cloesce can stop a rule
//! together with everything it started (`sh -c "…"` and its children).
//!
//! The signals are blocked in every thread and received by one thread with
//! `sigwait`, which then, holding the registry lock (so no new process can
//! start):
//!
//! 1. marks the run interrupted: a job whose process ends from now on is
//!    reported as killed by the signal, whatever its exit code, so the engine
//!    records nothing for it (even a program that catches SIGINT and exits 0
//!    with half its output written);
//! 2. sends SIGINT to every running process group, waits up to
//!    [`GRACE`] for them to end, then sends SIGKILL to what is left;
//! 3. removes the project lock file (see `cloesce_engine::lock`) and exits
//!    with code 130. Everything already recorded was written atomically
//!    (temp file + rename), so an interrupt at any point is no worse than a
//!    crash, which the store is built to survive: the next run redoes only
//!    what did not finish.
//!
//! A second signal during the grace period ends it at once (Linux).
//!
//! On Linux each child also gets `PR_SET_PDEATHSIG = SIGKILL` (`spawn.rs`): if cloesce
//! itself is killed (`kill -9`), its direct children die with it instead of
//! running on unobserved. (Grandchildren are not covered; their writes go to
//! files the next run replaces, see docs/guarantees.md.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

/// How long children get to stop after SIGINT before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// The exit code of an interrupted run.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Set once a signal arrived.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Process groups of the running children (each child leads its own group).
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

static INSTALL: Once = Once::new();

fn groups() -> MutexGuard<'static, Vec<i32>> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// True once the run was interrupted.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Blocks the signals in the calling thread (and so in every thread it
/// starts later) and starts the thread that receives them. Call first thing,
/// before any other thread exists. Idempotent.
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: plain libc calls on a local, initialised sigset.
        unsafe {
            let set = signal_set();
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return;
            }
        }
        let _ = std::thread::Builder::new()
            .name("cloesce-signals".into())
            .spawn(|| loop {
                let set = signal_set();
                let mut signal: libc::c_int = 0;
                // SAFETY: `set` is initialised; `signal` is a valid out-pointer.
                if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                    on_signal();
                }
            });
    });
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before it is read.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

fn on_signal() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // Holding the registry from here on keeps new children from starting.
    let mut held = groups();
    kill_all(&held, libc::SIGINT);
    let deadline = Instant::now() + GRACE;
    while !held.is_empty() && Instant::now() < deadline {
        drop(held);
        if another_signal_within(Duration::from_millis(20)) {
            // A second Ctrl-C: stop waiting for the children.
            held = groups();
            break;
        }
        held = groups();
    }
    kill_all(&held, libc::SIGKILL);
    exit_now();
}

/// Waits up to `timeout` for another of the signals; true when one came.
/// (macOS has no `sigtimedwait`: there the grace period just runs out.)
#[cfg(not(target_os = "linux"))]
fn another_signal_within(timeout: Duration) -> bool {
    std::thread::sleep(timeout);
    false
}

#[cfg(target_os = "linux")]
fn another_signal_within(timeout: Duration) -> bool {
    let set = signal_set();
    let spec = libc::timespec {
        tv_sec: 0,
        tv_nsec: timeout.as_nanos().min(999_999_999) as libc::c_long,
    };
    // SAFETY: `set` and `spec` are initialised; no siginfo is requested.
    unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &spec) > 0 }
}

fn kill_all(groups: &[i32], signal: libc::c_int) {
    for &group in groups {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

fn exit_now() -> ! {
    use std::io::Write;
    super::host::remove_held_lock_files();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(
        b"cloesce: interrupted; running rules were stopped and nothing they wrote was recorded\n",
    );
    std::process::exit(EXIT_INTERRUPTED);
}

/// Runs `start` (which starts a child leading its own process group) and
/// registers the group `pid_of` names, unless the run was interrupted (then
/// `None`, and nothing is started). The registry lock is held while
/// starting, so an interrupt cannot miss a child.
pub fn start_registered<T>(
    start: impl FnOnce() -> std::io::Result<T>,
    pid_of: impl FnOnce(&T) -> i32,
) -> Option<std::io::Result<T>> {
    let mut held = groups();
    if interrupted() {
        return None;
    }
    let result = start();
    if let Ok(child) = &result {
        held.push(pid_of(child));
    }
    Some(result)
}

/// Starts `command` as the leader of a new process group and registers it
/// (see [`start_registered`]). Used where `spawn.rs` is not (outside Linux);
/// the `pre_exec` hook makes std fork.
#[cfg(not(target_os = "linux"))]
pub fn spawn(command: &mut std::process::Command) -> Option<std::io::Result<std::process::Child>> {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    // SAFETY: the closure only makes async-signal-safe libc calls.
    unsafe {
        command.pre_exec(move || {
            let set = signal_set();
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    start_registered(|| command.spawn(), |child| child.id() as i32)
}

/// Forgets a child once it has been waited for.
pub fn finished(pid: u32) {
    groups().retain(|&g| g != pid as i32);
}
