//! Pack files: the action cache as one append-only file per run.
//!
//! A run that records results appends each sealed action entry to a pack
//! of its own, `.cloesce/ac/<seq>.pack` (`seq` is 16 hex digits, one more
//! than the newest pack's), and when it ends appends an index of the
//! pack's entries. A cold build of thousands of rules therefore creates
//! one store file, not one per rule: creating files is what a cold build
//! paid for most on ext4 after a wipe (see docs/performance.md).
//!
//! ```text
//! pack     = "cloesce-pack v1\n" record* [footer]
//! record   = "CPR\n" len:u32 seal:[32] key:[32] body      len = 64 + body
//!            seal = blake3(key ‖ body); body as in store.rs
//! footer   = "CPX\n" count:u32 slot*count trailer
//! slot     = key:[32] offset:u64 len:u32                 sorted by key
//! trailer  = count:u32 digest:[32] "CPKEND1\n"            digest = blake3(slots)
//! ```
//!
//! (All integers little-endian; a slot's `offset` and `len` cover its
//! whole record, header included.)
//!
//! Reading never trusts more than it must:
//! - a record is used only when its seal matches its key and body and its
//!   key is the one looked up, so a wrong offset, a damaged index or a
//!   damaged record is a miss, never a misread;
//! - the index is used only when its trailer's digest matches; otherwise
//!   (a run that was killed, a torn or damaged end) the pack is *scanned*:
//!   records are walked from the header until one does not fit, which is
//!   where a kill mid-append leaves its torn tail;
//! - in one pack the last record of a key wins; across packs the newest
//!   pack wins. Both are results of the same action key, so either is a
//!   valid hit; the newest is the one the state recorded.
//!
//! Only a run holding the project lock (`lock.rs`) appends to, merges or
//! removes packs, so no two writers meet. Readers without the lock
//! (`--dry-run`, `explain`, `doctor`, `cache stats`) may see a pack being
//! appended to (its torn tail is ignored) or removed by a merge (a miss).

use crate::fingerprint::Digest;

/// First bytes of every pack.
pub const PACK_HEADER: &[u8] = b"cloesce-pack v1\n";
const RECORD_MAGIC: &[u8; 4] = b"CPR\n";
const FOOTER_MAGIC: &[u8; 4] = b"CPX\n";
const TRAILER_MAGIC: &[u8; 8] = b"CPKEND1\n";
/// A record's bytes before its body: magic, length, seal, key.
pub const RECORD_HEAD: usize = 4 + 4 + 32 + 32;
/// Bytes of one index slot.
const SLOT_BYTES: usize = 32 + 8 + 4;
/// Bytes of the trailer at the very end of a pack with an index.
pub const TRAILER_BYTES: usize = 4 + 32 + 8;
/// The file name ending of a pack.
pub const PACK_SUFFIX: &str = ".pack";

/// Where one record lies in its pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub key: Digest,
    pub offset: u64,
    pub len: u32,
}

/// The file name of pack number `seq`.
pub fn pack_name(seq: u64) -> String {
    format!("{seq:016x}{PACK_SUFFIX}")
}

/// The number in a pack's file name, `None` for any other name.
pub fn pack_seq(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(PACK_SUFFIX)?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

/// A record's seal: blake3 over its key and body (a cache record, so
/// blake3 like every key; the accelerator files use `store::seal_of`).
fn record_seal(key: &Digest, body: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&key.0);
    hasher.update(body);
    *hasher.finalize().as_bytes()
}

/// One record: `key`'s entry `body`, sealed.
pub fn encode_record(key: &Digest, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let len = u32::try_from(64 + body.len()).map_err(std::io::Error::other)?;
    let mut out = Vec::with_capacity(RECORD_HEAD + body.len());
    out.extend_from_slice(RECORD_MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&record_seal(key, body));
    out.extend_from_slice(&key.0);
    out.extend_from_slice(body);
    Ok(out)
}

