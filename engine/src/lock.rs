//! The project lock protocol, one for the native binary and the npm package.
//!
//! One `cloesce run` (or `clean`, `cache verify|gc`) per project at a time,
//! whichever build started it. The protocol is what Node can do too, so it
//! lives here once and each host only supplies primitives
//! ([`Host::create_lock_file`], [`Host::read`], [`Host::remove_lock_file`],
//! [`Host::probe_process`], [`Host::process_identity`]):
//!
//! 1. **Take**: create `.cloesce/lock` exclusively (`O_CREAT | O_EXCL`,
//!    `openSync(p, "wx")`) holding who we are: format line, pid, host name,
//!    process start time (Linux, from `/proc/<pid>/stat`), and a nonce that
//!    makes every lock's text unique.
//! 2. **Judge** an existing lock: it is **held** while its process lives. It
//!    is **stale** when that process is gone, is a zombie, or is another
//!    process that reused the pid (its start time differs; a lock naming our
//!    own pid that this process does not hold is reuse too, e.g. pid 1 in a
//!    container). A lock from another host cannot be judged and counts as
//!    held. A lock whose text is empty or unreadable is being written: held
//!    for [`UNWRITTEN_GRACE_NS`], stale after (an empty file is also what
//!    cloesce 0.1's native build left behind).
//! 3. **Take over** a stale lock without a race: two runs that both judged
//!    the same lock stale must not both remove "it" (the second could remove
//!    the first's new lock). So only the run that exclusively creates the
//!    *takeover marker* `<lock>.takeover-<digest of the stale text>` may
//!    remove it, after reading it again and finding the same text; then it
//!    removes its marker and starts again at 1. A marker whose owner died
//!    (it exists for microseconds) is itself taken over the same way, a
//!    level deeper ([`MAX_TAKEOVER_DEPTH`]).
//! 4. **Release**: remove the lock if it still holds our text. The hosts
//!    also remove the lock files they created when cloesce is interrupted or
//!    exits early; after a hard kill the dead pid makes the lock stale.

use std::io;
use std::sync::Mutex;

use crate::host::{Host, ProcessProbe};
use crate::path::WorkspacePath;

/// The first line of a lock file.
pub const LOCK_FORMAT: &str = "cloesce-lock 1";

/// How long a lock file may be empty or unreadable (being written) before it
/// counts as stale.
pub const UNWRITTEN_GRACE_NS: u64 = 10_000_000_000;

/// How many levels of takeover markers are followed (each needs a process to
/// die inside the previous level's takeover).
pub const MAX_TAKEOVER_DEPTH: usize = 3;

/// The texts of the lock files this process holds (so a lock naming our own
/// pid is told apart from one left by an earlier process with the same pid).
static HELD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Makes every lock text this process writes unique.
static COUNTER: Mutex<u64> = Mutex::new(0);

fn held() -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Who a lock file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    /// `None` for a lock written by cloesce 0.1's npm build (a bare pid).
    pub host: Option<String>,
    /// The process's start time in clock ticks since boot (Linux).
    pub start: Option<u64>,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {}", self.pid)?;
        if let Some(host) = &self.host {
            write!(f, " on {host}")?;
        }
        Ok(())
    }
}

/// The outcome of [`try_acquire`].
#[derive(Debug)]
pub enum Attempt {
    /// The lock is ours until [`release`].
    Acquired(HeldLock),
    /// Someone else holds it: who, when the file says.
    Busy(Option<Owner>),
}

/// A lock this process holds.
#[derive(Debug, Clone)]
pub struct HeldLock {
    path: WorkspacePath,
    text: Vec<u8>,
}

impl HeldLock {
    pub fn path(&self) -> &WorkspacePath {
        &self.path
    }
}

/// What [`judge`] decided about an existing lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Its owner is running (or cannot be checked).
    Held(Option<Owner>),
    /// Its owner is gone; the reason is for messages.
    Stale(String),
}

/// This process as a lock names it.
fn me<H: Host + ?Sized>(host: &H) -> Owner {
    let (pid, hostname) = host.process_identity();
    let start = match host.probe_process(pid) {
        ProcessProbe::Running { proc_stat } => proc_stat.as_deref().and_then(start_time),
        _ => None,
    };
    Owner {
        pid,
        host: Some(hostname),
        start,
    }
}

/// The text of a new lock file for `owner`.
fn lock_text<H: Host + ?Sized>(host: &H, owner: &Owner) -> Vec<u8> {
    let count = {
        let mut counter = COUNTER.lock().unwrap_or_else(|e| e.into_inner());
        *counter += 1;
        *counter
    };
    let mut text = format!("{LOCK_FORMAT}\npid {}\n", owner.pid);
    if let Some(name) = &owner.host {
        text.push_str(&format!("host {name}\n"));
    }
    if let Some(start) = owner.start {
        text.push_str(&format!("start {start}\n"));
    }
    text.push_str(&format!("nonce {:x}-{count}\n", host.now_ns()));
    text.into_bytes()
}

