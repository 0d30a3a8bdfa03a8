//! A table of `.cloesce/state` read lazily and saved in place.
//!
//! An incremental build looks at a few of the state's thousands of entries
//! (the files and rules of what changed), yet decoding the whole state and
//! encoding it again was a third of such a run. A [`LazyTable`] instead
//! indexes its entries when read (key bytes → where the value's bytes are)
//! and decodes a value only when it is first asked for. Saving copies the
//! stored bytes of every entry that was not replaced and encodes only the
//! new ones, so a saved table reads back exactly as the table was.
//!
//! Layout of one table (all lengths `u32`, little-endian): the number of
//! entries, then per entry the key's length and bytes, then the value's
//! length and its postcard bytes. The file around it is sealed (see
//! `State::load`), so the bytes are the ones a save wrote; still, a table
//! that does not parse is `None` (the state starts over), and a value that
//! does not decode reads as absent, never as something else.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Entries keyed by bytes (a rule name or a path, both UTF-8), with values
/// decoded on first use.
pub struct LazyTable<V> {
    /// The bytes the table was read from (shared by the tables of a file).
    stored: Arc<Vec<u8>>,
    entries: FxHashMap<Box<[u8]>, Slot<V>>,
}

/// One entry: where its value's bytes are while it is the value read, and
/// the value once decoded (`None`: it did not decode, so it is absent).
struct Slot<V> {
    stored: Option<Range<u32>>,
    value: OnceLock<Option<V>>,
}

impl<V> Default for LazyTable<V> {
    fn default() -> Self {
        LazyTable {
            stored: Arc::default(),
            entries: FxHashMap::default(),
        }
    }
}

impl<V> fmt::Debug for LazyTable<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyTable")
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// Reads a little-endian `u32` at `*at` of `bytes`, moving `at` past it.
fn take_u32(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let word = bytes.get(*at..end)?;
    *at = end;
    Some(u32::from_le_bytes(word.try_into().ok()?))
}

/// The range of the `len` bytes at `*at`, moving `at` past them.
fn take_range(bytes: &[u8], at: &mut usize, len: u32) -> Option<Range<usize>> {
    let end = at.checked_add(len as usize)?;
    if end > bytes.len() {
        return None;
    }
    let range = *at..end;
    *at = end;
    Some(range)
}

