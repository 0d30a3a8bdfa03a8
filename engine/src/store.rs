//! The store in `.cloesce/`: an action cache and content-addressed blobs.
//!
//! ```text
//! .cloesce/
//!   lock                  the project lock (one run at a time)
//!   state                 the stat cache and last-run records (see state.rs)
//!   ac/<2 hex>/<64 hex>   action cache: action key -> output manifest + logs
//!                         + the bytes of the small outputs
//!   cas/<2 hex>/<64 hex>  blobs: blake3 digest -> bytes (outputs over
//!                         INLINE_MAX bytes)
//! ```
//!
//! An output of at most [`INLINE_MAX`] bytes is kept inside its action
//! entry, a larger one as a blob of its own, so a rule with small outputs
//! costs the store one file, not one per output plus the entry. Creating
//! files is what a cold build pays for most on some file systems (ext4
//! without a journal skips, one by one, every inode freed in the last
//! minutes). Large outputs stay shared between entries; a small output
//! made by several results is kept once per entry.
//!
//! An action entry (v3) is `"cloesce-action v3\n"` followed by the
//! [`seal`]ed body
//!
//! ```text
//! json_len  u32 LE, then the ActionEntry as JSON
//! inline    the bytes of every output of at most INLINE_MAX bytes, in the
//!           order of `outputs`, each exactly its recorded size
//! ```
//!
//! Durability rules (ninja's and Bazel's):
//! - every write goes to a temporary file renamed into place
//!   (`Host::write_atomic`), so a reader never sees half a file;
//! - an action entry is written only after every blob it names, so an entry
//!   never points at a missing blob after a crash;
//! - every action entry starts with a version header and the digest of its
//!   body, and each small output inside it must match its recorded digest;
//!   a file that does not parse or match (another version, truncation,
//!   corruption) is a miss and is deleted quietly;
//! - every blob read is verified against its digest; a corrupt blob is
//!   deleted and treated as missing, so the rule simply runs again.
//!
//! The interface is narrow (keep/get outputs, get/put action) so a remote
//! cache can sit behind it.

use std::cell::Cell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fingerprint::{ActionKeyInput, Digest};
use crate::host::{FileKind, Host};
use crate::path::WorkspacePath;

/// The store's folder, relative to the project root.
pub const STORE_DIR: &str = ".cloesce";

/// First line of every action entry. v2 added the body's digest (below);
/// v3 keeps small outputs inside the entry. An entry of another version
/// is a miss (and deleted), never read as this one.
const ACTION_HEADER: &[u8] = b"cloesce-action v3\n";

/// Outputs of at most this many bytes are kept inside their action entry
/// rather than as blobs of their own (part of the v3 format: a reader
/// expects exactly the outputs this size admits inside the entry).
pub const INLINE_MAX: u64 = 16 * 1024;

/// Whether an output of `size` bytes is kept inside its action entry.
pub fn is_inline(size: u64) -> bool {
    size <= INLINE_MAX
}

/// `body` prefixed with its blake3 digest, so that damage that still parses
/// (a flipped byte inside a path or a string) is detected too.
pub fn seal(body: &[u8]) -> Vec<u8> {
    let mut out = Digest::of(body).0.to_vec();
    out.extend_from_slice(body);
    out
}

/// `header`, then [`seal`] of `value` in postcard, built in one buffer of
/// about `capacity` bytes (the state and the pipeline cache run to
/// megabytes: serialising, sealing and prefixing each copied them whole).
pub fn sealed_postcard<T: Serialize + ?Sized>(
    header: &[u8],
    value: &T,
    capacity: usize,
) -> std::io::Result<Vec<u8>> {
    let start = header.len() + 32;
    let mut bytes = Vec::with_capacity(start + capacity);
    bytes.extend_from_slice(header);
    bytes.resize(start, 0);
    let mut bytes = postcard::to_extend(value, bytes).map_err(std::io::Error::other)?;
    let digest = Digest::of(&bytes[start..]);
    bytes[header.len()..start].copy_from_slice(&digest.0);
    Ok(bytes)
}

