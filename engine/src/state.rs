//! `.cloesce/state`: what the previous run knew, read once and written once.
//!
//! Two tables:
//! - the **stat cache**: per file, (size, mtime, ctime, inode) → content
//!   digest, so a no-op run stats files and hashes none;
//! - the **rule records**: per rule, the last successful action key, what went
//!   into it and what came out. They make a no-op run cheap (no action-cache
//!   reads) and let `explain` say what changed since.
//!
//! The state is only an accelerator: deleting it loses nothing but time,
//! because the action cache is the durable record. A file that does not parse
//! (another version, truncated, corrupt) is ignored and rewritten.
//!
//! **Prefetched stats**: a build may stat the files it will check all at
//! once ([`State::prefetch`], through [`Host::stat_many`], which the native
//! host runs on several threads). A prefetched stat is used at most once, and
//! the build drops them all ([`State::drop_prefetched`]) as soon as a job
//! finishes, because a process may write files it does not declare: from
//! then on every file is stat-ed when it is checked, as without prefetching.
//! Rules decided while the first jobs run still use them: a stat taken then
//! could have come before the job's write just as well. (Built-ins write
//! only their declared outputs, which the build records as it writes them.)
//!
//! **Racy entries** (git's rule): a file modified within [`RACY_WINDOW_NS`]
//! of the moment its digest was recorded could change again without its
//! stat changing (coarse timestamps), so such an entry is never trusted: the
//! file is hashed again, and the entry recorded anew.

use std::io;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::explain::Reason;
use crate::fingerprint::Digest;
use crate::host::{FileKind, FileStat, Host};
use crate::path::WorkspacePath;
use crate::store::{OutputRecord, STORE_DIR};
use crate::table::LazyTable;
use crate::witness::Observed;

/// First line of the state file; a change of format changes it.
pub const STATE_HEADER: &[u8] = b"cloesce-state v4\n";

/// Timestamps closer than this to the recording time are not trusted, on
/// file systems with fine timestamps (ext4, APFS, NTFS, …: coarse clocks
/// there tick every few milliseconds).
pub const RACY_WINDOW_NS: u64 = 100_000_000;

/// The window for file systems whose timestamps have whole seconds only
/// (FAT: 2 s, HFS+: 1 s), recognised by an mtime with no fraction.
pub const COARSE_RACY_WINDOW_NS: u64 = 2_000_000_000;

/// A stat-cache entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatEntry {
    pub size: u64,
    pub mtime_ns: u64,
    pub ctime_ns: u64,
    pub inode: u64,
    pub digest: Digest,
    /// When the digest was computed.
    pub recorded_ns: u64,
}

impl StatEntry {
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp {
            size: self.size,
            mtime_ns: self.mtime_ns,
            ctime_ns: self.ctime_ns,
            inode: self.inode,
        }
    }

    fn matches(&self, stat: &FileStat) -> bool {
        self.stamp() == Stamp::of(stat)
    }

    fn is_racy(&self) -> bool {
        is_racy(self.mtime_ns, self.recorded_ns)
    }
}

/// The parts of a file's stat that say whether it changed: compared
/// exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: u64,
    pub ctime_ns: u64,
    pub inode: u64,
}

impl Stamp {
    pub fn of(stat: &FileStat) -> Stamp {
        Stamp {
            size: stat.size,
            mtime_ns: stat.mtime_ns,
            ctime_ns: stat.ctime_ns,
            inode: stat.inode,
        }
    }
}

/// Whether a file modified at `mtime_ns` whose content was read at
/// `recorded_ns` could have changed since without its stat changing (see
/// the module doc).
pub(crate) fn is_racy(mtime_ns: u64, recorded_ns: u64) -> bool {
    let window = if mtime_ns.is_multiple_of(1_000_000_000) {
        COARSE_RACY_WINDOW_NS
    } else {
        RACY_WINDOW_NS
    };
    mtime_ns.saturating_add(window) >= recorded_ns
}

