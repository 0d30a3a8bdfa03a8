//! The store in `.cloesce/`: an action cache and content-addressed blobs.
//!
//! ```text
//! .cloesce/
//!   lock                  the project lock (one run at a time)
//!   state                 the stat cache and last-run records (see state.rs)
//!   ac/<16 hex>.pack      action cache: one pack per run that recorded
//!                         results, each entry an action key -> output
//!                         manifest + logs + the bytes of the small outputs
//!                         (format: pack.rs)
//!   cas/<2 hex>/<64 hex>  blobs: blake3 digest -> bytes (outputs over
//!                         INLINE_MAX bytes)
//! ```
//!
//! An output of at most [`INLINE_MAX`] bytes is kept inside its action
//! entry, a larger one as a blob of its own; and a run appends all its
//! entries to one pack. So a cold build of rules with small outputs creates
//! one store file, not one or two per rule: creating files is what a cold
//! build paid for most on some file systems (ext4 skips, one by one, every
//! inode freed in the last minutes). Large outputs stay shared between
//! entries; a small output made by several results is kept once per entry.
//!
//! An action entry's body (inside its pack record, sealed there) is
//!
//! ```text
//! json_len  u32 LE, then the ActionEntry as JSON
//! inline    the bytes of every output of at most INLINE_MAX bytes, in the
//!           order of `outputs`, each exactly its recorded size
//! ```
//!
//! Lookups: the packs are listed and their indexes read once, at a
//! handle's first lookup (a no-op run answers from the witness and never
//! gets here); then a lookup is a binary search per pack and one ranged
//! read of the record. At most [`MAX_PACKS`] packs are kept: the run that
//! would leave more merges the newest ones (see [`Store::finish`]).
//!
//! Durability rules (ninja's and Bazel's):
//! - blobs and merged packs go to a temporary file renamed into place
//!   (`Host::write_atomic`), so a reader never sees half of one; a run's
//!   own pack is appended to, and a reader ignores its torn tail (pack.rs);
//! - an action entry is appended only after every blob it names is stored,
//!   so an entry never points at a missing blob after a crash;
//! - every entry is sealed with its key, and each small output inside it
//!   must match its recorded digest; an entry that does not parse or match
//!   (another version, truncation, corruption) is a miss, never misread,
//!   and `cache verify`, `cache gc` or the next merge drop it;
//! - every blob read is verified against its digest; a corrupt blob is
//!   deleted and treated as missing, so the rule simply runs again.
//!
//! Entries of the earlier one-file-per-entry layout (`ac/<2 hex>/<64 hex>`,
//! `cloesce-action v3`) are never read: they are misses, and `cache gc`
//! and `cache verify` remove them.
//!
//! The interface is narrow (keep/get outputs, get/put action) so a remote
//! cache can sit behind it. Looking after the store (stats, verify, gc, the
//! size cap) is in `upkeep.rs`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::fingerprint::{ActionKeyInput, Digest};
use crate::host::{FileKind, Host};
use crate::pack::{self, Slot};
use crate::path::WorkspacePath;

/// The store's folder, relative to the project root.
pub const STORE_DIR: &str = ".cloesce";

/// Outputs of at most this many bytes are kept inside their action entry
/// rather than as blobs of their own (part of the entry format: a reader
/// expects exactly the outputs this size admits inside the entry).
pub const INLINE_MAX: u64 = 16 * 1024;

/// The most packs a run leaves behind: the run that would leave more
/// merges its pack with the newest others (and any older pack smaller
/// than twice what is merged), so that lookups read at most this many
/// indexes, however many runs there were.
pub const MAX_PACKS: usize = 16;

/// Whether an output of `size` bytes is kept inside its action entry.
pub fn is_inline(size: u64) -> bool {
    size <= INLINE_MAX
}

/// How many bytes a [`seal`] puts before the body.
pub const SEAL_BYTES: usize = 16;

/// The seal of `body`: its 128-bit xxh3 checksum. Seals guard the
/// accelerator files (state, witness, pipeline cache) against damage that
/// still parses (a flipped byte inside a path or a string, a torn copy),
/// not against someone who can write `.cloesce/` anyway, so a checksum
/// serves: an incremental run reads and writes ~1 MB of sealed files, and
/// blake3 over them was a sixth of its instructions. Cache keys and output
/// digests stay blake3 ([`Digest`]).
pub fn seal_of(body: &[u8]) -> [u8; SEAL_BYTES] {
    xxhash_rust::xxh3::xxh3_128(body).to_le_bytes()
}

