//! What `cloesce/d1` keeps between runs (its built-in memo, see
//! `cloesce_engine::memo`): the last migration of the history its last
//! successful run checked, keyed by a digest of every file of that history.
//!
//! Checking the history ([`crate::history::History::load`]) parses every
//! snapshot and hashes its schema and its migration's SQL again; in a large
//! project that is most of `d1`'s work, and a model edit leaves the
//! migrations folder as it was. The check is a pure function of the folder's
//! name and the files directly in it, which is exactly what [`key`] digests,
//! so an unchanged key means the check would pass again and give the same
//! last migration. Any changed byte (a hand-edited snapshot or SQL file, a
//! new, renamed or deleted migration) changes the key, and the history is
//! checked in full. Only a successful run writes the memo, so a memo never
//! vouches for a history that failed its check.
//!
//! The last migration's schema is kept as one `postcard` record per table
//! and per view, borrowed from the memo. The drift needs only what differs,
//! so [`Recorded::differing`] encodes each current table and view the same
//! way and decodes only the records whose bytes differ (equal bytes, equal
//! values). The records' layout is [`Schema`]'s, so a change to [`Schema`]
//! needs a new `D1::version`, as every memo format change does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::memo_bytes::Bytes;
use crate::schema::Schema;

/// A digest of a migrations folder's files.
pub type Key = [u8; 32];

/// The key of the history in `dir`: a digest of the folder's name and of
/// the path and bytes of every file under it among `files` (a superset of
/// what `History::load` reads: only the files directly in `dir` count).
pub fn key(dir: &str, files: &[(&str, &[u8])]) -> Key {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(prefix.len() as u64).to_le_bytes());
    hasher.update(prefix.as_bytes());
    for (path, bytes) in files.iter().filter(|(p, _)| p.starts_with(&prefix)) {
        hasher.update(&(path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    *hasher.finalize().as_bytes()
}

/// The last migration as the memo keeps it: its stem, and each table and
/// view of its schema as a record, sorted by name.
#[derive(Serialize, Deserialize)]
pub struct Recorded<'m> {
    /// The migration's file stem, `0002_add_phone`.
    #[serde(borrow)]
    pub stem: &'m str,
    #[serde(borrow)]
    tables: Vec<(&'m str, Bytes<'m>)>,
    #[serde(borrow)]
    views: Vec<(&'m str, Bytes<'m>)>,
}

/// A value's record. Plain data always serialises.
fn record<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap_or_default()
}

/// The memo for a history with `key` whose last migration is `stem` with
/// `schema` (`None` for a history without migrations).
pub fn encode(key: &Key, last: Option<(&str, &Schema)>) -> Vec<u8> {
    let tables: Vec<(&str, Vec<u8>)>;
    let views: Vec<(&str, Vec<u8>)>;
    let recorded = match last {
        Some((stem, schema)) => {
            tables = schema
                .tables
                .iter()
                .map(|(n, t)| (n.as_str(), record(t)))
                .collect();
            views = schema
                .views
                .iter()
                .map(|(n, v)| (n.as_str(), record(v)))
                .collect();
            Some(Recorded {
                stem,
                tables: tables.iter().map(|(n, b)| (*n, Bytes(b))).collect(),
                views: views.iter().map(|(n, b)| (*n, Bytes(b))).collect(),
            })
        }
        None => None,
    };
    let mut out = record(key);
    out.extend(record(&recorded));
    out
}

/// What `memo` recorded, when it recorded the history with `key`: the last
/// migration (`None` for a history without one). `None` when there is no
/// memo, it is for another history, or it cannot be read (the history is
/// then checked in full).
pub fn lookup<'m>(memo: Option<&'m [u8]>, key: &Key) -> Option<Option<Recorded<'m>>> {
    let (recorded, rest) = postcard::take_from_bytes::<Key>(memo?).ok()?;
    if &recorded != key {
        return None;
    }
    postcard::from_bytes(rest).ok()
}