/// What the last successful run of a rule recorded. What went into its key
/// is in the action entry of `key` (see `ActionEntry::key_input`): kept
/// there, the state stays small, and a run reads it only for the rules it
/// has to explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRecord {
    pub key: Digest,
    pub outputs: Vec<OutputRecord>,
    /// Why it last ran (or was restored), for `explain`.
    pub reasons: Vec<Reason>,
    /// Whether the cached result has stdout/stderr to replay.
    pub has_logs: bool,
}

/// The loaded state. The file's body is the two tables, files then rules,
/// each a [`LazyTable`]: an incremental build decodes only the entries it
/// looks at, and a save copies the bytes of the others (see `table.rs`).
#[derive(Debug, Default)]
pub struct State {
    files: LazyTable<StatEntry>,
    pub rules: LazyTable<RuleRecord>,
    dirty: bool,
    /// What this build already knows of a file (not saved). One map for
    /// both kinds, so a prefetched stat becomes a checked digest in place.
    seen: FxHashMap<WorkspacePath, Seen>,
    /// Whether `seen` may hold a prefetched stat: `drop_prefetched` runs
    /// before every rule that executes and is a no-op once they are gone
    /// (a scan of `seen` per rule was quadratic on a cold build).
    prefetched: bool,
    /// Paths this build found to be no file (missing, or a folder), and
    /// whether it hashed a symlink: with `seen`, what a witness records.
    no_file: FxHashSet<WorkspacePath>,
    hashed_symlink: bool,
    /// The stat of `.cloesce/state` taken before it was read (`None`: there
    /// was none), so a state read before the project lock was taken can be
    /// checked to be still the current one ([`State::is_current`]).
    read_as: Option<Stamp>,
}

/// A file as this build has seen it.
#[derive(Debug, Clone, Copy)]
enum Seen {
    /// Stat-ed before anything ran, not checked yet (see the module doc).
    Prefetched(Option<FileStat>),
    /// Digest already checked during this build: an upstream output checked
    /// by its rule is not stat-ed again as a downstream input. Every write,
    /// restore or removal through the build updates it.
    Checked(FileDigest),
}

/// A symlink where a regular file was expected ([`State::digest_output`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symlink;

/// A file's current digest and stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigest {
    pub digest: Digest,
    pub stat: FileStat,
}

impl State {
    pub fn path() -> WorkspacePath {
        WorkspacePath::new(&format!("{STORE_DIR}/state")).expect("constant path")
    }

    /// Reads the state; anything unreadable means "start over".
    pub fn load(host: &dyn Host) -> State {
        // Stat first: the file is only ever replaced whole (renamed into
        // place), so bytes read after this stat belong to it or to a later
        // file, whose different stamp `is_current` then notices.
        let read_as = host
            .stat(&Self::path())
            .ok()
            .flatten()
            .map(|s| Stamp::of(&s));
        let Ok(bytes) = host.read(&Self::path()) else {
            return State {
                read_as,
                ..State::default()
            };
        };
        let Some((files, rules)) = read_tables(bytes) else {
            return State {
                dirty: true,
                read_as,
                ..State::default()
            };
        };
        State {
            files,
            rules,
            dirty: false,
            read_as,
            ..State::default()
        }
    }

    /// Whether `.cloesce/state` is still the file this state was read from
    /// (or still absent). A state may be read before the project lock is
    /// held, to overlap it with loading the pipeline; the build checks it
    /// under the lock and reads it again when another run replaced it.
    pub fn is_current(&self, host: &dyn Host) -> bool {
        let now = host
            .stat(&Self::path())
            .ok()
            .flatten()
            .map(|s| Stamp::of(&s));
        now == self.read_as
    }

    /// The stat of `.cloesce/state` taken before it was read (`None`: there
    /// was none).
    pub fn read_as(&self) -> Option<Stamp> {
        self.read_as
    }