/// The body of a [`seal`]ed file, or `None` when it does not match its digest.
pub fn unseal(sealed: &[u8]) -> Option<&[u8]> {
    if sealed.len() < 32 {
        return None;
    }
    let (digest, body) = sealed.split_at(32);
    (Digest::of(body).0[..] == digest[..]).then_some(body)
}

/// One output of a rule, as recorded in the action cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub path: WorkspacePath,
    pub digest: Digest,
    pub size: u64,
    pub executable: bool,
}

/// What a successful rule produced: enough to restore it without running it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEntry {
    /// The rule's name when it was recorded (for `cache stats`).
    pub rule: String,
    pub outputs: Vec<OutputRecord>,
    /// Captured output, replayed on a hit.
    pub stdout: String,
    pub stderr: String,
    /// What went into the key (its preimage), so that the next change of
    /// the rule can be explained against it. Absent in entries written
    /// before it was kept here, and when the rule was restored by its own
    /// last record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_input: Option<ActionKeyInput>,
    /// The bytes of the outputs kept inside the entry (see [`is_inline`]),
    /// by digest. Not part of the JSON: stored after it, verified when
    /// read; empty in an entry made from a state record (the bytes are
    /// then read from the stored entry when needed, see
    /// [`Store::outputs`]) and in a remote artifact's entry, whose blobs
    /// travel beside it.
    #[serde(skip)]
    pub inline: BTreeMap<Digest, Vec<u8>>,
}

/// Sizes of what the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub actions: usize,
    pub action_bytes: u64,
    pub blobs: usize,
    pub blob_bytes: u64,
}

impl StoreStats {
    pub fn total_bytes(&self) -> u64 {
        self.action_bytes + self.blob_bytes
    }
}

/// What `verify` found and removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub blobs_checked: usize,
    pub actions_checked: usize,
    /// Damaged files removed, with why.
    pub removed: Vec<(WorkspacePath, String)>,
}

/// What `gc` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub actions_removed: usize,
    pub blobs_removed: usize,
    pub bytes_freed: u64,
    pub bytes_left: u64,
}

/// The default size cap of the store.
pub const DEFAULT_CAP_BYTES: u64 = 1 << 30;

/// One file of the store, as listed.
struct Listed {
    digest: Digest,
    path: WorkspacePath,
    size: u64,
    mtime_ns: u64,
}

/// Access to `.cloesce/` through a [`Host`].
pub struct Store<'h> {
    host: &'h dyn Host,
    /// Bytes of blobs and action entries written through this handle.
    written: Cell<u64>,
    /// The size `.cloesce/usage` held, taken out at this handle's first
    /// write (see [`Store::keep_under`]); `None` until then.
    usage_before: Cell<Option<Option<u64>>>,
}

impl<'h> Store<'h> {
    pub fn new(host: &'h dyn Host) -> Self {
        Store {
            host,
            written: Cell::new(0),
            usage_before: Cell::new(None),
        }
    }

    /// Called before every write: the first one takes the recorded size
    /// out of `.cloesce/usage`. Until [`Store::keep_under`] records it
    /// again, no size is on record, so a run that dies in between (killed,
    /// interrupted) leaves the next one to list the store instead of
    /// trusting a size that misses what it wrote.
    fn before_write(&self) {
        if self.usage_before.get().is_none() {
            let path = usage_path();
            let usage = self.recorded_usage();
            if usage.is_some() {
                let _ = self.host.remove_file(&path);
            }
            self.usage_before.set(Some(usage));
        }
    }

    fn count_written(&self, bytes: usize) {
        self.written.set(self.written.get() + bytes as u64);
    }

    pub fn dir() -> WorkspacePath {
        WorkspacePath::new(STORE_DIR).expect("constant path is valid")
    }

    fn sharded(kind: &str, digest: &Digest) -> WorkspacePath {
        let hex = digest.to_hex();
        WorkspacePath::new(&format!("{STORE_DIR}/{kind}/{}/{hex}", &hex[..2]))
            .expect("hex paths are valid")
    }

    /// Where a blob lives.
    pub fn blob_path(digest: &Digest) -> WorkspacePath {
        Self::sharded("cas", digest)
    }

