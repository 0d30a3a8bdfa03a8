//! Looking after the store: what it holds (`cache stats`), whether it is
//! intact (`cache verify`, `doctor`), and its size (`cache gc`, and the
//! cap a run keeps with [`Store::keep_under`]).
//!
//! Packs are rewritten here, never edited: [`Store::verify`] rewrites a
//! pack without its damaged entries (or one that lacks its index), and
//! [`Store::gc`] rewrites all packs as one without the evicted entries.
//! Both run under the project lock, like every writer of the store.

use std::collections::{HashMap, HashSet};

use crate::fingerprint::Digest;
use crate::host::FileKind;
use crate::pack;
use crate::path::WorkspacePath;
use crate::store::{
    decode_body, is_inline, usage_path, GcReport, Pack, Store, StoreStats, VerifyReport, STORE_DIR,
    USAGE_HEADER,
};

/// One blob, as listed.
struct Listed {
    digest: Digest,
    path: WorkspacePath,
    size: u64,
}

/// A file or folder in `ac/` that is not a pack: entries of the earlier
/// one-file-per-entry layout (never read), or junk.
struct Legacy {
    path: WorkspacePath,
    size: u64,
    dir: bool,
}

impl Store<'_> {
    /// Every blob in `cas/<2 hex>/`. With `tidy`, a file whose name is not
    /// a digest (a leftover temporary file, junk) is removed.
    fn list_blobs(&self, tidy: bool) -> std::io::Result<Vec<Listed>> {
        let top = WorkspacePath::new(&format!("{STORE_DIR}/cas")).expect("constant path");
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
                    if tidy {
                        self.host.remove_file(&path)?;
                    }
                    continue;
                };
                let Some(stat) = self.host.stat(&path)? else {
                    continue;
                };
                out.push(Listed {
                    digest,
                    path,
                    size: stat.size,
                });
            }
        }
        Ok(out)
    }

    /// What in `ac/` is not a pack, with its size (a folder's: its files').
    fn legacy(&self) -> std::io::Result<Vec<Legacy>> {
        let dir = Self::packs_dir();
        let entries = match self.host.list_dir(Some(&dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            let Ok(path) = dir.join(&entry.name) else {
                continue;
            };
            match entry.kind {
                FileKind::File if pack::pack_seq(&entry.name).is_some() => {}
                FileKind::Dir => {
                    let mut size = 0;
                    for file in self.host.list_dir(Some(&path))? {
                        if let Ok(inner) = path.join(&file.name) {
                            size += self.host.stat(&inner)?.map_or(0, |s| s.size);
                        }
                    }
                    out.push(Legacy {
                        path,
                        size,
                        dir: true,
                    });
                }
                _ => {
                    let size = self.host.stat(&path)?.map_or(0, |s| s.size);
                    out.push(Legacy {
                        path,
                        size,
                        dir: false,
                    });
                }
            }
        }
        Ok(out)
    }

    fn remove_legacy(&self, legacy: &Legacy) -> std::io::Result<()> {
        if legacy.dir {
            self.host.remove_dir_all(&legacy.path)
        } else {
            self.host.remove_file(&legacy.path)
        }
    }

    /// Every pack on disk, read afresh (oldest first).
    fn all_packs(&self) -> std::io::Result<Vec<Pack>> {
        let mut packs = Vec::new();
        for (seq, path) in self.pack_files()? {
            packs.extend(self.open_pack(seq, path)?);
        }
        Ok(packs)
    }

    /// Counts entries (distinct action keys) and bytes.
    pub fn stats(&self) -> std::io::Result<StoreStats> {
        let packs = self.all_packs()?;
        let keys: HashSet<Digest> = packs
            .iter()
            .flat_map(|p| p.slots.iter().map(|s| s.key))
            .collect();
        let legacy: u64 = self.legacy()?.iter().map(|l| l.size).sum();
        let blobs = self.list_blobs(true)?;
        Ok(StoreStats {
            actions: keys.len(),
            action_bytes: packs.iter().map(|p| p.size).sum::<u64>() + legacy,
            blobs: blobs.len(),
            blob_bytes: blobs.iter().map(|b| b.size).sum(),
        })
    }

    /// Hashes every blob and opens every entry of every pack (its seal,
    /// its JSON, its small outputs against their digests, and the blobs it
    /// names); removes damaged blobs, and rewrites each pack that holds a
    /// damaged entry, a torn tail or no valid index without them. Entries
    /// of the earlier layout are removed too (not reported: they are not
    /// damage, only never read).
    pub fn verify(&self) -> std::io::Result<VerifyReport> {
        self.inspect(true)
    }

    /// What [`Store::verify`] would report, changing nothing (`doctor`).
    pub fn check(&self) -> std::io::Result<VerifyReport> {
        self.inspect(false)
    }

    fn inspect(&self, repair: bool) -> std::io::Result<VerifyReport> {
        if repair {
            self.finish()?;
        }
        let mut report = VerifyReport::default();
        let mut good_blobs = HashSet::new();
        for blob in self.list_blobs(repair)? {
            report.blobs_checked += 1;
            match self.host.read(&blob.path) {
                Ok(bytes) if Digest::of(&bytes) == blob.digest => {
                    good_blobs.insert(blob.digest);
                }
                _ => {
                    if repair {
                        self.host.remove_file(&blob.path)?;
                    }
                    report
                        .removed
                        .push((blob.path, "content does not match its digest".into()));
                }
            }
        }
        for (seq, path) in self.pack_files()? {
            let bytes = match self.host.read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let Some(scan) = pack::scan(&bytes) else {
                if repair {
                    self.host.remove_file(&path)?;
                }
                report
                    .removed
                    .push((path, "not a pack of this version".into()));
                continue;
            };
            let mut damaged = Vec::new();
            let mut good = Vec::new();
            for slot in &scan.records {
                report.actions_checked += 1;
                let record = pack::record_bytes(&bytes, slot).unwrap_or_default();
                let why = match pack::open_record(record, &slot.key).and_then(decode_body) {
                    None => Some("damaged (its seal or contents do not match)".to_string()),
                    Some(entry) => entry
                        .outputs
                        .iter()
                        .find(|o| !is_inline(o.size) && !good_blobs.contains(&o.digest))
                        .map(|o| format!("names a missing blob for {}", o.path)),
                };
                match why {
                    Some(why) => damaged.push(format!("entry {}: {why}", slot.key.to_hex())),
                    None => good.push((slot.key, record.to_vec())),
                }
            }
            let tail = bytes.len() as u64 - scan.end;
            if scan.indexed {
                if pack::slots_of(&bytes) != pack::newest_per_key(&scan.records) {
                    damaged.push("its index does not match its entries".into());
                }
            } else if tail > 0 {
                damaged.push(format!(
                    "{tail} byte(s) at its end that are not a whole entry \
                     (a run stopped while writing it, or damage)"
                ));
            }
            if repair && (!damaged.is_empty() || !scan.indexed) {
                let mut latest = HashMap::new();
                for (i, (key, _)) in good.iter().enumerate() {
                    latest.insert(*key, i);
                }
                let live: Vec<(Digest, Vec<u8>)> = good
                    .into_iter()
                    .enumerate()
                    .filter(|(i, (key, _))| latest.get(key) == Some(i))
                    .map(|(_, record)| record)
                    .collect();
                self.write_pack(seq, &live)?;
            }
            report
                .removed
                .extend(damaged.into_iter().map(|why| (path.clone(), why)));
        }
        if repair {
            for legacy in self.legacy()? {
                self.remove_legacy(&legacy)?;
            }
        }
        self.forget_packs();
        Ok(report)
    }

    /// Evicts the least recently written action entries (never those in
    /// `keep`, the current results) until the store fits `cap_bytes`, then
    /// removes the blobs no remaining entry names. The packs are then
    /// rewritten as one. Entries of the earlier layout always go.
    pub fn gc(&self, cap_bytes: u64, keep: &HashSet<Digest>) -> std::io::Result<GcReport> {
        self.finish()?;
        let packs = self.all_packs()?;
        let legacy = self.legacy()?;
        let blobs = self.list_blobs(true)?;
        let pack_bytes: u64 = packs.iter().map(|p| p.size).sum();
        let blob_bytes: u64 = blobs.iter().map(|b| b.size).sum();
        let mut report = GcReport::default();
        for old in &legacy {
            self.remove_legacy(old)?;
            report.bytes_freed += old.size;
        }
        let total = pack_bytes + blob_bytes;
        if total <= cap_bytes {
            report.bytes_left = total;
            self.record_usage(total);
            return Ok(report);
        }
        // Oldest first (packs by number, records in the order written);
        // the current results last of all.
        let mut records: Vec<(Digest, Vec<u8>, Vec<Digest>)> = Vec::new();
        for (key, record) in self.live_records(&packs, |_, _| true)? {
            let named = pack::open_record(&record, &key)
                .and_then(decode_body)
                .map(|e| e.outputs.iter().map(|o| o.digest).collect())
                .unwrap_or_default();
            records.push((key, record, named));
        }
        let mut order: Vec<usize> = (0..records.len()).collect();
        order.sort_by_key(|&i| (keep.contains(&records[i].0), i));
        let blob_sizes: HashMap<Digest, u64> = blobs.iter().map(|b| (b.digest, b.size)).collect();
        let mut removed = HashSet::new();
        let mut estimate = total;
        for i in order {
            let (key, record, named) = &records[i];
            if estimate <= cap_bytes || keep.contains(key) {
                break;
            }
            // Blobs are shared between entries; the estimate is an upper
            // bound of what this removal frees, refined below.
            let blobs: u64 = named.iter().filter_map(|d| blob_sizes.get(d)).sum();
            estimate = estimate.saturating_sub(record.len() as u64 + blobs);
            removed.insert(i);
            report.actions_removed += 1;
        }
        let mut live = HashSet::new();
        let mut survivors = Vec::new();
        for (i, (key, record, named)) in records.into_iter().enumerate() {
            if !removed.contains(&i) {
                live.extend(named);
                survivors.push((key, record));
            }
        }
        let merged = match packs.last() {
            Some(newest) => self.write_pack(newest.seq, &survivors)?,
            None => None,
        };
        for pack in packs.iter().rev().skip(1) {
            self.host.remove_file(&pack.path)?;
        }
        self.forget_packs();
        let pack_left = merged.map_or(0, |p| p.size);
        report.bytes_freed += pack_bytes.saturating_sub(pack_left);
        let mut blobs_left = blob_bytes;
        for blob in blobs {
            if !live.contains(&blob.digest) {
                self.host.remove_file(&blob.path)?;
                report.blobs_removed += 1;
                report.bytes_freed += blob.size;
                blobs_left -= blob.size;
            }
        }
        report.bytes_left = pack_left + blobs_left;
        self.record_usage(report.bytes_left);
        Ok(report)
    }

    /// The size recorded in `.cloesce/usage`, if any.
    pub(crate) fn recorded_usage(&self) -> Option<u64> {
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
    /// never falls below the real size (files removed by hand and merged
    /// packs only make it high). `keep` names the entries never to evict;
    /// it is called only to collect. Call after [`Store::finish`].
    pub fn keep_under(
        &self,
        cap_bytes: u64,
        keep: impl FnOnce() -> HashSet<Digest>,
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
