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
//! **Racy entries** (git's rule): a file modified within [`RACY_WINDOW_NS`]
//! of the moment its digest was recorded could change again without its
//! stat changing (coarse timestamps), so such an entry is never trusted: the
//! file is hashed again, and the entry recorded anew.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::explain::Reason;
use crate::fingerprint::{ActionKeyInput, Digest};
use crate::host::{FileKind, FileStat, Host};
use crate::path::WorkspacePath;
use crate::store::{OutputRecord, STORE_DIR};

const STATE_HEADER: &[u8] = b"cloesce-state v2\n";

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
    fn matches(&self, stat: &FileStat) -> bool {
        self.size == stat.size
            && self.mtime_ns == stat.mtime_ns
            && self.ctime_ns == stat.ctime_ns
            && self.inode == stat.inode
    }

    fn is_racy(&self) -> bool {
        let window = if self.mtime_ns.is_multiple_of(1_000_000_000) {
            COARSE_RACY_WINDOW_NS
        } else {
            RACY_WINDOW_NS
        };
        self.mtime_ns.saturating_add(window) >= self.recorded_ns
    }
}

/// What the last successful run of a rule recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRecord {
    pub key: Digest,
    pub key_input: ActionKeyInput,
    pub outputs: Vec<OutputRecord>,
    /// Why it last ran (or was restored), for `explain`.
    pub reasons: Vec<Reason>,
    /// Whether the cached result has stdout/stderr to replay.
    pub has_logs: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    files: Vec<(WorkspacePath, StatEntry)>,
    rules: Vec<(String, RuleRecord)>,
}

/// The loaded state.
#[derive(Debug, Default)]
pub struct State {
    files: HashMap<WorkspacePath, StatEntry>,
    pub rules: HashMap<String, RuleRecord>,
    dirty: bool,
    /// Digests already checked during this build (not saved): an upstream
    /// output checked by its rule is not stat-ed again as a downstream input.
    /// Every write, restore or removal through the build updates it.
    checked: HashMap<WorkspacePath, FileDigest>,
}

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
        let Ok(bytes) = host.read(&Self::path()) else {
            return State::default();
        };
        let Some(on_disk) = bytes
            .strip_prefix(STATE_HEADER)
            .and_then(crate::store::unseal)
            .and_then(|body| postcard::from_bytes::<OnDisk>(body).ok())
        else {
            return State {
                dirty: true,
                ..State::default()
            };
        };
        State {
            files: on_disk.files.into_iter().collect(),
            rules: on_disk.rules.into_iter().collect(),
            dirty: false,
            checked: HashMap::new(),
        }
    }

    /// Writes the state if anything changed.
    pub fn save(&mut self, host: &dyn Host) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut files: Vec<(WorkspacePath, StatEntry)> = self
            .files
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rules: Vec<(String, RuleRecord)> = self
            .rules
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        let body = postcard::to_stdvec(&OnDisk { files, rules }).map_err(std::io::Error::other)?;
        let mut bytes = STATE_HEADER.to_vec();
        bytes.extend(crate::store::seal(&body));
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
        if let Some(known) = self.checked.get(path) {
            return Ok(Some(*known));
        }
        let Some(stat) = host.stat(path)? else {
            self.forget(path);
            return Ok(None);
        };
        match stat.kind {
            FileKind::Dir => return Ok(None),
            FileKind::File => {
                if let Some(entry) = self.files.get(path) {
                    if entry.matches(&stat) && !entry.is_racy() {
                        let known = FileDigest {
                            digest: entry.digest,
                            stat,
                        };
                        self.checked.insert(path.clone(), known);
                        return Ok(Some(known));
                    }
                }
            }
            // A symlink's own stat says nothing about its target: always hash.
            FileKind::Symlink => {}
        }
        let bytes = match host.read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let digest = Digest::of(&bytes);
        if stat.kind == FileKind::File {
            self.record(path, &stat, digest, now_ns);
        }
        Ok(Some(FileDigest { digest, stat }))
    }

    /// Records a digest the caller computed from bytes it just wrote or read.
    pub fn record(&mut self, path: &WorkspacePath, stat: &FileStat, digest: Digest, now_ns: u64) {
        self.checked.insert(
            path.clone(),
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
            self.files.insert(path.clone(), entry);
            self.dirty = true;
        }
    }

    /// Drops a file's entry (it was deleted or is about to be rewritten).
    pub fn forget(&mut self, path: &WorkspacePath) {
        self.checked.remove(path);
        if self.files.remove(path).is_some() {
            self.dirty = true;
        }
    }

    pub fn set_rule(&mut self, name: &str, record: RuleRecord) {
        if self.rules.get(name) != Some(&record) {
            self.rules.insert(name.to_string(), record);
            self.dirty = true;
        }
    }

    pub fn remove_rule(&mut self, name: &str) {
        if self.rules.remove(name).is_some() {
            self.dirty = true;
        }
    }
}