    /// Where an action entry lives.
    pub fn action_path(key: &Digest) -> WorkspacePath {
        Self::sharded("ac", key)
    }

    /// Stores `bytes` under their digest (a no-op when already there).
    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> std::io::Result<()> {
        let path = Self::blob_path(digest);
        if let Some(stat) = self.host.stat(&path)? {
            if stat.kind == FileKind::File && stat.size == bytes.len() as u64 {
                return Ok(());
            }
        }
        self.before_write();
        self.host.write_atomic(&path, bytes, false)?;
        self.count_written(bytes.len());
        Ok(())
    }

    /// Keeps the bytes of one output of a result about to be recorded: a
    /// large output is stored as a blob now, a small one is added to
    /// `inline`, the entry's, which [`Store::put_action`] writes.
    pub fn keep(
        &self,
        inline: &mut BTreeMap<Digest, Vec<u8>>,
        digest: Digest,
        bytes: Vec<u8>,
    ) -> std::io::Result<()> {
        if is_inline(bytes.len() as u64) {
            inline.insert(digest, bytes);
            Ok(())
        } else {
            self.put_blob(&digest, &bytes)
        }
    }

    /// The verified bytes of a blob, or `None` when it is missing or corrupt
    /// (a corrupt blob is deleted).
    pub fn get_blob(&self, digest: &Digest) -> std::io::Result<Option<Vec<u8>>> {
        let path = Self::blob_path(digest);
        match self.host.read(&path) {
            Ok(bytes) if Digest::of(&bytes) == *digest => Ok(Some(bytes)),
            Ok(_) => {
                self.host.remove_file(&path)?;
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The verified bytes of the `wanted` outputs of the result recorded
    /// under `key`, in order, or `None` when one is missing or corrupt.
    /// Small outputs come from inside `entry` when it holds them, else
    /// from the stored entry (read once: `entry` may be made from a state
    /// record, which keeps no bytes); large ones from their blobs.
    pub fn outputs(
        &self,
        key: &Digest,
        entry: Option<&ActionEntry>,
        wanted: &[&OutputRecord],
    ) -> std::io::Result<Option<Vec<Vec<u8>>>> {
        let mut stored: Option<Option<ActionEntry>> = None;
        let mut out = Vec::with_capacity(wanted.len());
        for output in wanted {
            let bytes = if is_inline(output.size) {
                match entry.and_then(|e| e.inline.get(&output.digest)) {
                    Some(bytes) => Some(bytes.clone()),
                    None => {
                        if stored.is_none() {
                            stored = Some(self.get_action(key)?);
                        }
                        stored
                            .as_ref()
                            .and_then(Option::as_ref)
                            .and_then(|e| e.inline.get(&output.digest))
                            .cloned()
                    }
                }
            } else {
                self.get_blob(&output.digest)?
            };
            match bytes {
                Some(bytes) if bytes.len() as u64 == output.size => out.push(bytes),
                _ => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// The action entry for `key`, or `None` (missing, other version or
    /// corrupt; the latter two are deleted).
    pub fn get_action(&self, key: &Digest) -> std::io::Result<Option<ActionEntry>> {
        let path = Self::action_path(key);
        let bytes = match self.host.read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match decode_action(&bytes) {
            Some(entry) => Ok(Some(entry)),
            None => {
                self.host.remove_file(&path)?;
                Ok(None)
            }
        }
    }

    /// Records an action entry, the bytes of its small outputs (`inline`)
    /// included. Call only after every blob it names is stored.
    pub fn put_action(&self, key: &Digest, entry: &ActionEntry) -> std::io::Result<()> {
        let mut bytes = ACTION_HEADER.to_vec();
        bytes.extend(seal(&encode_body(entry)?));
        self.before_write();
        self.host
            .write_atomic(&Self::action_path(key), &bytes, false)?;
        self.count_written(bytes.len());
        Ok(())
    }
}

/// An action entry's body: its JSON, then the bytes of its small outputs
/// (which `entry.inline` must hold).
fn encode_body(entry: &ActionEntry) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    let len = u32::try_from(json.len()).map_err(std::io::Error::other)?;
    let mut body = len.to_le_bytes().to_vec();
    body.extend_from_slice(&json);
    for output in entry.outputs.iter().filter(|o| is_inline(o.size)) {
        match entry.inline.get(&output.digest) {
            Some(bytes) if bytes.len() as u64 == output.size => body.extend_from_slice(bytes),
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("the bytes of {} are not in its action entry", output.path),
                ))
            }
        }
    }
    Ok(body)
}

/// Parses a whole action entry file: the header, the seal, the JSON, and
/// every small output against its recorded digest, with nothing left over.
/// `None` for anything else. Reads only: [`Store::get_action`] deletes what
/// this refuses; `doctor` only reports it.
pub fn decode_action(file: &[u8]) -> Option<ActionEntry> {
    let body = unseal(file.strip_prefix(ACTION_HEADER)?)?;
    let (len, rest) = body.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    let (json, mut rest) = rest.split_at(len);
    let mut entry: ActionEntry = serde_json::from_slice(json).ok()?;
    for output in entry.outputs.iter().filter(|o| is_inline(o.size)) {
        let size = usize::try_from(output.size).ok()?;
        if rest.len() < size {
            return None;
        }
        let (bytes, tail) = rest.split_at(size);
        if Digest::of(bytes) != output.digest {
            return None;
        }
        entry.inline.insert(output.digest, bytes.to_vec());
        rest = tail;
    }
    rest.is_empty().then_some(entry)
}

impl Store<'_> {
    /// Every file under `.cloesce/<kind>/`, whose name is a digest.
    fn list(&self, kind: &str) -> std::io::Result<Vec<Listed>> {
        let top = WorkspacePath::new(&format!("{STORE_DIR}/{kind}")).expect("constant path");
        let mut out = Vec::new();
        let shards = match self.host.list_dir(Some(&top)) {
            Ok(shards) => shards,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for shard in shards.iter().filter(|e| e.kind == FileKind::Dir) {
            let Ok(dir) = top.join(&shard.name) else {
                continue;
            };
            for entry in self.host.list_dir(Some(&dir))? {
                let Ok(path) = dir.join(&entry.name) else {
                    continue;
                };
                let Some(digest) = Digest::from_hex(&entry.name) else {
                    // A leftover temporary file or junk: not ours to keep.
                    self.host.remove_file(&path)?;
                    continue;
                };
                let Some(stat) = self.host.stat(&path)? else {
                    continue;
                };
                out.push(Listed {
                    digest,
                    path,
                    size: stat.size,
                    mtime_ns: stat.mtime_ns,
                });
            }
        }
        Ok(out)
    }

    /// Counts entries and bytes.
    pub fn stats(&self) -> std::io::Result<StoreStats> {
        let actions = self.list("ac")?;
        let blobs = self.list("cas")?;
        Ok(StoreStats {
            actions: actions.len(),
            action_bytes: actions.iter().map(|a| a.size).sum(),
            blobs: blobs.len(),
            blob_bytes: blobs.iter().map(|b| b.size).sum(),
        })
    }

    /// Hashes every blob and parses every action entry (which checks its
    /// small outputs against their digests); removes blobs whose bytes do
    /// not match their name and entries that do not parse or name a
    /// missing blob.
    pub fn verify(&self) -> std::io::Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut good_blobs = std::collections::HashSet::new();
        for blob in self.list("cas")? {
            report.blobs_checked += 1;
            match self.host.read(&blob.path) {
                Ok(bytes) if Digest::of(&bytes) == blob.digest => {
                    good_blobs.insert(blob.digest);
                }
                _ => {
                    self.host.remove_file(&blob.path)?;
                    report
                        .removed
                        .push((blob.path, "content does not match its digest".into()));
                }
            }
        }
        for action in self.list("ac")? {
            report.actions_checked += 1;
            let why = match self.get_action(&action.digest)? {
                None => Some("unreadable or from another version".to_string()),
                Some(entry) => entry
                    .outputs
                    .iter()
                    .find(|o| !is_inline(o.size) && !good_blobs.contains(&o.digest))
                    .map(|o| format!("names a missing blob for {}", o.path)),
            };
            if let Some(why) = why {
                self.host.remove_file(&action.path)?;
                report.removed.push((action.path, why));
            }
        }
        Ok(report)
    }

    /// Evicts the least recently written action entries (never those in
    /// `keep`, the current results) until the store fits `cap_bytes`, then
    /// removes the blobs no remaining entry names.
    pub fn gc(
        &self,
        cap_bytes: u64,
        keep: &std::collections::HashSet<Digest>,
    ) -> std::io::Result<GcReport> {
        let mut actions = self.list("ac")?;
        let blobs = self.list("cas")?;
        let total: u64 =
            actions.iter().map(|a| a.size).sum::<u64>() + blobs.iter().map(|b| b.size).sum::<u64>();
        let mut report = GcReport {
            bytes_left: total,
            ..GcReport::default()
        };
        if total <= cap_bytes {
            self.record_usage(total);
            return Ok(report);
        }
        // Oldest first; the current results last of all.
        actions.sort_by_key(|a| (keep.contains(&a.digest), a.mtime_ns));
        let blob_sizes: std::collections::HashMap<Digest, u64> =
            blobs.iter().map(|b| (b.digest, b.size)).collect();
        let mut removed = std::collections::HashSet::new();
        let mut estimate = total;
        for action in &actions {
            if estimate <= cap_bytes || keep.contains(&action.digest) {
                break;
            }
            if let Some(entry) = self.get_action(&action.digest)? {
                // Blobs are shared between entries; the estimate is an upper
                // bound of what this removal frees, refined below. (Small
                // outputs have no blob: they leave with the entry's file.)
                estimate = estimate.saturating_sub(
                    entry
                        .outputs
                        .iter()
                        .filter_map(|o| blob_sizes.get(&o.digest))
                        .sum(),
                );
            }
            estimate = estimate.saturating_sub(action.size);
            self.host.remove_file(&action.path)?;
            removed.insert(action.digest);
            report.actions_removed += 1;
        }
        let mut live = std::collections::HashSet::new();
        for action in actions.iter().filter(|a| !removed.contains(&a.digest)) {
            if let Some(entry) = self.get_action(&action.digest)? {
                live.extend(entry.outputs.iter().map(|o| o.digest));
            }
        }
        for blob in blobs {
            if !live.contains(&blob.digest) {
                self.host.remove_file(&blob.path)?;
                report.blobs_removed += 1;
                report.bytes_freed += blob.size;
            }
        }
        report.bytes_freed += actions
            .iter()
            .filter(|a| removed.contains(&a.digest))
            .map(|a| a.size)
            .sum::<u64>();
        report.bytes_left = total - report.bytes_freed;
        self.record_usage(report.bytes_left);
        Ok(report)
    }

    /// The size recorded in `.cloesce/usage`, if any.
    fn recorded_usage(&self) -> Option<u64> {
        let bytes = self.host.read(&usage_path()).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        text.strip_prefix(USAGE_HEADER)?.trim().parse::<u64>().ok()
    }

    /// Keeps the store under `cap_bytes` after this handle wrote to it (a
    /// handle that wrote nothing does nothing). Listing a large store costs
    /// more than the rest of an incremental run, so it is listed (and
    /// collected, see [`Store::gc`]) only when the size recorded before the
    /// first write plus what was written could exceed the cap, or no size
    /// was on record; otherwise the new size is only recorded. The estimate
    /// never falls below the real size (files removed by hand only make it
    /// high). `keep` names the entries never to evict; it is called only to
    /// collect.
    pub fn keep_under(
        &self,
        cap_bytes: u64,
        keep: impl FnOnce() -> std::collections::HashSet<Digest>,
    ) -> std::io::Result<Option<GcReport>> {
        let Some(usage) = self.usage_before.get() else {
            return Ok(None);
        };
        if let Some(estimate) = usage.map(|bytes| bytes.saturating_add(self.written.get())) {
            if estimate <= cap_bytes {
                self.record_usage(estimate);
                return Ok(None);
            }
        }
        self.gc(cap_bytes, &keep()).map(Some)
    }

    /// Records the store's size (failures are ignored: the next run lists
    /// the store instead).
    fn record_usage(&self, bytes: u64) {
        let text = format!("{USAGE_HEADER}{bytes}\n");
        let _ = self
            .host
            .write_atomic(&usage_path(), text.as_bytes(), false);
    }
}

/// First line of `.cloesce/usage`; the second is the size in bytes.
const USAGE_HEADER: &str = "cloesce-usage v1\n";

fn usage_path() -> WorkspacePath {
    WorkspacePath::new(&format!("{STORE_DIR}/usage")).expect("constant path")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;
    use std::collections::HashSet;

    #[test]
    fn sealed_postcard_is_the_header_then_the_sealed_body() {
        let value = (vec!["a".to_string(), "bc".to_string()], 7u64);
        for capacity in [0, 3, 1 << 16] {
            let bytes = sealed_postcard(b"head\n", &value, capacity).unwrap();
            let mut expected = b"head\n".to_vec();
            expected.extend(seal(&postcard::to_stdvec(&value).unwrap()));
            assert_eq!(bytes, expected);
            assert!(unseal(&bytes[5..]).is_some());
        }
    }

    /// Stores one result with one output per size in `sizes` (bytes made
    /// from `name`); returns its key and entry.
    fn put_outputs(store: &Store<'_>, name: &str, sizes: &[usize]) -> (Digest, ActionEntry) {
        let mut entry = ActionEntry {
            rule: name.into(),
            outputs: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            key_input: None,
            inline: BTreeMap::new(),
        };
        for (i, size) in sizes.iter().enumerate() {
            let bytes = vec![name.as_bytes()[0] + i as u8; *size];
            let digest = Digest::of(&bytes);
            entry.outputs.push(OutputRecord {
                path: WorkspacePath::new(&format!("{name}{i}.out")).unwrap(),
                digest,
                size: *size as u64,
                executable: false,
            });
            store.keep(&mut entry.inline, digest, bytes).unwrap();
        }
        let key = Digest::of(name.as_bytes());
        store.put_action(&key, &entry).unwrap();
        (key, entry)
    }

    /// Stores one result with one output of `size` bytes; returns its key.
    fn put_result(store: &Store<'_>, name: &str, size: usize) -> Digest {
        put_outputs(store, name, &[size]).0
    }

    fn files_under(host: &MemoryHost, prefix: &str) -> Vec<String> {
        host.paths()
            .into_iter()
            .filter(|p| p.starts_with(prefix))
            .collect()
    }

    #[test]
    fn small_outputs_live_inside_their_entry_and_large_ones_in_blobs() {
        let host = MemoryHost::new();
        let store = Store::new(&host);
        let large = INLINE_MAX as usize + 1;
        let (key, entry) = put_outputs(&store, "r", &[0, 100, INLINE_MAX as usize, large]);
        assert_eq!(files_under(&host, ".cloesce/ac/").len(), 1);
        assert_eq!(
            files_under(&host, ".cloesce/cas/"),
            vec![Store::blob_path(&entry.outputs[3].digest).to_string()],
            "only the output over INLINE_MAX is a blob"
        );
        let read = store.get_action(&key).unwrap().expect("stored");
        assert_eq!(read, entry, "the small outputs come back with the entry");
        let wanted: Vec<&OutputRecord> = entry.outputs.iter().collect();
        let want: Vec<Vec<u8>> = entry
            .outputs
            .iter()
            .enumerate()
            .map(|(i, o)| vec![b'r' + i as u8; o.size as usize])
            .collect();
        // From the entry in hand, and from the store when the entry in hand
        // was made from a state record (no bytes).
        assert_eq!(
            store.outputs(&key, Some(&read), &wanted).unwrap(),
            Some(want.clone())
        );
        assert_eq!(store.outputs(&key, None, &wanted).unwrap(), Some(want));
        // An output the stored entry does not hold is unusable, not guessed.
        let other = OutputRecord {
            digest: Digest::of(b"other"),
            size: 5,
            ..entry.outputs[1].clone()
        };
        assert_eq!(store.outputs(&key, None, &[&other]).unwrap(), None);
        // Verify finds the inline outputs in place (no blob needed).
        let report = store.verify().unwrap();
        assert_eq!((report.actions_checked, report.blobs_checked), (1, 1));
        assert!(report.removed.is_empty(), "{:?}", report.removed);
    }

    #[test]
    fn an_entry_whose_small_output_is_damaged_or_of_another_version_is_a_miss() {
        let host = MemoryHost::new();
        let store = Store::new(&host);
        let (key, entry) = put_outputs(&store, "r", &[10, 20]);
        let path = Store::action_path(&key);
        let good = host.read(&path).unwrap();
        // A sealed entry whose small output does not match its digest (the
        // seal alone would not see it: it is recomputed here).
        let mut body = unseal(good.strip_prefix(ACTION_HEADER).unwrap())
            .unwrap()
            .to_vec();
        let last = body.len() - 1;
        body[last] ^= 1;
        let mut resealed = ACTION_HEADER.to_vec();
        resealed.extend(seal(&body));
        // One byte too many or too few after the JSON, and the v2 format
        // (the JSON alone, sealed), which must never be read as v3.
        let mut long = body.clone();
        long[last] ^= 1;
        long.push(0);
        let mut v2 = b"cloesce-action v2\n".to_vec();
        v2.extend(seal(&serde_json::to_vec(&entry).unwrap()));
        for (what, bytes) in [
            ("damaged small output", resealed),
            ("trailing byte", {
                let mut f = ACTION_HEADER.to_vec();
                f.extend(seal(&long));
                f
            }),
            ("truncated small output", {
                let mut f = ACTION_HEADER.to_vec();
                f.extend(seal(&long[..long.len() - 2]));
                f
            }),
            ("v2 entry", v2),
        ] {
            host.write_atomic(&path, &bytes, false).unwrap();
            assert_eq!(store.get_action(&key).unwrap(), None, "{what}");
            assert!(host.read(&path).is_err(), "{what}: not deleted");
            assert_eq!(
                store.outputs(&key, None, &[&entry.outputs[0]]).unwrap(),
                None
            );
        }
        host.write_atomic(&path, &good, false).unwrap();
        assert_eq!(store.get_action(&key).unwrap(), Some(entry));
    }

    #[test]
    fn the_store_is_listed_only_when_its_recorded_size_may_pass_the_cap() {
        let host = MemoryHost::new();
        // A handle that writes nothing leaves everything alone.
        let idle = Store::new(&host);
        assert!(idle.keep_under(0, || panic!("listed")).unwrap().is_none());
        // Nothing on record: the store is listed, and its size recorded.
        let first = Store::new(&host);
        let old = put_result(&first, "a", 1000);
        let total = first.written.get();
        let listed = first.keep_under(10_000, HashSet::new).unwrap();
        assert_eq!(listed.map(|r| r.bytes_left), Some(total));
        assert_eq!(first.recorded_usage(), Some(total));
        // On record and under the cap: not listed (`keep` is not even asked),
        // and the size grows by what was written.
        let second = Store::new(&host);
        put_result(&second, "b", 500);
        assert_eq!(second.recorded_usage(), None, "taken at the first write");
        let added = second.written.get();
        let kept = second
            .keep_under(10_000, || panic!("listed without need"))
            .unwrap();
        assert!(kept.is_none());
        assert_eq!(second.recorded_usage(), Some(total + added));
        // A run that may pass the cap lists and collects: old results go,
        // the one to keep stays, and the real size is recorded.
        let third = Store::new(&host);
        let new = put_result(&third, "c", 1000);
        let report = third
            .keep_under(total + 10, || HashSet::from([new]))
            .unwrap()
            .expect("listed");
        assert_eq!(report.actions_removed, 2);
        assert!(third.get_action(&old).unwrap().is_none());
        assert!(third.get_action(&new).unwrap().is_some());
        assert_eq!(third.recorded_usage(), Some(report.bytes_left));
        // A run that dies after writing leaves no size on record.
        let killed = Store::new(&host);
        put_result(&killed, "d", 10);
        assert_eq!(Store::new(&host).recorded_usage(), None);
    }
}