    /// Writes the state if anything changed.
    pub fn save(&mut self, host: &dyn Host) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        // The tables in map order: sorting 30,000 entries only to make the
        // file's bytes repeatable cost a tenth of an incremental run over
        // 10,000 rules. About the size it had when read, so the buffer does
        // not grow.
        let capacity = self.read_as.map_or(0, |s| s.size as usize) + 4096;
        let start = STATE_HEADER.len() + crate::store::SEAL_BYTES;
        let mut bytes = Vec::with_capacity(start + capacity);
        bytes.extend_from_slice(STATE_HEADER);
        bytes.resize(start, 0);
        self.files.write(&mut bytes)?;
        self.rules.write(&mut bytes)?;
        // Sealed as `store::seal` does (`load` unseals it).
        let seal = crate::store::seal_of(&bytes[start..]);
        bytes[STATE_HEADER.len()..start].copy_from_slice(&seal);
        host.write_atomic(&Self::path(), &bytes, false)?;
        self.dirty = false;
        Ok(())
    }

    /// The current digest of a file: from the stat cache when its stat is
    /// unchanged and not racy, else by reading and hashing it. `Ok(None)`
    /// when no file is there (a folder counts as no file).
    pub fn digest(
        &mut self,
        host: &dyn Host,
        path: &WorkspacePath,
        now_ns: u64,
    ) -> std::io::Result<Option<FileDigest>> {
        self.digest_or_link(host, path, now_ns, true)
            .map(|found| found.unwrap_or(None))
    }

    /// [`State::digest`] of a declared output. A symlink there is never what
    /// a rule left (outputs are recorded only as regular files), so it is
    /// not followed (it may lead outside the project): `Ok(Err(Symlink))`,
    /// and the caller replaces it.
    pub fn digest_output(
        &mut self,
        host: &dyn Host,
        path: &WorkspacePath,
        now_ns: u64,
    ) -> std::io::Result<Result<Option<FileDigest>, Symlink>> {
        self.digest_or_link(host, path, now_ns, false)
    }

    fn digest_or_link(
        &mut self,
        host: &dyn Host,
        path: &WorkspacePath,
        now_ns: u64,
        follow: bool,
    ) -> std::io::Result<Result<Option<FileDigest>, Symlink>> {
        let stat = match self.seen.get(path) {
            Some(Seen::Checked(known)) if !follow && known.stat.kind == FileKind::Symlink => {
                return Ok(Err(Symlink))
            }
            Some(Seen::Checked(known)) => return Ok(Ok(Some(*known))),
            // Used at most once: every way out below replaces or removes it.
            Some(Seen::Prefetched(stat)) => *stat,
            None => host.stat(path)?,
        };
        let Some(stat) = stat else {
            self.forget(path);
            self.no_file.insert(path.clone());
            return Ok(Ok(None));
        };
        match stat.kind {
            FileKind::Dir => {
                self.seen.remove(path);
                self.no_file.insert(path.clone());
                return Ok(Ok(None));
            }
            FileKind::File => {
                if let Some(entry) = self.files.get(path) {
                    if entry.matches(&stat) && !entry.is_racy() {
                        let known = FileDigest {
                            digest: entry.digest,
                            stat,
                        };
                        self.set_checked(path, known);
                        return Ok(Ok(Some(known)));
                    }
                }
            }
            FileKind::Symlink if !follow => {
                self.seen.remove(path);
                return Ok(Err(Symlink));
            }
            // A symlink's own stat says nothing about its target: always hash.
            FileKind::Symlink => self.hashed_symlink = true,
        }
        self.seen.remove(path);
        let bytes = match host.read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(None)),
            Err(e) => return Err(e),
        };
        let digest = Digest::of(&bytes);
        if stat.kind == FileKind::File {
            self.record(path, &stat, digest, now_ns);
        }
        Ok(Ok(Some(FileDigest { digest, stat })))
    }

    /// Whether `path` still holds what a rule's key was computed from
    /// (`expected`; `None`: no file), checked anew after the rule ran (see
    /// `settled.rs`). Unlike [`State::digest`] it never trusts what this
    /// build already saw: the file is stat-ed again, and hashed again when
    /// its stamp differs from the stat cache's or the entry is racy. A new
    /// digest is recorded, so later rules of this build key on it.
    pub fn unchanged(
        &mut self,
        host: &dyn Host,
        path: &WorkspacePath,
        expected: Option<&Digest>,
        now_ns: u64,
    ) -> std::io::Result<bool> {
        let stat = match host.stat(path)? {
            Some(stat) if stat.kind != FileKind::Dir => stat,
            _ => return Ok(expected.is_none()),
        };
        if let (FileKind::File, Some(entry)) = (stat.kind, self.files.get(path)) {
            if Some(&entry.digest) == expected && entry.matches(&stat) && !entry.is_racy() {
                return Ok(true);
            }
        }
        let bytes = match host.read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(expected.is_none()),
            Err(e) => return Err(e),
        };
        let digest = Digest::of(&bytes);
        if stat.kind == FileKind::File {
            self.record(path, &stat, digest, now_ns);
        }
        Ok(Some(&digest) == expected)
    }

    /// Marks a file's digest as checked in this build (in place when the
    /// file was prefetched, so its path is not copied again).
    fn set_checked(&mut self, path: &WorkspacePath, known: FileDigest) {
        match self.seen.get_mut(path) {
            Some(seen) => *seen = Seen::Checked(known),
            None => {
                self.seen.insert(path.clone(), Seen::Checked(known));
            }
        }
    }

    /// Records a digest the caller computed from bytes it just wrote or read.
    pub fn record(&mut self, path: &WorkspacePath, stat: &FileStat, digest: Digest, now_ns: u64) {
        self.set_checked(
            path,
            FileDigest {
                digest,
                stat: *stat,
            },
        );
        let entry = StatEntry {
            size: stat.size,
            mtime_ns: stat.mtime_ns,
            ctime_ns: stat.ctime_ns,
            inode: stat.inode,
            digest,
            recorded_ns: now_ns,
        };
        if self.files.get(path) != Some(&entry) {
            self.files.insert(path, entry);
            self.dirty = true;
        }
    }

    /// Stats `paths` at once (see the module doc); a path whose stat fails
    /// is left to be stat-ed again, and its error reported, when checked.
    pub fn prefetch(&mut self, host: &dyn Host, paths: Vec<&WorkspacePath>) {
        // Copied only when not seen yet (usually all were, read beside the
        // pipeline by `prefetch_recorded`).
        let unseen = paths
            .into_iter()
            .filter(|p| !self.seen.contains_key(*p))
            .cloned()
            .collect();
        self.stat_unseen(host, unseen);
    }

    /// [`State::prefetch`] of every file the stat cache knows: all a build
    /// will check, usually, known before the pipeline is loaded.
    pub fn prefetch_recorded(&mut self, host: &dyn Host) {
        let unseen = self
            .files
            .keys()
            .filter_map(path_of)
            .filter(|p| !self.seen.contains_key(p))
            .collect();
        self.stat_unseen(host, unseen);
    }

    /// Stats already taken before anything ran in this build, under the
    /// project lock (a witness check that said no, see
    /// [`crate::witness::check`]): used as if this state had prefetched them.
    pub fn prefetch_taken(
        &mut self,
        taken: impl ExactSizeIterator<Item = (WorkspacePath, io::Result<Option<FileStat>>)>,
    ) {
        self.seen.reserve(taken.len());
        for (path, stat) in taken {
            if let Ok(stat) = stat {
                self.seen.entry(path).or_insert(Seen::Prefetched(stat));
                self.prefetched = true;
            }
        }
    }

    fn stat_unseen(&mut self, host: &dyn Host, paths: Vec<WorkspacePath>) {
        let stats = host.stat_many(&paths);
        self.prefetch_taken(paths.into_iter().zip(stats));
    }

    /// Drops the stat-cache entries of files this build did not check (call
    /// it after a build that decided every rule: see `Build::finish`).
    pub fn keep_only_checked(&mut self) {
        let seen = &self.seen;
        self.dirty |= self.files.retain(|key| {
            let checked = std::str::from_utf8(key).ok().and_then(|p| seen.get(p));
            matches!(checked, Some(Seen::Checked(_)))
        });
    }

    /// Forgets every prefetched stat: a job finished (see the module doc).
    pub fn drop_prefetched(&mut self) {
        if std::mem::take(&mut self.prefetched) {
            self.seen.retain(|_, seen| matches!(seen, Seen::Checked(_)));
        }
    }

    /// Drops a file's entry (it was deleted or is about to be rewritten).
    pub fn forget(&mut self, path: &WorkspacePath) {
        self.seen.remove(path);
        if self.files.remove(path) {
            self.dirty = true;
        }
    }

    /// Every path this build checked and what it found, for a witness (most
    /// recently read first, then by path); `None` when they cannot vouch for the next build (a
    /// symlink was hashed, or a path was found both as a file and as none).
    pub fn observations(&self) -> Option<(Vec<WorkspacePath>, Vec<Observed>)> {
        if self.hashed_symlink {
            return None;
        }
        let mut found: Vec<(&WorkspacePath, Observed)> = Vec::with_capacity(self.seen.len());
        for (path, seen) in &self.seen {
            let Seen::Checked(known) = seen else { continue };
            match self.files.get(path) {
                Some(entry) if entry.matches(&known.stat) && entry.digest == known.digest => {
                    if self.no_file.contains(path) {
                        return None;
                    }
                    found.push((
                        path,
                        Observed::File {
                            stamp: entry.stamp(),
                            recorded_ns: entry.recorded_ns,
                        },
                    ));
                }
                _ => return None,
            }
        }
        found.extend(self.no_file.iter().map(|path| (path, Observed::NoFile)));
        // Most recently read first: a file just edited and hashed is the
        // likeliest to change again (the witness checks in this order).
        let read_at = |o: &Observed| match o {
            Observed::File { recorded_ns, .. } => *recorded_ns,
            _ => 0,
        };
        found.sort_by(|a, b| read_at(&b.1).cmp(&read_at(&a.1)).then(a.0.cmp(b.0)));
        Some(found.into_iter().map(|(p, o)| (p.clone(), o)).unzip())
    }

    pub fn set_rule(&mut self, name: &str, record: RuleRecord) {
        if self.rules.get(name) != Some(&record) {
            self.rules.insert(name, record);
            self.dirty = true;
        }
    }

    pub fn remove_rule(&mut self, name: &str) {
        if self.rules.remove(name) {
            self.dirty = true;
        }
    }
}