fn put_u32(out: &mut Vec<u8>, n: usize) -> std::io::Result<()> {
    let n = u32::try_from(n).map_err(|_| std::io::Error::other("state table too large"))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

impl<V: Serialize + DeserializeOwned> LazyTable<V> {
    /// Indexes the table that starts at `*at` of `stored`, moving `at` past
    /// it; `None` when the bytes are not a table.
    pub fn read(stored: &Arc<Vec<u8>>, at: &mut usize) -> Option<LazyTable<V>> {
        let bytes = stored.as_slice();
        // Ranges are kept as `u32`: a larger file is not a table.
        u32::try_from(bytes.len()).ok()?;
        let count = take_u32(bytes, at)?;
        // Each entry takes at least its two lengths.
        if (count as usize).checked_mul(8)? > bytes.len() - *at {
            return None;
        }
        let mut entries = FxHashMap::with_capacity_and_hasher(count as usize, Default::default());
        for _ in 0..count {
            let key_len = take_u32(bytes, at)?;
            let key = take_range(bytes, at, key_len)?;
            let value_len = take_u32(bytes, at)?;
            let value = take_range(bytes, at, value_len)?;
            let slot = Slot {
                stored: Some(value.start as u32..value.end as u32),
                value: OnceLock::new(),
            };
            if entries.insert(Box::from(&bytes[key]), slot).is_some() {
                return None;
            }
        }
        Some(LazyTable {
            stored: Arc::clone(stored),
            entries,
        })
    }

    /// Appends the table to `out`: the stored bytes of every entry read and
    /// not replaced, and the encoding of every entry set since.
    pub fn write(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        put_u32(out, self.entries.len())?;
        for (key, slot) in &self.entries {
            put_u32(out, key.len())?;
            out.extend_from_slice(key);
            match (&slot.stored, slot.value.get()) {
                (Some(range), _) => {
                    let range = range.start as usize..range.end as usize;
                    put_u32(out, range.len())?;
                    out.extend_from_slice(&self.stored[range]);
                }
                (None, Some(Some(value))) => {
                    let at = out.len();
                    out.extend_from_slice(&[0; 4]);
                    let mut encoded = postcard::to_extend(value, std::mem::take(out))
                        .map_err(std::io::Error::other)?;
                    let len = u32::try_from(encoded.len() - at - 4)
                        .map_err(|_| std::io::Error::other("state entry too large"))?;
                    encoded[at..at + 4].copy_from_slice(&len.to_le_bytes());
                    *out = encoded;
                }
                // Set entries always hold a value.
                (None, _) => unreachable!("a set entry without a value"),
            }
        }
        Ok(())
    }

    /// The value of `key`, decoded on first use; `None` when there is none
    /// or its bytes do not decode.
    pub fn get<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> Option<&V> {
        let slot = self.entries.get(key.as_ref().as_bytes())?;
        slot.value
            .get_or_init(|| {
                let range = slot.stored.as_ref()?;
                let bytes = &self.stored[range.start as usize..range.end as usize];
                postcard::from_bytes(bytes).ok()
            })
            .as_ref()
    }

    /// Whether `key` has a value that decodes.
    pub fn contains_key<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> bool {
        self.get(key).is_some()
    }

    /// Sets the value of `key`; it is encoded when the table is written.
    pub fn insert<Q: AsRef<str> + ?Sized>(&mut self, key: &Q, value: V) {
        let key = key.as_ref();
        let slot = Slot {
            stored: None,
            value: OnceLock::from(Some(value)),
        };
        match self.entries.get_mut(key.as_bytes()) {
            Some(old) => *old = slot,
            None => {
                self.entries.insert(Box::from(key.as_bytes()), slot);
            }
        }
    }

    /// Removes `key`; whether it was there.
    pub fn remove<Q: AsRef<str> + ?Sized>(&mut self, key: &Q) -> bool {
        self.entries.remove(key.as_ref().as_bytes()).is_some()
    }

    /// Keeps the entries whose key `keep` accepts; whether any went.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) -> bool {
        let before = self.entries.len();
        self.entries.retain(|key, _| keep(key));
        self.entries.len() != before
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.entries.keys().map(|k| &**k)
    }

    /// Every value that decodes (decoding all of them).
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.keys().filter_map(|key| {
            // Keys are only ever set from `&str`s or read back from them;
            // one that is not UTF-8 has no value anyone can ask for.
            self.get(std::str::from_utf8(key).ok()?)
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, u64)]) -> LazyTable<(u64, String)> {
        let mut t = LazyTable::default();
        for (k, v) in pairs {
            t.insert(k, (*v, format!("v{v}")));
        }
        t
    }

    fn bytes_of(t: &LazyTable<(u64, String)>) -> Arc<Vec<u8>> {
        let mut out = b"prefix".to_vec();
        t.write(&mut out).unwrap();
        Arc::new(out)
    }

    #[test]
    fn a_written_table_reads_back_and_an_untouched_one_writes_the_same_bytes() {
        let t = table(&[("a", 1), ("bc", 2), ("", 3)]);
        let bytes = bytes_of(&t);
        let mut at = 6;
        let read = LazyTable::<(u64, String)>::read(&bytes, &mut at).unwrap();
        assert_eq!(at, bytes.len());
        assert_eq!(read.len(), 3);
        assert_eq!(read.get("bc"), Some(&(2, "v2".to_string())));
        assert_eq!(read.get("x"), None);
        // Some values decoded, some not: the same bytes either way.
        assert_eq!(bytes_of(&read), bytes);
    }

    #[test]
    fn a_replaced_or_removed_entry_is_written_as_it_is_now() {
        let bytes = bytes_of(&table(&[("a", 1), ("b", 2), ("c", 3)]));
        let mut read = LazyTable::<(u64, String)>::read(&bytes, &mut 6).unwrap();
        read.insert("a", (10, "ten".into()));
        assert!(read.remove("b"));
        assert!(!read.remove("b"));
        read.insert("d", (4, "v4".into()));
        assert!(read.retain(|k| k != b"c".as_slice()));
        let again = LazyTable::<(u64, String)>::read(&bytes_of(&read), &mut 6).unwrap();
        let mut keys: Vec<_> = again.keys().map(|k| k.to_vec()).collect();
        keys.sort();
        assert_eq!(keys, vec![b"a".to_vec(), b"d".to_vec()]);
        assert_eq!(again.get("a"), Some(&(10, "ten".to_string())));
        assert_eq!(again.get("d"), Some(&(4, "v4".to_string())));
        let mut values: Vec<_> = again.values().map(|v| v.0).collect();
        values.sort();
        assert_eq!(values, vec![4, 10]);
    }

    #[test]
    fn bytes_that_are_not_a_table_or_a_value_read_as_none() {
        let bytes = bytes_of(&table(&[("a", 1), ("b", 2)]));
        // Every truncation is no table.
        for cut in 6..bytes.len() {
            let short = Arc::new(bytes[..cut].to_vec());
            assert!(LazyTable::<(u64, String)>::read(&short, &mut 6).is_none());
        }
        // A count larger than the bytes can hold.
        let mut huge = bytes.to_vec();
        huge[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LazyTable::<(u64, String)>::read(&Arc::new(huge), &mut 6).is_none());
        // A value of another type: absent, not misread.
        let read = LazyTable::<(u64, Vec<[u8; 32]>)>::read(&bytes, &mut 6).unwrap();
        assert_eq!(read.get("a"), None);
        assert!(!read.contains_key("a"));
        assert_eq!(read.values().count(), 0);
        // The same key twice: no table.
        let mut twice = Vec::new();
        put_u32(&mut twice, 2).unwrap();
        for _ in 0..2 {
            put_u32(&mut twice, 1).unwrap();
            twice.push(b'a');
            put_u32(&mut twice, 0).unwrap();
        }
        assert!(LazyTable::<(u64, String)>::read(&Arc::new(twice), &mut 0).is_none());
    }
}