/// The entries of `current` and of `recorded` that differ (in one and not
/// the other, or with other values), decoded into `old` and cloned into
/// `new`. `None` when a record cannot be decoded.
fn split<'a, T>(
    recorded: &[(&str, Bytes<'_>)],
    current: impl Iterator<Item = (&'a String, &'a T)>,
    old: &mut BTreeMap<String, T>,
    new: &mut BTreeMap<String, T>,
) -> Option<()>
where
    T: Serialize + serde::de::DeserializeOwned + Clone + 'a,
{
    let mut remaining: BTreeMap<&str, &[u8]> = recorded.iter().map(|(n, b)| (*n, b.0)).collect();
    for (name, value) in current {
        match remaining.remove(name.as_str()) {
            Some(bytes) if bytes == record(value).as_slice() => {}
            Some(bytes) => {
                old.insert(name.clone(), postcard::from_bytes(bytes).ok()?);
                new.insert(name.clone(), value.clone());
            }
            None => {
                new.insert(name.clone(), value.clone());
            }
        }
    }
    for (name, bytes) in remaining {
        old.insert(name.to_string(), postcard::from_bytes(bytes).ok()?);
    }
    Some(())
}

impl Recorded<'_> {
    /// The parts of the recorded schema and of `current` that differ, as
    /// (old, new): `migrate::changes` of the two is `migrate::changes` of
    /// the whole schemas, since an entry equal on both sides gives no change
    /// and changes nothing said about the others. `None` when a record
    /// cannot be decoded.
    pub fn differing(&self, current: &Schema) -> Option<(Schema, Schema)> {
        let (mut old, mut new) = (Schema::default(), Schema::default());
        split(
            &self.tables,
            current.tables.iter(),
            &mut old.tables,
            &mut new.tables,
        )?;
        split(
            &self.views,
            current.views.iter(),
            &mut old.views,
            &mut new.views,
        )?;
        Some((old, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, Table, View};

    fn table(columns: &[&str]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|c| Column {
                    name: c.to_string(),
                    sql_type: "text".into(),
                    not_null: false,
                })
                .collect(),
            primary_key: vec![columns[0].to_string()],
            foreign_keys: Vec::new(),
        }
    }

    #[test]
    fn a_memo_answers_only_for_its_history() {
        let files: [(&str, &[u8]); 3] = [
            ("cidl.json", b"{}"),
            ("migrations/0001_a.sql", b"CREATE"),
            ("migrations/0001_a.json", b"{}"),
        ];
        let k = key("migrations", &files);
        assert_eq!(
            k,
            key("migrations/", &files),
            "a trailing slash is the same folder"
        );
        assert_eq!(
            k,
            key("migrations", &files[1..]),
            "files outside the folder do not count"
        );
        assert_ne!(k, key("db", &files), "another folder");
        let mut edited = files;
        edited[1].1 = b"CREATE ";
        assert_ne!(k, key("migrations", &edited), "an edited migration");

        let schema = Schema::default();
        let memo = encode(&k, Some(("0001_a", &schema)));
        assert_eq!(lookup(Some(&memo), &k).unwrap().unwrap().stem, "0001_a");
        assert!(
            matches!(lookup(Some(&encode(&k, None)), &k), Some(None)),
            "no migrations yet"
        );
        assert!(
            lookup(Some(&memo), &key("db", &files)).is_none(),
            "another history"
        );
        assert!(lookup(Some(&memo[..33]), &k).is_none(), "a torn memo");
        assert!(lookup(None, &k).is_none());
    }

    fn names<T>(m: &BTreeMap<String, T>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    #[test]
    fn only_the_entries_that_differ_are_decoded_and_kept() {
        let mut old = Schema::default();
        for (name, cols) in [("A", &["id"][..]), ("B", &["id", "x"]), ("C", &["id"])] {
            old.tables.insert(name.into(), table(cols));
        }
        let view = |select: &str| View {
            select: select.into(),
            tables: ["A".to_string()].into(),
        };
        old.views.insert("A_v".into(), view("SELECT 1"));
        old.views.insert("A_w".into(), view("SELECT 2"));
        let mut current = old.clone();
        current.tables.insert("B".into(), table(&["id", "x", "y"]));
        current.tables.remove("C");
        current.tables.insert("D".into(), table(&["id"]));
        current.views.insert("A_w".into(), view("SELECT 3"));

        let memo = encode(&[0; 32], Some(("0001_a", &old)));
        let recorded = lookup(Some(&memo), &[0; 32]).unwrap().unwrap();
        let (was, now) = recorded.differing(&current).unwrap();
        assert_eq!(names(&was.tables), ["B", "C"]);
        assert_eq!(names(&now.tables), ["B", "D"]);
        assert_eq!(was.tables["B"], old.tables["B"]);
        assert_eq!(names(&was.views), ["A_w"]);
        assert_eq!(now.views["A_w"], current.views["A_w"]);
        assert_eq!(
            crate::migrate::changes(&was, &now),
            crate::migrate::changes(&old, &current)
        );
    }
}
