//! What `cloesce/extract` keeps between runs (its built-in memo, see
//! `cloesce_engine::memo`): for each model file that read cleanly, the
//! classes found in it and where each anchor is, keyed by a digest of the
//! file's path and text. An edit to one file of many then parses that one
//! file; every other file is replayed from its record, which is exactly what
//! reading it again would give (reading a file depends on its path and text
//! only; the file's index, the one thing that depends on the others, is
//! filled in at replay). Files with problems are never kept, so their
//! diagnostics are always fresh.
//!
//! The memo is `postcard`: a map from key to record, each record its own
//! byte string, borrowed from the memo and decoded only when its file is
//! unchanged.

use std::borrow::Cow;
use std::collections::BTreeMap;

use oxc_span::Span;
use serde::{Deserialize, Serialize};

use super::parse::Found;
use super::Spans;
use crate::ir::{Model, WranglerEnv};
use crate::memo_bytes::Bytes;
use crate::validate::Anchor;

/// A digest of a model file's path and text.
pub type Key = [u8; 32];

/// The key of the file at `path` with `text`.
pub fn key(path: &str, text: &str) -> Key {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(path.len() as u64).to_le_bytes());
    hasher.update(path.as_bytes());
    hasher.update(text.as_bytes());
    *hasher.finalize().as_bytes()
}

/// A class found in a file, with its name's span as (start, end).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Class {
    Model(Model, u32, u32),
    Env(WranglerEnv, u32, u32),
}

/// Everything reading one clean file gave.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    classes: Vec<Class>,
    /// The anchors the file declared, in the order they were found.
    spans: Vec<(Anchor, u32, u32)>,
}

impl FileRecord {
    /// The record of a file that gave `found` and declared `spans`.
    pub fn encode(found: &[Found], spans: &[(Anchor, (usize, Span))]) -> Vec<u8> {
        let record = FileRecord {
            classes: found
                .iter()
                .map(|f| match f {
                    Found::Model(m, s) => Class::Model(m.clone(), s.start, s.end),
                    Found::Env(e, s) => Class::Env(e.clone(), s.start, s.end),
                })
                .collect(),
            spans: spans
                .iter()
                .map(|(a, (_, s))| (a.clone(), s.start, s.end))
                .collect(),
        };
        // Plain data always serialises.
        postcard::to_allocvec(&record).unwrap_or_default()
    }

    /// Declares the file's anchors as file `idx` and gives back its classes.
    pub fn replay(self, idx: usize, spans: &mut Spans) -> Vec<Found> {
        for (anchor, start, end) in self.spans {
            spans.insert(anchor, (idx, Span::new(start, end)));
        }
        self.classes
            .into_iter()
            .map(|c| match c {
                Class::Model(m, start, end) => Found::Model(m, Span::new(start, end)),
                Class::Env(e, start, end) => Found::Env(e, Span::new(start, end)),
            })
            .collect()
    }
}

/// The records of a memo, each still encoded: borrowed from the memo read,
/// owned when made in this run.
#[derive(Default)]
pub struct Files<'m>(BTreeMap<Key, Cow<'m, [u8]>>);

impl<'m> Files<'m> {
    /// The records in `memo`; none when there is no memo or it cannot be read.
    pub fn decode(memo: Option<&'m [u8]>) -> Files<'m> {
        let read: Option<BTreeMap<Key, Bytes<'m>>> =
            memo.and_then(|bytes| postcard::from_bytes(bytes).ok());
        Files(
            read.unwrap_or_default()
                .into_iter()
                .map(|(k, b)| (k, Cow::Borrowed(b.0)))
                .collect(),
        )
    }

    /// The record for `key`, decoded, and its encoded bytes; `None` when there
    /// is none or it cannot be read (the file is then read again).
    pub fn take(&mut self, key: &Key) -> Option<(FileRecord, Cow<'m, [u8]>)> {
        let raw = self.0.remove(key)?;
        let record = postcard::from_bytes(&raw).ok()?;
        Some((record, raw))
    }

    /// Keeps `raw`, the record of the file with `key`, for the next run.
    pub fn keep(&mut self, key: Key, raw: impl Into<Cow<'m, [u8]>>) {
        self.0.insert(key, raw.into());
    }

    /// The memo to return.
    pub fn encode(&self) -> Vec<u8> {
        let out: BTreeMap<&Key, Bytes<'_>> = self.0.iter().map(|(k, v)| (k, Bytes(v))).collect();
        // A map of byte strings always serialises.
        postcard::to_allocvec(&out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_reads_back_what_was_kept() {
        let mut files = Files::default();
        files.keep(key("a.ts", "x"), b"one".to_vec());
        files.keep(key("b.ts", "y"), b"".to_vec());
        let memo = files.encode();
        let read = Files::decode(Some(&memo));
        assert_eq!(read.0, files.0);
        assert!(
            matches!(read.0.values().next(), Some(Cow::Borrowed(_))),
            "records are borrowed"
        );
        assert!(Files::decode(Some(b"\xff\xff garbage")).0.is_empty());
        assert_ne!(
            key("a.ts", "x"),
            key("a.t", "sx"),
            "the path is delimited from the text"
        );
    }
}