/// The key and length of the record starting `bytes`, from its header only
/// (`None` when the header is not a record's or the record does not fit).
fn record_head(bytes: &[u8]) -> Option<(Digest, usize)> {
    if bytes.len() < RECORD_HEAD || &bytes[..4] != RECORD_MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(bytes[4..8].try_into().ok()?) as usize;
    let total = 8usize.checked_add(len)?;
    if len < 64 || total > bytes.len() {
        return None;
    }
    Some((Digest(bytes[40..72].try_into().ok()?), total))
}

/// The body of the record `bytes` (exactly one record) when it is whole,
/// its seal matches, and its key is `key`; `None` otherwise.
pub fn open_record<'b>(bytes: &'b [u8], key: &Digest) -> Option<&'b [u8]> {
    let (found, total) = record_head(bytes)?;
    if found != *key || total != bytes.len() {
        return None;
    }
    let body = &bytes[RECORD_HEAD..];
    (record_seal(key, body)[..] == bytes[8..40]).then_some(body)
}

/// What a walk of a whole pack found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every record whose header fits, in file order (seals unchecked):
    /// those the walk from the header reached, and those a valid index
    /// names (which finds the records after a damaged length).
    pub records: Vec<Slot>,
    /// Where the walk from the header stopped: the end of the last record
    /// that fit.
    pub end: u64,
    /// Whether the pack ends with a valid index.
    pub indexed: bool,
}

/// Walks the records of a whole pack from its header (seals unchecked:
/// [`open_record`] checks each when it is used). `None` when the file does
/// not start with [`PACK_HEADER`].
pub fn scan(pack: &[u8]) -> Option<Scan> {
    let mut at = pack.strip_prefix(PACK_HEADER).map(|_| PACK_HEADER.len())?;
    let mut records = Vec::new();
    while let Some((key, total)) = record_head(&pack[at..]) {
        records.push(Slot {
            key,
            offset: at as u64,
            len: total as u32,
        });
        at += total;
    }
    let index = read_index(pack, pack.len() as u64);
    let indexed = index.is_some();
    if let Some((_, slots)) = index {
        records.extend(
            slots
                .into_iter()
                .filter(|slot| record_bytes(pack, slot).is_some()),
        );
        records.sort_by_key(|slot| slot.offset);
        records.dedup_by_key(|slot| slot.offset);
    }
    Some(Scan {
        records,
        end: at as u64,
        indexed,
    })
}

/// The footer for `slots` (the last slot of a key wins; sorted by key).
pub fn encode_footer(slots: &[Slot]) -> Vec<u8> {
    let slots = newest_per_key(slots);
    let mut index = Vec::with_capacity(slots.len() * SLOT_BYTES);
    for slot in &slots {
        index.extend_from_slice(&slot.key.0);
        index.extend_from_slice(&slot.offset.to_le_bytes());
        index.extend_from_slice(&slot.len.to_le_bytes());
    }
    let count = (slots.len() as u32).to_le_bytes();
    let mut out = Vec::with_capacity(8 + index.len() + TRAILER_BYTES);
    out.extend_from_slice(FOOTER_MAGIC);
    out.extend_from_slice(&count);
    out.extend_from_slice(&index);
    out.extend_from_slice(&count);
    out.extend_from_slice(Digest::of(&index).0.as_slice());
    out.extend_from_slice(TRAILER_MAGIC);
    out
}

/// `slots` with only the last one of each key, sorted by key.
pub fn newest_per_key(slots: &[Slot]) -> Vec<Slot> {
    let mut by_key = std::collections::BTreeMap::new();
    for slot in slots {
        by_key.insert(slot.key, *slot);
    }
    by_key.into_values().collect()
}

/// Where the index of a pack of `size` bytes starts and how many slots it
/// has, from its `trailer` (the last [`TRAILER_BYTES`] bytes).
pub fn parse_trailer(trailer: &[u8], size: u64) -> Option<(u64, usize, [u8; 32])> {
    if trailer.len() != TRAILER_BYTES || &trailer[36..] != TRAILER_MAGIC {
        return None;
    }
    let count = u32::from_le_bytes(trailer[..4].try_into().ok()?) as usize;
    let digest: [u8; 32] = trailer[4..36].try_into().ok()?;
    let index_bytes = (count as u64).checked_mul(SLOT_BYTES as u64)?;
    let footer = index_bytes.checked_add((8 + TRAILER_BYTES) as u64)?;
    let start = size.checked_sub(footer)?;
    (start >= PACK_HEADER.len() as u64).then_some((start, count, digest))
}