/// `body` prefixed with its [`seal_of`].
pub fn seal(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEAL_BYTES + body.len());
    out.extend_from_slice(&seal_of(body));
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
    let start = header.len() + SEAL_BYTES;
    let mut bytes = Vec::with_capacity(start + capacity);
    bytes.extend_from_slice(header);
    bytes.resize(start, 0);
    let mut bytes = postcard::to_extend(value, bytes).map_err(std::io::Error::other)?;
    let seal = seal_of(&bytes[start..]);
    bytes[header.len()..start].copy_from_slice(&seal);
    Ok(bytes)
}

/// The body of a [`seal`]ed file, or `None` when it does not match its seal.
pub fn unseal(sealed: &[u8]) -> Option<&[u8]> {
    if sealed.len() < SEAL_BYTES {
        return None;
    }
    let (seal, body) = sealed.split_at(SEAL_BYTES);
    (seal_of(body)[..] == seal[..]).then_some(body)
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
    /// What was damaged and removed (a blob's path; a pack's path for an
    /// entry inside it), with why: one line per blob or entry.
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

/// One pack on disk, as a lookup sees it.
#[derive(Debug, Clone)]
pub(crate) struct Pack {
    pub(crate) seq: u64,
    pub(crate) path: WorkspacePath,
    pub(crate) size: u64,
    /// Sorted by key, the newest record of each.
    pub(crate) slots: Vec<Slot>,
    /// Whether it ends with a valid index (else it was scanned: a run that
    /// was stopped, or damage).
    pub(crate) indexed: bool,
}

/// The pack this handle appends to.
struct OwnPack {
    seq: u64,
    path: WorkspacePath,
    /// Bytes appended so far (the next record's offset).
    size: u64,
    /// Every record appended, in order.
    slots: Vec<Slot>,
    by_key: HashMap<Digest, Slot>,
}

/// Access to `.cloesce/` through a [`Host`].
pub struct Store<'h> {
    pub(crate) host: &'h dyn Host,
    /// Bytes of blobs and action entries written through this handle.
    pub(crate) written: Cell<u64>,
    /// The size `.cloesce/usage` held, taken out at this handle's first
    /// write (see [`Store::keep_under`]); `None` until then.
    pub(crate) usage_before: Cell<Option<Option<u64>>>,
    /// The packs on disk (oldest first, this handle's own excluded), read
    /// at the first lookup.
    packs: RefCell<Option<Vec<Pack>>>,
    /// The pack this handle appends to, made at its first record.
    own: RefCell<Option<OwnPack>>,
}

impl<'h> Store<'h> {
    pub fn new(host: &'h dyn Host) -> Self {
        Store {
            host,
            written: Cell::new(0),
            usage_before: Cell::new(None),
            packs: RefCell::new(None),
            own: RefCell::new(None),
        }
    }

    /// Called before every write: the first one takes the recorded size
    /// out of `.cloesce/usage`. Until [`Store::keep_under`] records it
    /// again, no size is on record, so a run that dies in between (killed,
    /// interrupted) leaves the next one to list the store instead of
    /// trusting a size that misses what it wrote.
    pub(crate) fn before_write(&self) {
        if self.usage_before.get().is_none() {
            let path = usage_path();
            let usage = self.recorded_usage();
            if usage.is_some() {
                let _ = self.host.remove_file(&path);
            }
            self.usage_before.set(Some(usage));
        }
    }

