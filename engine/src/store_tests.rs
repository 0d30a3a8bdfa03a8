//! Tests of the store: entries in packs, blobs, damage, merging, gc.

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

/// An entry with one output per size in `sizes` (bytes made from `name`),
/// its small outputs inside; a large one is stored as a blob.
fn entry_of(store: &Store<'_>, name: &str, sizes: &[usize]) -> ActionEntry {
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
    entry
}

/// Stores one result with one output per size in `sizes`; returns its key
/// (the digest of `name`) and entry.
fn put_outputs(store: &Store<'_>, name: &str, sizes: &[usize]) -> (Digest, ActionEntry) {
    let entry = entry_of(store, name, sizes);
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

fn packs(host: &MemoryHost) -> Vec<String> {
    files_under(host, ".cloesce/ac/")
}

#[test]
fn small_outputs_live_inside_their_entry_and_large_ones_in_blobs() {
    let host = MemoryHost::new();
    let store = Store::new(&host);
    let large = INLINE_MAX as usize + 1;
    let (key, entry) = put_outputs(&store, "r", &[0, 100, INLINE_MAX as usize, large]);
    assert_eq!(packs(&host), vec![Store::pack_path(1).to_string()]);
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
    assert_eq!(Store::new(&host).get_action(&key).unwrap(), Some(entry));
}

#[test]
fn a_run_of_many_results_creates_one_store_file_read_through_its_index() {
    let host = MemoryHost::new();
    let store = Store::new(&host);
    // A cold build asks for every key before recording it: all misses.
    let keys: Vec<Digest> = (0..200)
        .map(|i| {
            let name = format!("r{i}");
            assert_eq!(
                store.get_action(&Digest::of(name.as_bytes())).unwrap(),
                None
            );
            put_result(&store, &name, 10 + i)
        })
        .collect();
    assert_eq!(packs(&host).len(), 1, "one pack, not a file per result");
    for key in &keys {
        assert!(store.get_action(key).unwrap().is_some());
    }
    store.finish().unwrap();
    assert_eq!(packs(&host).len(), 1);
    // Another run reads the index (two ranged reads), then one record.
    let next = Store::new(&host);
    host.reads.borrow_mut().clear();
    assert!(next.get_action(&keys[123]).unwrap().is_some());
    assert_eq!(host.reads.borrow().len(), 3, "trailer, index, record");
    assert!(next.get_action(&Digest::of(b"nothing")).unwrap().is_none());
    assert_eq!(host.reads.borrow().len(), 3, "a miss reads nothing more");
    let stats = next.stats().unwrap();
    assert_eq!(stats.actions, 200);
    assert_eq!(
        stats.action_bytes,
        host.read(&Store::pack_path(1)).unwrap().len() as u64
    );
}

/// Pack 1's bytes, for damaging.
fn pack_bytes(host: &MemoryHost, seq: u64) -> Vec<u8> {
    host.read(&Store::pack_path(seq)).unwrap()
}

#[test]
fn a_torn_tail_is_ignored_and_the_complete_entries_before_it_stay_valid() {
    let host = MemoryHost::new();
    let store = Store::new(&host);
    let a = put_result(&store, "a", 10);
    let b = put_result(&store, "b", 20);
    let before = pack_bytes(&host, 1);
    let c = put_result(&store, "c", 30);
    let whole = pack_bytes(&host, 1);
    // Killed mid-append (no index): every cut inside c's record.
    for cut in before.len()..whole.len() {
        host.write_atomic(&Store::pack_path(1), &whole[..cut], false)
            .unwrap();
        let reader = Store::new(&host);
        assert!(reader.get_action(&a).unwrap().is_some(), "cut {cut}");
        assert!(reader.get_action(&b).unwrap().is_some(), "cut {cut}");
        assert!(reader.get_action(&c).unwrap().is_none(), "cut {cut}");
    }
    // The next run writes a pack of its own, never after the torn tail.
    let next = Store::new(&host);
    assert!(next.get_action(&c).unwrap().is_none());
    let c2 = put_result(&next, "c", 30);
    assert_eq!(c2, c);
    assert!(host.read(&Store::pack_path(2)).is_ok());
    // Its finish merges the pack without an index (read whole by every
    // lookup) with its own: one indexed pack, all three entries.
    next.finish().unwrap();
    assert_eq!(packs(&host), vec![Store::pack_path(2).to_string()]);
    let reader = Store::new(&host);
    for key in [a, b, c] {
        assert!(reader.get_action(&key).unwrap().is_some());
    }
    assert!(reader.verify().unwrap().removed.is_empty());
}

#[test]
fn verify_reports_and_drops_a_torn_tail_and_damaged_entries_only() {
    let host = MemoryHost::new();
    let store = Store::new(&host);
    let a = put_result(&store, "a", 10);
    let (b, b_entry) = put_outputs(&store, "b", &[20, 5]);
    let c = put_result(&store, "c", 30);
    store.finish().unwrap();
    let mut bytes = pack_bytes(&host, 1);
    let footer_len = bytes.len() - {
        let scan = pack::scan(&bytes).unwrap();
        scan.end as usize
    };
    // Damage b's last small output (inside the sealed record), then cut
    // the index off and leave a torn record at the end.
    let slots = pack::slots_of(&bytes);
    let b_slot = pack::find(&slots, &b).unwrap();
    bytes[(b_slot.offset + b_slot.len as u64 - 1) as usize] ^= 1;
    bytes.truncate(bytes.len() - footer_len);
    bytes.extend_from_slice(&pack::encode_record(&Digest::of(b"d"), b"body").unwrap()[..30]);
    host.write_atomic(&Store::pack_path(1), &bytes, false)
        .unwrap();
    let reader = Store::new(&host);
    assert_eq!(reader.get_action(&b).unwrap(), None, "never misread");
    assert_eq!(
        reader.outputs(&b, None, &[&b_entry.outputs[0]]).unwrap(),
        None
    );
    // `doctor`'s check sees it all and changes nothing.
    let checked = reader.check().unwrap();
    assert_eq!(pack_bytes(&host, 1), bytes);
    let report = reader.verify().unwrap();
    assert_eq!(checked, report);
    assert_eq!(report.actions_checked, 3);
    let whys: Vec<&str> = report.removed.iter().map(|(_, why)| why.as_str()).collect();
    assert_eq!(whys.len(), 2, "{whys:?}");
    assert!(whys[0].starts_with(&format!("entry {}: damaged", b.to_hex())));
    assert!(whys[1].contains("30 byte(s) at its end"), "{whys:?}");
    // Rewritten: a and c intact, indexed; b a miss that runs again.
    let after = Store::new(&host);
    assert!(after.get_action(&a).unwrap().is_some());
    assert!(after.get_action(&c).unwrap().is_some());
    assert!(after.get_action(&b).unwrap().is_none());
    assert!(pack::scan(&pack_bytes(&host, 1)).unwrap().indexed);
    let again = after.verify().unwrap();
    assert!(again.removed.is_empty(), "{:?}", again.removed);
    assert_eq!(again.actions_checked, 2);
}

#[test]
fn a_damaged_or_resealed_entry_is_a_miss_and_falls_back_to_an_older_record() {
    let host = MemoryHost::new();
    let first = Store::new(&host);
    let (key, old) = put_outputs(&first, "r", &[10, 20]);
    first.finish().unwrap();
    let second = Store::new(&host);
    let newer = ActionEntry {
        stdout: "newer".into(),
        ..old.clone()
    };
    second.put_action(&key, &newer).unwrap();
    second.finish().unwrap();
    assert_eq!(Store::new(&host).get_action(&key).unwrap(), Some(newer));
    // The newer record damaged (a flipped byte of its JSON): the older
    // one answers.
    let mut bytes = pack_bytes(&host, 2);
    let slot = pack::slots_of(&bytes)[0];
    bytes[slot.offset as usize + pack::RECORD_HEAD + 10] ^= 1;
    host.write_atomic(&Store::pack_path(2), &bytes, false)
        .unwrap();
    assert_eq!(
        Store::new(&host).get_action(&key).unwrap(),
        Some(old.clone())
    );
    // A record whose seal is right but whose small output does not match
    // its digest (resealed after damage), or of another entry format: a miss.
    let good = encode_body(&old).unwrap();
    let mut damaged = good.clone();
    *damaged.last_mut().unwrap() ^= 1;
    let mut longer = good.clone();
    longer.push(0);
    let v2 = serde_json::to_vec(&old).unwrap();
    for body in [damaged, longer, v2, good[..good.len() - 1].to_vec()] {
        let mut file = pack::PACK_HEADER.to_vec();
        file.extend(pack::encode_record(&key, &body).unwrap());
        for seq in [1, 2] {
            host.write_atomic(&Store::pack_path(seq), &file, false)
                .unwrap();
        }
        assert_eq!(Store::new(&host).get_action(&key).unwrap(), None);
    }
}

#[test]
fn the_newest_record_of_a_key_wins_in_a_pack_and_across_packs() {
    let host = MemoryHost::new();
    let store = Store::new(&host);
    let (key, entry) = put_outputs(&store, "r", &[10]);
    let second = ActionEntry {
        stdout: "second".into(),
        ..entry.clone()
    };
    store.put_action(&key, &second).unwrap();
    assert_eq!(store.get_action(&key).unwrap(), Some(second.clone()));
    store.finish().unwrap();
    assert_eq!(Store::new(&host).get_action(&key).unwrap(), Some(second));
    let later = Store::new(&host);
    let third = ActionEntry {
        stdout: "third".into(),
        ..entry
    };
    later.put_action(&key, &third).unwrap();
    later.finish().unwrap();
    let reader = Store::new(&host);
    assert_eq!(reader.get_action(&key).unwrap(), Some(third.clone()));
    assert_eq!(reader.stats().unwrap().actions, 1, "one key");
    // gc (under the cap: nothing evicted) keeps the newest too.
    reader.gc(0, &HashSet::from([key])).unwrap();
    assert_eq!(packs(&host).len(), 1);
    assert_eq!(Store::new(&host).get_action(&key).unwrap(), Some(third));
}

#[test]
fn packs_are_merged_so_that_hundreds_of_runs_leave_few() {
    let host = MemoryHost::new();
    let mut keys = Vec::new();
    for run in 0..300 {
        let store = Store::new(&host);
        // A lookup first, as a build does (so the packs are loaded).
        let name = format!("r{run}");
        store.get_action(&Digest::of(name.as_bytes())).unwrap();
        keys.push(put_result(&store, &name, 100));
        // Every run also records one result again: duplicates merge away.
        put_result(&store, "same", 50 + run % 7);
        store.finish().unwrap();
        assert!(packs(&host).len() <= MAX_PACKS, "run {run}");
    }
    let reader = Store::new(&host);
    for key in &keys {
        assert!(reader.get_action(key).unwrap().is_some());
    }
    let same = reader.get_action(&Digest::of(b"same")).unwrap().unwrap();
    assert_eq!(same.outputs[0].size, 50 + 299 % 7, "the newest");
    assert_eq!(reader.stats().unwrap().actions, 301);
    assert!(reader.verify().unwrap().removed.is_empty());
    // A run that looks nothing up merges too, once the listing says so.
    for run in 0..40 {
        let store = Store::new(&host);
        put_result(&store, &format!("s{run}"), 10);
        store.finish().unwrap();
        assert!(packs(&host).len() <= MAX_PACKS + 1);
    }
}

#[test]
fn merge_plan_takes_the_newest_packs_and_older_small_ones() {
    let pack = |size: u64, indexed: bool| Pack {
        seq: 0,
        path: Store::pack_path(0),
        size,
        slots: Vec::new(),
        indexed,
    };
    let few: Vec<Pack> = (0..MAX_PACKS).map(|_| pack(10, true)).collect();
    assert_eq!(merge_plan(&few), None);
    let mut many = vec![pack(1_000_000, true)];
    many.extend((0..MAX_PACKS).map(|_| pack(10, true)));
    let start = merge_plan(&many).unwrap();
    assert!(start >= 1, "the large pack of a cold build stays");
    assert!(
        start < MAX_PACKS / 2,
        "the merged pack and at most half as many"
    );
    // A pack without an index is merged, even alone.
    assert_eq!(merge_plan(&[pack(1_000, true), pack(10, false)]), Some(1));
    assert_eq!(merge_plan(&[pack(10, false)]), Some(0));
}

#[test]
fn entries_of_the_earlier_layout_are_misses_and_gc_removes_them() {
    let host = MemoryHost::new();
    let key = Digest::of(b"old");
    let hex = key.to_hex();
    let old = format!(".cloesce/ac/{}/{hex}", &hex[..2]);
    host.put(&old, "cloesce-action v3\n...");
    let store = Store::new(&host);
    assert_eq!(store.get_action(&key).unwrap(), None);
    assert!(store.stats().unwrap().action_bytes > 0);
    let report = store.gc(1 << 30, &HashSet::new()).unwrap();
    assert!(report.bytes_freed > 0);
    assert!(files_under(&host, ".cloesce/ac/").is_empty());
    host.put(&old, "cloesce-action v3\n...");
    assert!(store.verify().unwrap().removed.is_empty(), "not damage");
    assert!(files_under(&host, ".cloesce/ac/").is_empty());
}

#[test]
fn gc_evicts_the_oldest_entries_and_the_blobs_only_they_named() {
    let host = MemoryHost::new();
    let large = INLINE_MAX as usize + 1;
    let mut keys = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let store = Store::new(&host);
        keys.push(put_outputs(&store, name, &[large, 10]));
        store.finish().unwrap();
    }
    let stats = Store::new(&host).stats().unwrap();
    assert_eq!((stats.actions, stats.blobs), (4, 4));
    let store = Store::new(&host);
    // Keep "a" (a current result) although oldest; room for about two
    // results and a little.
    let cap = stats.total_bytes() * 6 / 10;
    let report = store.gc(cap, &HashSet::from([keys[0].0])).unwrap();
    assert!(report.bytes_left <= cap, "{report:?}");
    assert_eq!(report.actions_removed, 2);
    assert_eq!(report.blobs_removed, 2);
    let reader = Store::new(&host);
    let left: Vec<bool> = keys
        .iter()
        .map(|(k, _)| reader.get_action(k).unwrap().is_some())
        .collect();
    assert_eq!(left, vec![true, false, false, true], "b and c were oldest");
    assert_eq!(packs(&host).len(), 1, "rewritten as one pack");
    let after = reader.stats().unwrap();
    assert_eq!(after.total_bytes(), report.bytes_left);
    assert_eq!(reader.recorded_usage(), Some(report.bytes_left));
    let (d, d_entry) = &keys[3];
    let wanted: Vec<&OutputRecord> = d_entry.outputs.iter().collect();
    assert!(reader.outputs(d, None, &wanted).unwrap().is_some());
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
    first.finish().unwrap();
    let total = first.written.get();
    let listed = first.keep_under(10_000, HashSet::new).unwrap();
    assert_eq!(listed.map(|r| r.bytes_left), Some(total));
    assert_eq!(first.recorded_usage(), Some(total));
    // On record and under the cap: not listed (`keep` is not even asked),
    // and the size grows by what was written.
    let second = Store::new(&host);
    put_result(&second, "b", 500);
    assert_eq!(second.recorded_usage(), None, "taken at the first write");
    second.finish().unwrap();
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
    third.finish().unwrap();
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

/// A [`MemoryHost`] whose `append` number `fail_at` (from 0) writes half
/// its bytes and fails, as a full disk or a kill in the middle would.
struct TornAppend {
    inner: MemoryHost,
    appends: std::cell::Cell<usize>,
    fail_at: usize,
}

impl Host for TornAppend {
    fn read(&self, path: &WorkspacePath) -> std::io::Result<Vec<u8>> {
        self.inner.read(path)
    }
    fn stat(&self, path: &WorkspacePath) -> std::io::Result<Option<crate::host::FileStat>> {
        self.inner.stat(path)
    }
    fn write_atomic(&self, path: &WorkspacePath, bytes: &[u8], x: bool) -> std::io::Result<()> {
        self.inner.write_atomic(path, bytes, x)
    }
    fn read_range(&self, path: &WorkspacePath, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.inner.read_range(path, at, len)
    }
    fn append(&self, path: &WorkspacePath, bytes: &[u8]) -> std::io::Result<()> {
        let n = self.appends.get();
        self.appends.set(n + 1);
        if n == self.fail_at {
            self.inner.append(path, &bytes[..bytes.len() / 2])?;
            return Err(std::io::Error::other("no space left"));
        }
        self.inner.append(path, bytes)
    }
    fn remove_file(&self, path: &WorkspacePath) -> std::io::Result<()> {
        self.inner.remove_file(path)
    }
    fn remove_dir_all(&self, path: &WorkspacePath) -> std::io::Result<()> {
        self.inner.remove_dir_all(path)
    }
    fn list_dir(&self, dir: Option<&WorkspacePath>) -> std::io::Result<Vec<crate::host::DirEntry>> {
        self.inner.list_dir(dir)
    }
    fn env_var(&self, name: &str) -> Option<String> {
        self.inner.env_var(name)
    }
    fn now_ns(&self) -> u64 {
        self.inner.now_ns()
    }
    fn tool_version(&self, argv: &[String]) -> Result<String, String> {
        self.inner.tool_version(argv)
    }
    fn create_lock_file(&self, path: &WorkspacePath, bytes: &[u8]) -> std::io::Result<bool> {
        self.inner.create_lock_file(path, bytes)
    }
    fn remove_lock_file(&self, path: &WorkspacePath) -> std::io::Result<()> {
        self.inner.remove_lock_file(path)
    }
    fn probe_process(&self, pid: u32) -> crate::host::ProcessProbe {
        self.inner.probe_process(pid)
    }
    fn process_identity(&self) -> (u32, String) {
        self.inner.process_identity()
    }
}

#[test]
fn a_failed_append_records_nothing_and_later_records_go_to_a_new_pack() {
    let host = TornAppend {
        inner: MemoryHost::new(),
        appends: std::cell::Cell::new(0),
        fail_at: 2,
    };
    let store = Store::new(&host);
    let a = put_result(&store, "a", 10);
    let b = put_result(&store, "b", 20);
    let entry = entry_of(&store, "c", &[30]);
    let c = Digest::of(b"c");
    assert!(
        store.put_action(&c, &entry).is_err(),
        "the failure is reported"
    );
    assert_eq!(
        store.get_action(&c).unwrap(),
        None,
        "half a record is a miss"
    );
    let d = put_result(&store, "d", 40);
    assert!(
        host.read(&Store::pack_path(2)).is_ok(),
        "a new pack after the torn one"
    );
    for key in [a, b, d] {
        assert!(store.get_action(&key).unwrap().is_some());
    }
    // Its finish merges the pack with the torn tail (read, having no
    // index, by the lookup of c) with its new one.
    store.finish().unwrap();
    assert_eq!(
        files_under(&host.inner, ".cloesce/ac/"),
        vec![Store::pack_path(2).to_string()]
    );
    // Another run finds a, b and d, never c.
    let next = Store::new(&host);
    for key in [a, b, d] {
        assert!(next.get_action(&key).unwrap().is_some());
    }
    assert_eq!(next.get_action(&c).unwrap(), None);
    let report = next.verify().unwrap();
    assert!(report.removed.is_empty(), "{:?}", report.removed);
    assert_eq!(report.actions_checked, 3);
}