/// The slots of an index whose bytes are `footer` (from the footer magic
/// up to the trailer), checked against the trailer's `count` and `digest`
/// and for order. `None` when anything disagrees.
pub fn parse_footer(footer: &[u8], count: usize, digest: &[u8; 32]) -> Option<Vec<Slot>> {
    if footer.len() != 8 + count * SLOT_BYTES || &footer[..4] != FOOTER_MAGIC {
        return None;
    }
    if u32::from_le_bytes(footer[4..8].try_into().ok()?) as usize != count {
        return None;
    }
    let index = &footer[8..];
    if Digest::of(index).0 != *digest {
        return None;
    }
    let slots: Vec<Slot> = index
        .chunks_exact(SLOT_BYTES)
        .map(|c| Slot {
            key: Digest(c[..32].try_into().expect("32 bytes")),
            offset: u64::from_le_bytes(c[32..40].try_into().expect("8 bytes")),
            len: u32::from_le_bytes(c[40..44].try_into().expect("4 bytes")),
        })
        .collect();
    slots
        .windows(2)
        .all(|w| w[0].key < w[1].key)
        .then_some(slots)
}

/// The index of a whole pack in memory: where its footer starts, and its
/// slots. `None` when it has no valid index.
fn read_index(pack: &[u8], size: u64) -> Option<(u64, Vec<Slot>)> {
    let tail = pack.get(pack.len().checked_sub(TRAILER_BYTES)?..)?;
    let (start, count, digest) = parse_trailer(tail, size)?;
    let footer = pack.get(start as usize..pack.len() - TRAILER_BYTES)?;
    parse_footer(footer, count, &digest).map(|slots| (start, slots))
}

/// The slots to look keys up in for a whole pack: its index when valid,
/// else what a scan finds (the last record of a key winning), sorted by key.
pub fn slots_of(pack: &[u8]) -> Vec<Slot> {
    if let Some((_, slots)) = read_index(pack, pack.len() as u64) {
        return slots;
    }
    scan(pack)
        .map(|scan| newest_per_key(&scan.records))
        .unwrap_or_default()
}

/// The slot of `key` among `slots` sorted by key.
pub fn find(slots: &[Slot], key: &Digest) -> Option<Slot> {
    slots
        .binary_search_by(|slot| slot.key.cmp(key))
        .ok()
        .map(|i| slots[i])
}