    pub(crate) fn count_written(&self, bytes: usize) {
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

    /// The folder of the packs.
    pub fn packs_dir() -> WorkspacePath {
        WorkspacePath::new(&format!("{STORE_DIR}/ac")).expect("constant path")
    }

    /// Where pack number `seq` lives.
    pub fn pack_path(seq: u64) -> WorkspacePath {
        Self::packs_dir()
            .join(&pack::pack_name(seq))
            .expect("hex names are valid")
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

    /// The action entry for `key`, or `None` (never recorded, or every
    /// record of it damaged: those are left for `cache verify`, `cache gc`
    /// or the next merge to drop). This handle's own records come first,
    /// then the packs from the newest; a damaged record falls through to an
    /// older one of the same key.
    pub fn get_action(&self, key: &Digest) -> std::io::Result<Option<ActionEntry>> {
        let own = self
            .own
            .borrow()
            .as_ref()
            .and_then(|own| Some((own.path.clone(), *own.by_key.get(key)?)));
        if let Some((path, slot)) = own {
            if let Some(entry) = self.read_entry(&path, &slot)? {
                return Ok(Some(entry));
            }
        }
        self.load_packs()?;
        let found: Vec<(WorkspacePath, Slot)> = self
            .packs
            .borrow()
            .iter()
            .flatten()
            .rev()
            .filter_map(|p| Some((p.path.clone(), pack::find(&p.slots, key)?)))
            .collect();
        for (path, slot) in found {
            if let Some(entry) = self.read_entry(&path, &slot)? {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }

    /// The entry in `slot` of the pack at `path`, when whole and sealed
    /// (a pack removed meanwhile by a merge is a miss).
    fn read_entry(
        &self,
        path: &WorkspacePath,
        slot: &Slot,
    ) -> std::io::Result<Option<ActionEntry>> {
        let bytes = match self.host.read_range(path, slot.offset, slot.len as usize) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(pack::open_record(&bytes, &slot.key).and_then(decode_body))
    }

    /// Records an action entry, the bytes of its small outputs (`inline`)
    /// included, by appending it to this handle's pack. Call only after
    /// every blob it names is stored.
    pub fn put_action(&self, key: &Digest, entry: &ActionEntry) -> std::io::Result<()> {
        let record = pack::encode_record(key, &encode_body(entry)?)?;
        self.before_write();
        let mut own = self.own.borrow_mut();
        if own.is_none() {
            let seq = self.next_seq()?;
            *own = Some(OwnPack {
                seq,
                path: Self::pack_path(seq),
                size: 0,
                slots: Vec::new(),
                by_key: HashMap::new(),
            });
        }
        let writer = own.as_mut().expect("made above");
        let mut bytes = Vec::new();
        if writer.size == 0 {
            bytes.extend_from_slice(pack::PACK_HEADER);
        }
        let offset = writer.size + bytes.len() as u64;
        let len = u32::try_from(record.len()).map_err(std::io::Error::other)?;
        bytes.extend(record);
        if let Err(e) = self.host.append(&writer.path, &bytes) {
            // Part of it may be there: this pack takes no more (a reader
            // scans it and ignores the torn tail); a later record starts a
            // new one.
            let broken = own.take().expect("checked above");
            if broken.size > 0 {
                self.packs_mut(|packs| {
                    packs.push(Pack {
                        seq: broken.seq,
                        path: broken.path,
                        size: broken.size,
                        slots: pack::newest_per_key(&broken.slots),
                        indexed: false,
                    })
                });
            }
            return Err(e);
        }
        let slot = Slot {
            key: *key,
            offset,
            len,
        };
        writer.size += bytes.len() as u64;
        writer.slots.push(slot);
        writer.by_key.insert(*key, slot);
        self.count_written(bytes.len());
        Ok(())
    }

    /// Drops what was read of the packs (they were rewritten): the next
    /// lookup reads them again.
    pub(crate) fn forget_packs(&self) {
        *self.packs.borrow_mut() = None;
    }

    /// Applies `f` to the loaded packs, if they are loaded.
    fn packs_mut(&self, f: impl FnOnce(&mut Vec<Pack>)) {
        if let Some(packs) = self.packs.borrow_mut().as_mut() {
            f(packs);
        }
    }

    /// The number of a new pack: one more than the newest on disk, and
    /// free (only a run holding the project lock writes packs, so no one
    /// else takes it meanwhile).
    fn next_seq(&self) -> std::io::Result<u64> {
        let newest = match self.packs.borrow().as_ref() {
            Some(packs) => packs.iter().map(|p| p.seq).max(),
            None => self.pack_files()?.iter().map(|(seq, _)| *seq).max(),
        };
        let mut seq = newest.map_or(1, |s| s + 1);
        while self.host.stat(&Self::pack_path(seq))?.is_some() {
            seq += 1;
        }
        Ok(seq)
    }

    /// The packs in `.cloesce/ac/` by number, oldest first.
    pub(crate) fn pack_files(&self) -> std::io::Result<Vec<(u64, WorkspacePath)>> {
        let dir = Self::packs_dir();
        let entries = match self.host.list_dir(Some(&dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out: Vec<(u64, WorkspacePath)> = entries
            .iter()
            .filter(|e| e.kind == FileKind::File)
            .filter_map(|e| {
                Some((
                    pack::pack_seq(&e.name)?,
                    Self::pack_path(pack::pack_seq(&e.name)?),
                ))
            })
            .collect();
        out.sort_by_key(|(seq, _)| *seq);
        Ok(out)
    }

    /// Lists the packs and reads their indexes, once per handle.
    fn load_packs(&self) -> std::io::Result<()> {
        if self.packs.borrow().is_some() {
            return Ok(());
        }
        let own = self.own.borrow().as_ref().map(|o| o.seq);
        let mut packs = Vec::new();
        for (seq, path) in self.pack_files()? {
            if Some(seq) != own {
                if let Some(pack) = self.open_pack(seq, path)? {
                    packs.push(pack);
                }
            }
        }
        *self.packs.borrow_mut() = Some(packs);
        Ok(())
    }

    /// The slots of one pack: read from its index (the trailer, then the
    /// index: two ranged reads), or by reading and scanning the whole pack
    /// when it has no valid index. `None` when it is gone.
    pub(crate) fn open_pack(&self, seq: u64, path: WorkspacePath) -> std::io::Result<Option<Pack>> {
        let Some(stat) = self.host.stat(&path)? else {
            return Ok(None);
        };
        let size = stat.size;
        let tail_at = size.saturating_sub(pack::TRAILER_BYTES as u64);
        let tail = self.host.read_range(&path, tail_at, pack::TRAILER_BYTES)?;
        if let Some((start, count, digest)) = pack::parse_trailer(&tail, size) {
            let footer = self
                .host
                .read_range(&path, start, (tail_at - start) as usize)?;
            if let Some(slots) = pack::parse_footer(&footer, count, &digest) {
                return Ok(Some(Pack {
                    seq,
                    path,
                    size,
                    slots,
                    indexed: true,
                }));
            }
        }
        let bytes = match self.host.read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(Pack {
            seq,
            path,
            size: bytes.len() as u64,
            slots: pack::slots_of(&bytes),
            indexed: false,
        }))
    }

    /// Ends this handle's pack: appends its index, then merges packs when
    /// there are more than [`MAX_PACKS`] or one was found without an index
    /// (see [`merge_plan`]). Call once a run has recorded everything; a
    /// handle that recorded nothing does nothing. Failing to append the
    /// index loses nothing (readers then scan the pack).
    pub fn finish(&self) -> std::io::Result<()> {
        let Some(own) = self.own.borrow_mut().take() else {
            return Ok(());
        };
        let footer = pack::encode_footer(&own.slots);
        let indexed = self.host.append(&own.path, &footer).is_ok();
        if indexed {
            self.count_written(footer.len());
        }
        let mine = Pack {
            seq: own.seq,
            path: own.path,
            size: own.size + if indexed { footer.len() as u64 } else { 0 },
            slots: pack::newest_per_key(&own.slots),
            indexed,
        };
        // Merging needs every pack's size and index; when no lookup read
        // them, a listing says whether it is needed at all.
        if self.packs.borrow().is_none() && self.pack_files()?.len() <= MAX_PACKS {
            return Ok(());
        }
        self.load_packs()?;
        let mut packs = self.packs.borrow_mut().take().unwrap_or_default();
        packs.retain(|p| p.seq != mine.seq);
        packs.push(mine);
        let plan = merge_plan(&packs);
        let result = match plan {
            Some(start) => self.merge(&packs[start..]).map(|merged| {
                packs.truncate(start);
                packs.extend(merged);
            }),
            None => Ok(()),
        };
        *self.packs.borrow_mut() = Some(packs);
        result
    }

    /// Rewrites `packs` (consecutive, oldest first) as one pack holding
    /// the newest whole, sealed record of each key, in the order they were
    /// written, under the newest one's number (replacing it in one step);
    /// then removes the others. A crash in between leaves only duplicates
    /// of records the merged pack holds. Returns the merged pack (none
    /// when nothing was left).
    pub(crate) fn merge(&self, packs: &[Pack]) -> std::io::Result<Option<Pack>> {
        let Some(newest) = packs.last() else {
            return Ok(None);
        };
        let records = self.live_records(packs, |_, _| true)?;
        let merged = self.write_pack(newest.seq, &records)?;
        for pack in &packs[..packs.len() - 1] {
            self.host.remove_file(&pack.path)?;
        }
        Ok(merged)
    }

    /// The newest whole, sealed record of each key in `packs` (oldest
    /// first) that `keep` accepts (given its key and body), in the order
    /// they were written.
    pub(crate) fn live_records(
        &self,
        packs: &[Pack],
        mut keep: impl FnMut(&Digest, &[u8]) -> bool,
    ) -> std::io::Result<Vec<(Digest, Vec<u8>)>> {
        let mut records: Vec<(Digest, Vec<u8>)> = Vec::new();
        let mut latest: HashMap<Digest, usize> = HashMap::new();
        for pack in packs {
            let bytes = match self.host.read(&pack.path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let Some(scan) = pack::scan(&bytes) else {
                continue;
            };
            for slot in &scan.records {
                let Some(record) = pack::record_bytes(&bytes, slot) else {
                    continue;
                };
                match pack::open_record(record, &slot.key) {
                    Some(body) if keep(&slot.key, body) => {
                        latest.insert(slot.key, records.len());
                        records.push((slot.key, record.to_vec()));
                    }
                    _ => {}
                }
            }
        }
        Ok(records
            .into_iter()
            .enumerate()
            .filter(|(i, (key, _))| latest.get(key) == Some(i))
            .map(|(_, record)| record)
            .collect())
    }

    /// Writes `records` (whole records) as pack `seq` with its index, in
    /// one step; removes it instead when there are none.
    pub(crate) fn write_pack(
        &self,
        seq: u64,
        records: &[(Digest, Vec<u8>)],
    ) -> std::io::Result<Option<Pack>> {
        let path = Self::pack_path(seq);
        if records.is_empty() {
            self.host.remove_file(&path)?;
            return Ok(None);
        }
        let mut bytes = pack::PACK_HEADER.to_vec();
        let mut slots = Vec::with_capacity(records.len());
        for (key, record) in records {
            slots.push(Slot {
                key: *key,
                offset: bytes.len() as u64,
                len: record.len() as u32,
            });
            bytes.extend_from_slice(record);
        }
        bytes.extend(pack::encode_footer(&slots));
        self.host.write_atomic(&path, &bytes, false)?;
        Ok(Some(Pack {
            seq,
            path,
            size: bytes.len() as u64,
            slots: pack::newest_per_key(&slots),
            indexed: true,
        }))
    }
}

/// Which packs to merge (`packs` oldest first): from the returned index to
/// the newest, or `None`. More than [`MAX_PACKS`]: the newest ones, leaving
/// half as many packs; then, geometrically, every older pack smaller than
/// twice what is merged (so each record is rewritten a logarithmic number
/// of times, and the large pack of a cold build seldom). A pack without
/// an index is merged too (a killed run's: its every load reads it whole).
pub(crate) fn merge_plan(packs: &[Pack]) -> Option<usize> {
    let n = packs.len();
    let mut start = n;
    if n > MAX_PACKS {
        start = MAX_PACKS / 2 - 1;
    }
    if let Some(unindexed) = packs.iter().position(|p| !p.indexed) {
        start = start.min(unindexed);
    }
    if start == n {
        return None;
    }
    let mut total: u64 = packs[start..].iter().map(|p| p.size).sum();
    while start > 0 && packs[start - 1].size < total.saturating_mul(2) {
        start -= 1;
        total += packs[start].size;
    }
    (n - start >= 2 || !packs[start].indexed).then_some(start)
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

/// Parses an action entry's body (already unsealed from its record): the
/// JSON, and every small output against its recorded digest, with nothing
/// left over. `None` for anything else.
pub fn decode_body(body: &[u8]) -> Option<ActionEntry> {
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

/// First line of `.cloesce/usage`; the second is the size in bytes.
pub(crate) const USAGE_HEADER: &str = "cloesce-usage v1\n";

pub(crate) fn usage_path() -> WorkspacePath {
    WorkspacePath::new(&format!("{STORE_DIR}/usage")).expect("constant path")
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
