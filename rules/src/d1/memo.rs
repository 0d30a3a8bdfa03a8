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
//! The memo is `postcard`: the key, then the last migration, decoded only
//! when the key matches. Its layout is [`Schema`]'s, so a change to
//! [`Schema`] needs a new `D1::version` (as every memo format change does).

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::schema::Schema;

/// A digest of a migrations folder's files.
pub type Key = [u8; 32];

/// The last migration of a checked history: what drift is measured against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Last {
    /// Its file stem, `0002_add_phone`.
    pub stem: String,
    /// The schema its snapshot records.
    pub schema: Schema,
}

impl Last {
    /// The last migration of `history` (`None` when it has none).
    pub fn of(history: History) -> Option<Last> {
        let entry = history.entries.into_iter().last()?;
        Some(Last {
            stem: entry.stem,
            schema: entry.snapshot.schema,
        })
    }
}

/// The key of the history in `dir`: a digest of the folder's name and of
/// the path and bytes of every file under it among `files` (a superset of
/// what [`History::load`] reads: only the files directly in `dir` count).
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

/// The memo for a history with `key` whose last migration is `last`.
pub fn encode(key: &Key, last: Option<&Last>) -> Vec<u8> {
    // A digest and plain data always serialise.
    let mut out = postcard::to_allocvec(key).unwrap_or_default();
    out.extend(postcard::to_allocvec(&last).unwrap_or_default());
    out
}

/// The last migration `memo` recorded, when it recorded the history with
/// `key`; `None` when there is no memo, it is for another history, or it
/// cannot be read (the history is then checked in full).
pub fn lookup(memo: Option<&[u8]>, key: &Key) -> Option<Option<Last>> {
    let (recorded, rest) = postcard::take_from_bytes::<Key>(memo?).ok()?;
    if &recorded != key {
        return None;
    }
    postcard::from_bytes(rest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let last = Last {
            stem: "0001_a".into(),
            schema: Schema::default(),
        };
        let memo = encode(&k, Some(&last));
        assert_eq!(lookup(Some(&memo), &k), Some(Some(last)));
        assert_eq!(
            lookup(Some(&encode(&k, None)), &k),
            Some(None),
            "no migrations yet"
        );
        assert_eq!(lookup(Some(&memo), &key("db", &files)), None);
        assert_eq!(lookup(Some(&memo[..40]), &k), None, "a torn memo");
        assert_eq!(lookup(None, &k), None);
    }
}