/// The bytes of `slot`'s record in a whole pack.
pub fn record_bytes<'p>(pack: &'p [u8], slot: &Slot) -> Option<&'p [u8]> {
    let start = usize::try_from(slot.offset).ok()?;
    pack.get(start..start.checked_add(slot.len as usize)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Digest {
        Digest::of(&[n])
    }

    /// A pack of `entries` (key number, body), with an index when `indexed`.
    fn pack_of(entries: &[(u8, &[u8])], indexed: bool) -> (Vec<u8>, Vec<Slot>) {
        let mut pack = PACK_HEADER.to_vec();
        let mut slots = Vec::new();
        for (n, body) in entries {
            let record = encode_record(&key(*n), body).unwrap();
            slots.push(Slot {
                key: key(*n),
                offset: pack.len() as u64,
                len: record.len() as u32,
            });
            pack.extend(record);
        }
        if indexed {
            pack.extend(encode_footer(&slots));
        }
        (pack, slots)
    }

    fn body_of(pack: &[u8], n: u8) -> Option<Vec<u8>> {
        let slot = find(&slots_of(pack), &key(n))?;
        open_record(record_bytes(pack, &slot)?, &key(n)).map(<[u8]>::to_vec)
    }

    #[test]
    fn a_pack_is_read_through_its_index_or_by_a_scan_alike() {
        let entries: [(u8, &[u8]); 3] = [(1, b"one"), (2, b""), (3, b"three")];
        for indexed in [true, false] {
            let (pack, _) = pack_of(&entries, indexed);
            let scan = scan(&pack).unwrap();
            assert_eq!(scan.indexed, indexed);
            assert_eq!(scan.records.len(), 3);
            for (n, body) in entries {
                assert_eq!(body_of(&pack, n).as_deref(), Some(body), "{indexed}");
            }
            assert_eq!(body_of(&pack, 9), None);
        }
        assert_eq!(pack_seq(&pack_name(0x2a)), Some(0x2a));
        assert_eq!(pack_seq("2a.pack"), None);
        assert_eq!(pack_seq("000000000000002a.pack.tmp"), None);
    }

    #[test]
    fn a_torn_tail_is_ignored_and_the_whole_records_before_it_stay_valid() {
        let (whole, _) = pack_of(&[(1, b"one"), (2, b"two")], false);
        let (longer, _) = pack_of(&[(1, b"one"), (2, b"two"), (3, b"three")], false);
        // Every cut inside the third record (a kill mid-append), and zeros
        // in place of its bytes (a crash that kept the length, not the data).
        for cut in whole.len()..longer.len() {
            let torn = &longer[..cut];
            assert_eq!(body_of(torn, 1).as_deref(), Some(&b"one"[..]), "cut {cut}");
            assert_eq!(body_of(torn, 2).as_deref(), Some(&b"two"[..]), "cut {cut}");
            assert_eq!(body_of(torn, 3), None, "cut {cut}");
            assert_eq!(scan(torn).unwrap().end, whole.len() as u64);
        }
        let mut zeroed = longer.clone();
        zeroed[whole.len()..].fill(0);
        assert_eq!(body_of(&zeroed, 3), None);
        assert_eq!(body_of(&zeroed, 2).as_deref(), Some(&b"two"[..]));
        // A cut footer: the index is not trusted, the scan still finds all.
        let (indexed, _) = pack_of(&[(1, b"one"), (2, b"two")], true);
        for cut in whole.len()..indexed.len() {
            assert_eq!(body_of(&indexed[..cut], 2).as_deref(), Some(&b"two"[..]));
        }
    }

    #[test]
    fn a_damaged_record_or_index_is_a_miss_never_a_misread() {
        let (pack, slots) = pack_of(&[(1, b"one"), (2, b"two")], true);
        // Every single flipped bit inside a record: that key misses (or,
        // for a flip in the other record, reads right).
        for at in slots[0].offset as usize..(slots[1].offset + slots[1].len as u64) as usize {
            for bit in [0, 7] {
                let mut bad = pack.clone();
                bad[at] ^= 1 << bit;
                for n in [1, 2] {
                    let got = body_of(&bad, n);
                    let want: &[u8] = if n == 1 { b"one" } else { b"two" };
                    assert!(got.is_none() || got.as_deref() == Some(want), "{at} {n}");
                }
            }
        }
        // A damaged index falls back to the scan.
        let mut bad = pack.clone();
        let slot_at = slots[1].offset as usize + slots[1].len as usize + 8;
        bad[slot_at + 40] ^= 1;
        assert_eq!(body_of(&bad, 1).as_deref(), Some(&b"one"[..]));
        assert_eq!(body_of(&bad, 2).as_deref(), Some(&b"two"[..]));
        // A record opened under another key, or with bytes beyond it, is refused.
        let record = record_bytes(&pack, &slots[0]).unwrap();
        assert!(open_record(record, &key(2)).is_none());
        let mut longer = record.to_vec();
        longer.push(0);
        assert!(open_record(&longer, &key(1)).is_none());
    }

    #[test]
    fn the_last_record_of_a_key_wins() {
        for indexed in [true, false] {
            let (pack, _) = pack_of(&[(1, b"old"), (2, b"two"), (1, b"new")], indexed);
            assert_eq!(body_of(&pack, 1).as_deref(), Some(&b"new"[..]));
            assert_eq!(slots_of(&pack).len(), 2);
        }
    }
}