/// The two tables of a state file's bytes; `None` when they are not a
/// state of this version, or not whole (see the module doc: start over).
fn read_tables(bytes: Vec<u8>) -> Option<(LazyTable<StatEntry>, LazyTable<RuleRecord>)> {
    let start = STATE_HEADER.len() + crate::store::SEAL_BYTES;
    if !bytes.starts_with(STATE_HEADER) {
        return None;
    }
    crate::store::unseal(&bytes[STATE_HEADER.len()..])?;
    let bytes = Arc::new(bytes);
    let mut at = start;
    let files = LazyTable::read(&bytes, &mut at)?;
    let rules = LazyTable::read(&bytes, &mut at)?;
    (at == bytes.len()).then_some((files, rules))
}

/// A stat-cache key as a path (keys are written from paths; one that is not
/// a path any more is left out, as if unknown).
fn path_of(key: &[u8]) -> Option<WorkspacePath> {
    WorkspacePath::try_from(std::str::from_utf8(key).ok()?.to_owned()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;

    fn entry_and_record() -> (WorkspacePath, StatEntry, RuleRecord) {
        let path = WorkspacePath::new("src/a.txt").unwrap();
        let entry = StatEntry {
            size: 3,
            mtime_ns: 10,
            ctime_ns: 11,
            inode: 12,
            digest: Digest::of(b"abc"),
            recorded_ns: 99,
        };
        let record = RuleRecord {
            key: Digest::of(b"k"),
            outputs: Vec::new(),
            reasons: Vec::new(),
            has_logs: true,
        };
        (path, entry, record)
    }

    #[test]
    fn a_saved_state_reads_back_saves_the_same_bytes_and_notices_a_rewrite() {
        let host = MemoryHost::new();
        let (path, entry, record) = entry_and_record();
        let mut state = State::default();
        state.files.insert(&path, entry.clone());
        state.set_rule("r", record.clone());
        state.save(&host).unwrap();
        let bytes = host.read(&State::path()).unwrap();
        let mut state = State::load(&host);
        assert_eq!(state.files.get(&path), Some(&entry));
        assert_eq!(state.rules.get("r"), Some(&record));
        assert!(state.is_current(&host));
        // Saved again, whether decoded or not: the same bytes.
        state.dirty = true;
        state.save(&host).unwrap();
        assert_eq!(host.read(&State::path()).unwrap(), bytes);
        let mut untouched = State::load(&host);
        untouched.dirty = true;
        untouched.save(&host).unwrap();
        assert_eq!(host.read(&State::path()).unwrap(), bytes);
        // Another run replaced the file: this state is not current any more.
        let reloaded = State::load(&host);
        host.write_atomic(&State::path(), &bytes, false).unwrap();
        assert!(!reloaded.is_current(&host));
    }

    #[test]
    fn an_edited_state_saves_what_changed_and_keeps_the_rest() {
        let host = MemoryHost::new();
        let (path, entry, record) = entry_and_record();
        let other = WorkspacePath::new("src/b.txt").unwrap();
        let mut state = State::default();
        state.files.insert(&path, entry.clone());
        state.files.insert(&other, entry.clone());
        state.set_rule("r", record.clone());
        state.set_rule("s", record.clone());
        state.save(&host).unwrap();
        let mut state = State::load(&host);
        let stat = FileStat {
            size: 4,
            mtime_ns: 20,
            ctime_ns: 21,
            inode: 12,
            kind: FileKind::File,
            executable: false,
        };
        let digest = Digest::of(b"abcd");
        state.record(&path, &stat, digest, 500);
        state.forget(&other);
        let changed = RuleRecord {
            has_logs: false,
            ..record.clone()
        };
        state.set_rule("r", changed.clone());
        state.remove_rule("s");
        state.save(&host).unwrap();
        let state = State::load(&host);
        let recorded = state.files.get(&path).unwrap();
        assert_eq!((recorded.size, recorded.digest), (4, digest));
        assert_eq!(state.files.get(&other), None);
        assert_eq!(state.rules.get("r"), Some(&changed));
        assert_eq!(state.rules.get("s"), None);
        assert_eq!((state.files.len(), state.rules.len()), (1, 1));
    }

    #[test]
    fn a_state_of_another_version_or_damaged_reads_as_none_and_is_rewritten() {
        let host = MemoryHost::new();
        let (path, entry, record) = entry_and_record();
        // What version 3 wrote: the two maps in postcard.
        let pairs = (
            vec![(path.clone(), entry.clone())],
            vec![("r".to_string(), record.clone())],
        );
        let old = crate::store::sealed_postcard(b"cloesce-state v3\n", &pairs, 0).unwrap();
        let mut state = State::default();
        state.files.insert(&path, entry);
        state.set_rule("r", record);
        state.save(&host).unwrap();
        let good = host.read(&State::path()).unwrap();
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let mut v3_header = good.clone();
        v3_header[..STATE_HEADER.len()].copy_from_slice(b"cloesce-state v3\n");
        for bytes in [old, flipped, v3_header, good[..good.len() - 1].to_vec()] {
            host.write_atomic(&State::path(), &bytes, false).unwrap();
            let state = State::load(&host);
            assert!(state.files.is_empty() && state.rules.is_empty());
            assert!(state.dirty, "rewritten at the next save");
        }
    }
}
