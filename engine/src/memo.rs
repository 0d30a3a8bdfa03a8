//! Built-in memos: what a built-in rule kept from its last run to save work
//! in the next one.
//!
//! A built-in is a pure function of its input bytes, and the action cache only
//! helps when *all* of them are unchanged. A built-in that does the same work
//! for each of many inputs (`cloesce/extract` parses every model file) can
//! return, next to its outputs, a memo of that per-input work; the engine
//! keeps it in `.cloesce/memo/` and hands it back on the rule's next run (see
//! [`crate::builtin::Builtin::run_memo`]). The built-in must give exactly the
//! output it would give without a memo, so a memo never enters an action key
//! and may be lost at any time: a missing, foreign or damaged one reads as
//! none.
//!
//! One file per (rule, built-in), replaced whole by each successful run, so
//! the memo holds what the last run used and no more. It is sealed with a
//! digest of the built-in's name and version and of the payload: a file
//! written by another version, a torn write or a stray edit is ignored.

use crate::builtin::Builtin;
use crate::fingerprint::Digest;
use crate::host::Host;
use crate::path::WorkspacePath;

/// The folder memos live in.
pub const MEMO_DIR: &str = ".cloesce/memo";

/// The memo file of `builtin` run as the rule `rule`.
pub fn path(rule: &str, builtin: &dyn Builtin) -> WorkspacePath {
    let name = Digest::of(format!("{rule}\0{}", builtin.name()).as_bytes());
    WorkspacePath::new(&format!("{MEMO_DIR}/{}", name.to_hex()))
        .expect("a hex digest under .cloesce/memo is a valid workspace path")
}

/// The seal of a payload: it changes with the built-in's name or version.
fn seal(builtin: &dyn Builtin, payload: &[u8]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(builtin.name().as_bytes());
    hasher.update(&[0]);
    hasher.update(&builtin.version().to_le_bytes());
    hasher.update(payload);
    Digest(*hasher.finalize().as_bytes())
}

/// The memo `builtin` left as `rule`, if there is one and its seal holds.
pub fn read(host: &dyn Host, rule: &str, builtin: &dyn Builtin) -> Option<Vec<u8>> {
    let mut bytes = host.read(&path(rule, builtin)).ok()?;
    if bytes.len() < 32 || bytes[..32] != seal(builtin, &bytes[32..]).0 {
        return None;
    }
    // In place: a memo can be large, and a copy is as many new pages.
    bytes.drain(..32);
    Some(bytes)
}

/// Keeps `payload` for the next run of `builtin` as `rule`. A memo only saves
/// work, so failing to write one is not an error of the rule.
pub fn write(host: &dyn Host, rule: &str, builtin: &dyn Builtin, payload: &[u8]) {
    let mut bytes = Vec::with_capacity(32 + payload.len());
    bytes.extend_from_slice(&seal(builtin, payload).0);
    bytes.extend_from_slice(payload);
    let _ = host.write_atomic(&path(rule, builtin), &bytes, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::{BuiltinFailure, BuiltinOutput, BuiltinRequest};
    use crate::testing::MemoryHost;

    struct Versioned(u32);

    impl Builtin for Versioned {
        fn name(&self) -> &'static str {
            "test/versioned"
        }
        fn version(&self) -> u32 {
            self.0
        }
        fn description(&self) -> &'static str {
            "a built-in whose version the test picks"
        }
        fn run(&self, _: &BuiltinRequest<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
            Ok(BuiltinOutput::default())
        }
    }

    #[test]
    fn a_memo_reads_back_only_for_its_rule_and_version() {
        let host = MemoryHost::new();
        let v1 = Versioned(1);
        assert_eq!(read(&host, "extract", &v1), None, "no memo yet");
        write(&host, "extract", &v1, b"parsed files");
        assert_eq!(
            read(&host, "extract", &v1).as_deref(),
            Some(&b"parsed files"[..])
        );
        assert_eq!(read(&host, "other", &v1), None, "another rule's memo");
        assert_eq!(
            read(&host, "extract", &Versioned(2)),
            None,
            "another version's memo"
        );
    }

    #[test]
    fn a_damaged_memo_reads_as_none() {
        let host = MemoryHost::new();
        let b = Versioned(1);
        write(&host, "extract", &b, b"parsed files");
        let at = path("extract", &b);
        let mut bytes = host.read(&at).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        host.write_atomic(&at, &bytes, false).unwrap();
        assert_eq!(read(&host, "extract", &b), None, "a flipped bit");
        host.write_atomic(&at, &bytes[..10], false).unwrap();
        assert_eq!(read(&host, "extract", &b), None, "a torn file");
    }
}
