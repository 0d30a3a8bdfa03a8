//! A byte string inside a built-in's memo (`extract`'s records, `d1`'s
//! tables and views): written with `serialize_bytes` and read back borrowed
//! from the memo, so replaying a record copies nothing.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(crate) struct Bytes<'a>(#[serde(with = "borrowed")] pub(crate) &'a [u8]);

mod borrowed {
    pub fn serialize<S: serde::Serializer>(b: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'de [u8], D::Error> {
        serde::Deserialize::deserialize(d)
    }
}