/// Reads who a lock file names: the current format, or a bare pid (cloesce
/// 0.1's npm build). `None` when the text is neither (empty: being written).
pub fn parse(text: &[u8]) -> Option<Owner> {
    let text = std::str::from_utf8(text).ok()?;
    let valid = |pid: u32| (pid > 0 && pid <= i32::MAX as u32).then_some(pid);
    let mut lines = text.lines();
    let first = lines.next()?.trim();
    if first != LOCK_FORMAT {
        return valid(text.trim().parse().ok()?).map(|pid| Owner {
            pid,
            host: None,
            start: None,
        });
    }
    let (mut pid, mut host, mut start) = (None, None, None);
    for line in lines {
        match line.split_once(' ') {
            Some(("pid", v)) => pid = v.trim().parse().ok().and_then(valid),
            Some(("host", v)) => host = Some(v.trim().to_string()),
            Some(("start", v)) => start = v.trim().parse().ok(),
            _ => {}
        }
    }
    Some(Owner {
        pid: pid?,
        host: Some(host?),
        start,
    })
}

/// The state letter and start time (field 22, clock ticks since boot) of a
/// Linux `/proc/<pid>/stat` line. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted after the last `)`.
fn stat_fields(proc_stat: &str) -> Option<(char, Option<u64>)> {
    let rest = &proc_stat[proc_stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `state` is field 3; the start time is field 22.
    let start = fields.nth(18).and_then(|f| f.parse().ok());
    Some((state, start))
}

fn start_time(proc_stat: &str) -> Option<u64> {
    stat_fields(proc_stat)?.1
}

/// Decides whether the lock file at `path`, holding `text`, is held.
pub fn judge<H: Host + ?Sized>(host: &H, path: &WorkspacePath, text: &[u8], me: &Owner) -> Verdict {
    let Some(owner) = parse(text) else {
        let age = host
            .stat(path)
            .ok()
            .flatten()
            .map(|stat| host.now_ns().saturating_sub(stat.mtime_ns));
        return match age {
            Some(age) if age > UNWRITTEN_GRACE_NS => {
                Verdict::Stale("it names no process and has not changed for 10 s".to_string())
            }
            _ => Verdict::Held(None),
        };
    };
    if let (Some(theirs), Some(ours)) = (&owner.host, &me.host) {
        if theirs != ours {
            // Another machine's processes cannot be seen from here.
            return Verdict::Held(Some(owner));
        }
    }
    if owner.pid == me.pid {
        if held().iter().any(|t| t == text) {
            return Verdict::Held(Some(owner));
        }
        return Verdict::Stale(format!(
            "it names this process's pid {} but this process never took it (the pid was reused)",
            owner.pid
        ));
    }
    match host.probe_process(owner.pid) {
        ProcessProbe::Gone => Verdict::Stale(format!("process {} is gone", owner.pid)),
        ProcessProbe::Unknown => Verdict::Held(Some(owner)),
        ProcessProbe::Running { proc_stat } => match proc_stat.as_deref().and_then(stat_fields) {
            Some(('Z' | 'X' | 'x', _)) => {
                Verdict::Stale(format!("process {} has ended (a zombie)", owner.pid))
            }
            Some((_, Some(now))) if owner.start.is_some_and(|then| then != now) => {
                Verdict::Stale(format!(
                    "process {} is another program that reused the pid",
                    owner.pid
                ))
            }
            _ => Verdict::Held(Some(owner)),
        },
    }
}

/// Reads a lock file; `None` when it is not there.
fn read_lock<H: Host + ?Sized>(host: &H, path: &WorkspacePath) -> io::Result<Option<Vec<u8>>> {
    match host.read(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The takeover marker of the lock file `path` holding `text`.
fn marker_path(path: &WorkspacePath, text: &[u8]) -> WorkspacePath {
    let digest = blake3::hash(text).to_hex();
    WorkspacePath::new(&format!("{path}.takeover-{}", &digest[..16]))
        .expect("a lock path plus a hex suffix is a valid path")
}

/// Removes the stale lock file `path` if it still holds `text`, unless
/// another process is already doing so. True when this call removed it.
pub fn take_over<H: Host + ?Sized>(
    host: &H,
    path: &WorkspacePath,
    text: &[u8],
    me: &Owner,
    depth: usize,
) -> io::Result<bool> {
    let marker = marker_path(path, text);
    // Twice: the second time after removing a marker whose owner died.
    for _ in 0..2 {
        if host.create_lock_file(&marker, &lock_text(host, me))? {
            let removed = match read_lock(host, path)? {
                Some(now) if now == text => {
                    host.remove_lock_file(path)?;
                    true
                }
                // Someone else took it over first (or its owner released it).
                _ => false,
            };
            host.remove_lock_file(&marker)?;
            return Ok(removed);
        }
        // Another process is taking it over, or died doing so.
        if depth >= MAX_TAKEOVER_DEPTH {
            break;
        }
        match read_lock(host, &marker)? {
            None => continue, // it just finished
            Some(marker_text) => match judge(host, &marker, &marker_text, me) {
                Verdict::Stale(_) if take_over(host, &marker, &marker_text, me, depth + 1)? => {}
                _ => break,
            },
        }
    }
    Ok(false)
}

/// Takes the lock at `path` without waiting.
pub fn try_acquire<H: Host + ?Sized>(host: &H, path: &WorkspacePath) -> io::Result<Attempt> {
    let me = me(host);
    let text = lock_text(host, &me);
    let mut busy = None;
    // A few rounds: the lock may vanish or be taken over between steps.
    for _ in 0..3 {
        if host.create_lock_file(path, &text)? {
            held().push(text.clone());
            return Ok(Attempt::Acquired(HeldLock {
                path: path.clone(),
                text,
            }));
        }
        let Some(existing) = read_lock(host, path)? else {
            continue; // released between our create and our read
        };
        match judge(host, path, &existing, &me) {
            Verdict::Held(owner) => return Ok(Attempt::Busy(owner)),
            Verdict::Stale(_) => {
                busy = parse(&existing);
                if !take_over(host, path, &existing, &me, 0)? {
                    // Another process is taking it over: it will hold it,
                    // or it is gone by the next round.
                    if read_lock(host, path)?.as_deref() == Some(&existing[..]) {
                        return Ok(Attempt::Busy(busy));
                    }
                }
            }
        }
    }
    Ok(Attempt::Busy(busy))
}

/// Reads and judges the lock file at `path` without touching it (`cloesce
/// doctor`); `None` when there is none.
pub fn inspect<H: Host + ?Sized>(host: &H, path: &WorkspacePath) -> io::Result<Option<Verdict>> {
    let me = me(host);
    Ok(read_lock(host, path)?.map(|text| judge(host, path, &text, &me)))
}

/// Releases a lock taken by [`try_acquire`]: removes the file if it still
/// holds our text.
pub fn release<H: Host + ?Sized>(host: &H, lock: &HeldLock) -> io::Result<()> {
    held().retain(|t| t != &lock.text);
    if read_lock(host, &lock.path)?.as_deref() == Some(&lock.text[..]) {
        host.remove_lock_file(&lock.path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;

    fn lock_path() -> WorkspacePath {
        WorkspacePath::new(".cloesce/lock").unwrap()
    }

    /// A Linux stat line for `pid` in `state`, started at `start`.
    fn proc_stat(pid: u32, state: char, start: u64) -> String {
        let mut fields = vec![format!("{pid}"), "(sh (x) y)".into(), state.to_string()];
        fields.extend((4..22).map(|i| i.to_string()));
        fields.push(start.to_string());
        fields.extend((23..30).map(|i| i.to_string()));
        fields.join(" ")
    }

    fn acquire(host: &MemoryHost) -> HeldLock {
        match try_acquire(host, &lock_path()).unwrap() {
            Attempt::Acquired(lock) => lock,
            Attempt::Busy(owner) => panic!("busy: {owner:?}"),
        }
    }

    fn busy(host: &MemoryHost) -> Option<Owner> {
        match try_acquire(host, &lock_path()).unwrap() {
            Attempt::Acquired(lock) => panic!("acquired {lock:?}"),
            Attempt::Busy(owner) => owner,
        }
    }

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let line = proc_stat(7, 'S', 4242);
        assert_eq!(stat_fields(&line), Some(('S', Some(4242))));
        assert_eq!(stat_fields("garbage"), None);
    }

    #[test]
    fn a_lock_names_its_owner_and_parses_back() {
        let host = MemoryHost::new();
        host.set_process(1, Some(&proc_stat(1, 'R', 99)));
        let lock = acquire(&host);
        let text = host.get(".cloesce/lock").unwrap();
        assert!(text.starts_with("cloesce-lock 1\npid 1\nhost memory\nstart 99\nnonce "));
        assert_eq!(
            parse(text.as_bytes()),
            Some(Owner {
                pid: 1,
                host: Some("memory".into()),
                start: Some(99)
            })
        );
        assert_eq!(parse(b"123\n").unwrap().pid, 123);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"0\n"), None, "pid 0 would signal a process group");
        release(&host, &lock).unwrap();
        assert_eq!(host.get(".cloesce/lock"), None);
    }

    #[test]
    fn a_live_owner_holds_it_and_a_second_attempt_waits() {
        let host = MemoryHost::new();
        let lock = acquire(&host);
        // The same process asking again (a nested attempt) waits, like flock.
        assert_eq!(busy(&host).unwrap().pid, 1);
        // Another live process's lock.
        release(&host, &lock).unwrap();
        host.put(
            ".cloesce/lock",
            "cloesce-lock 1\npid 50\nhost memory\nnonce a\n",
        );
        host.set_process(50, None);
        assert_eq!(busy(&host).unwrap().pid, 50);
        assert_eq!(
            host.get(".cloesce/lock").unwrap(),
            "cloesce-lock 1\npid 50\nhost memory\nnonce a\n"
        );
    }

    #[test]
    fn a_dead_owner_a_zombie_and_a_reused_pid_make_it_stale() {
        for (why, probe) in [
            ("gone", None),
            ("zombie", Some(proc_stat(50, 'Z', 10))),
            ("reused", Some(proc_stat(50, 'S', 11))),
        ] {
            let host = MemoryHost::new();
            host.put(
                ".cloesce/lock",
                "cloesce-lock 1\npid 50\nhost memory\nstart 10\nnonce a\n",
            );
            if let Some(line) = &probe {
                host.set_process(50, Some(line));
            }
            let lock = acquire(&host);
            assert!(
                host.get(".cloesce/lock").unwrap().contains("pid 1\n"),
                "{why}"
            );
            assert_eq!(host.paths(), vec![".cloesce/lock"], "{why}: no marker left");
            release(&host, &lock).unwrap();
        }
    }

    #[test]
    fn our_own_pid_not_held_by_us_is_a_leftover() {
        let host = MemoryHost::new();
        host.put(".cloesce/lock", "1\n");
        acquire(&host);
    }

    #[test]
    fn another_hosts_lock_is_held() {
        let host = MemoryHost::new();
        host.put(
            ".cloesce/lock",
            "cloesce-lock 1\npid 50\nhost elsewhere\nnonce a\n",
        );
        assert_eq!(busy(&host).unwrap().host.as_deref(), Some("elsewhere"));
    }

    #[test]
    fn an_empty_lock_is_being_written_for_ten_seconds() {
        let host = MemoryHost::new();
        host.put(".cloesce/lock", "");
        assert_eq!(busy(&host), None);
        host.advance(UNWRITTEN_GRACE_NS + 1);
        acquire(&host);
    }

    #[test]
    fn two_runs_that_judged_the_same_lock_stale_do_not_both_take_it() {
        let host = MemoryHost::new();
        let stale = b"cloesce-lock 1\npid 50\nhost memory\nnonce a\n";
        host.put(".cloesce/lock", std::str::from_utf8(stale).unwrap());
        let me = me(&host);
        // Run A judged it stale and took it over...
        let a = acquire(&host);
        // ...then run B, which had judged the same text stale, acts on it:
        // it must not remove A's lock.
        assert!(!take_over(&host, &lock_path(), stale, &me, 0).unwrap());
        assert_eq!(
            host.get(".cloesce/lock").unwrap().as_bytes(),
            a.text.as_slice()
        );
        // While a marker exists (its owner alive), nobody else removes the
        // stale lock.
        release(&host, &a).unwrap();
        host.put(".cloesce/lock", std::str::from_utf8(stale).unwrap());
        let marker = marker_path(&lock_path(), stale);
        host.put(
            marker.as_str(),
            "cloesce-lock 1\npid 60\nhost memory\nnonce b\n",
        );
        host.set_process(60, None);
        assert_eq!(busy(&host).unwrap().pid, 50);
        assert_eq!(host.get(".cloesce/lock").unwrap().as_bytes(), stale);
        // The marker's owner dies: its marker is taken over, then the lock.
        host.forget_process(60);
        let b = acquire(&host);
        assert_eq!(host.paths(), vec![".cloesce/lock"]);
        release(&host, &b).unwrap();
    }

    #[test]
    fn release_leaves_a_lock_that_is_no_longer_ours() {
        let host = MemoryHost::new();
        let lock = acquire(&host);
        host.put(
            ".cloesce/lock",
            "cloesce-lock 1\npid 50\nhost memory\nnonce a\n",
        );
        release(&host, &lock).unwrap();
        assert!(host.get(".cloesce/lock").is_some());
    }
}
