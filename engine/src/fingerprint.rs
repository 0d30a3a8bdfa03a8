//! Fingerprints: content digests and the action key of a rule.
//!
//! A rule's **action key** decides whether its cached result may be reused:
//! two runs with the same key must produce the same outputs. It is a blake3
//! hash over an explicit, versioned byte encoding (never `#[derive(Hash)]`),
//! so it is the same on every platform, in WebAssembly, and across releases
//! that keep [`KEY_FORMAT`].
//!
//! | enters the key | why |
//! | --- | --- |
//! | [`KEY_FORMAT`] salt and the engine version | a new engine never trusts an old engine's results |
//! | the rule's kind: built-in name, its version and settings; or the argv | what the rule does |
//! | declared outputs (sorted) | what it promises to write |
//! | each input's workspace-relative path and content digest (sorted) | what it reads |
//! | the content digests of its dependencies' outputs | early cutoff: an upstream rule that reproduces identical bytes does not invalidate its dependents |
//! | each declared env variable's name and the digest of its value (unset is distinct from empty) | declared configuration |
//! | each declared tool's name and version string | declared toolchain |
//!
//! | deliberately left out | why |
//! | --- | --- |
//! | absolute paths | moving or re-cloning the project keeps every cache hit |
//! | modification times | a touch that keeps the bytes changes nothing; mtimes only speed up the stat cache |
//! | undeclared environment variables | rules cannot see them (the child environment is an allowlist) |
//! | env values in clear text | only digests are hashed and stored, so secrets never reach `.cloesce/` |
//! | the rule's name and description | renaming a rule keeps its cache |
//! | the input globs as written | only the files they match matter |

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::builtin::BuiltinRegistry;
use crate::path::WorkspacePath;
use crate::pipeline::{Action, Rule};

/// Bumped whenever the key encoding below changes meaning.
pub const KEY_FORMAT: &str = "cloesce-key-v1";

/// A blake3 digest of some bytes. Serialised as hex in human-readable
/// formats (JSON), as one 32-byte byte string in binary ones (the state
/// file, the pipeline cache, action entries): read back with one copy
/// instead of 32 single-byte reads, which showed in no-op profiles.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let hex = String::deserialize(deserializer)?;
            Digest::from_hex(&hex).ok_or_else(|| serde::de::Error::custom("invalid digest"))
        } else {
            deserializer.deserialize_bytes(DigestBytes)
        }
    }
}

struct DigestBytes;

impl<'de> serde::de::Visitor<'de> for DigestBytes {
    type Value = Digest;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("32 digest bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Digest, E> {
        <[u8; 32]>::try_from(v)
            .map(Digest)
            .map_err(|_| E::invalid_length(v.len(), &self))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Digest, A::Error> {
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = seq
                .next_element()?
                .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
        }
        Ok(Digest(bytes))
    }
}

impl Digest {
    /// The digest of a file's content.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    /// Lowercase hex, as used in store file names.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    /// Parses lowercase or uppercase hex.
    pub fn from_hex(hex: &str) -> Option<Digest> {
        blake3::Hash::from_hex(hex)
            .ok()
            .map(|h| Digest(*h.as_bytes()))
    }

    /// The first 12 hex digits, for messages.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The digest of an environment variable's value; `None` (unset) and
/// `Some("")` differ. Values never leave this function in clear text.
pub fn env_value_digest(value: Option<&str>) -> Option<Digest> {
    value.map(|v| {
        let mut h = FieldHasher::new("env-value");
        h.bytes(v.as_bytes());
        h.finish()
    })
}

/// Hashes a sequence of typed, length-prefixed fields, so that no two
/// different field sequences can encode to the same bytes.
///
/// Fields are gathered in a buffer and handed to blake3 in large pieces:
/// a key is dozens of tiny fields, and blake3's per-call overhead on them
/// dominated no-op runs. The digest is the same as hashing field by field
/// (blake3 is a streaming hash), so no key changes.
pub struct FieldHasher {
    /// Created only when the fields outgrow the buffer: most hashes (keys,
    /// definitions) are a few hundred bytes, hashed in one call at the end.
    hasher: Option<blake3::Hasher>,
    buffer: Vec<u8>,
}

/// Buffered bytes are flushed into the hasher beyond this size.
const FIELD_BUFFER: usize = 16 * 1024;

impl FieldHasher {
    /// Starts a hash in its own domain (`"action-key"`, `"definition"`, …).
    pub fn new(domain: &str) -> Self {
        let mut this = FieldHasher {
            hasher: None,
            buffer: Vec::with_capacity(1024),
        };
        this.raw(KEY_FORMAT.as_bytes()).raw(&[0]).str(domain);
        this
    }

    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        if self.buffer.len() + bytes.len() > FIELD_BUFFER {
            let hasher = self.hasher.get_or_insert_with(blake3::Hasher::new);
            hasher.update(&self.buffer);
            self.buffer.clear();
            if bytes.len() > FIELD_BUFFER {
                hasher.update(bytes);
                return self;
            }
        }
        self.buffer.extend_from_slice(bytes);
        self
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.raw(&(bytes.len() as u64).to_le_bytes()).raw(bytes)
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// A one-byte tag naming what follows.
    pub fn tag(&mut self, tag: u8) -> &mut Self {
        self.raw(&[tag])
    }

    pub fn u64(&mut self, n: u64) -> &mut Self {
        self.raw(&n.to_le_bytes())
    }

    pub fn digest(&mut self, d: &Digest) -> &mut Self {
        self.raw(&d.0)
    }

    pub fn finish(&self) -> Digest {
        match &self.hasher {
            None => Digest(*blake3::hash(&self.buffer).as_bytes()),
            Some(hasher) => {
                let mut hasher = hasher.clone();
                hasher.update(&self.buffer);
                Digest(*hasher.finalize().as_bytes())
            }
        }
    }
}

/// Everything that enters a rule's action key, already reduced to digests.
/// Sorted collections are sorted by the caller ([`ActionKeyInput::key`]
/// sorts defensively anyway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionKeyInput {
    /// Digest of the rule's definition ([`definition_digest`]).
    pub definition: Digest,
    /// Each input file with its content digest.
    pub inputs: Vec<(WorkspacePath, Digest)>,
    /// Each dependency output with its content digest.
    pub upstream: Vec<(WorkspacePath, Digest)>,
    /// Each declared env variable with the digest of its value.
    pub env: Vec<(String, Option<Digest>)>,
    /// Each declared tool with its version string.
    pub tools: Vec<(String, String)>,
}

impl ActionKeyInput {
    /// The action key.
    pub fn key(&self) -> Digest {
        let inputs = sorted(&self.inputs);
        let upstream = sorted(&self.upstream);
        let env = sorted(&self.env);
        let tools = sorted(&self.tools);

        let mut h = FieldHasher::new("action-key");
        h.str(crate::VERSION);
        h.tag(b'D').digest(&self.definition);
        h.tag(b'I').u64(inputs.len() as u64);
        for (path, digest) in inputs.iter() {
            h.str(path.as_str()).digest(digest);
        }
        h.tag(b'U').u64(upstream.len() as u64);
        for (path, digest) in upstream.iter() {
            h.str(path.as_str()).digest(digest);
        }
        h.tag(b'E').u64(env.len() as u64);
        for (name, value) in env.iter() {
            h.str(name);
            match value {
                Some(d) => h.tag(1).digest(d),
                None => h.tag(0),
            };
        }
        h.tag(b'T').u64(tools.len() as u64);
        for (name, version) in tools.iter() {
            h.str(name).str(version);
        }
        h.finish()
    }
}

/// `items` in sorted order, copied only when they are not sorted already
/// (the build passes them sorted, so a key costs no allocation).
fn sorted<T: Ord + Clone>(items: &[T]) -> std::borrow::Cow<'_, [T]> {
    if items.is_sorted() {
        std::borrow::Cow::Borrowed(items)
    } else {
        let mut owned = items.to_vec();
        owned.sort();
        std::borrow::Cow::Owned(owned)
    }
}

/// What a rule does, as far as its output is concerned.
pub enum DefinitionKind<'a> {
    Builtin {
        name: &'a str,
        version: u32,
        settings: &'a std::collections::BTreeMap<String, String>,
    },
    Run {
        argv: &'a [String],
    },
}

/// The definition digest of a pipeline rule (see [`definition_digest`]); a
/// built-in's version comes from `builtins` (0 when it is unknown).
pub fn rule_definition_digest(rule: &Rule, builtins: &BuiltinRegistry) -> Digest {
    let outputs: Vec<WorkspacePath> = rule.outputs.iter().map(|o| o.value.clone()).collect();
    let kind = match &rule.action {
        Action::Builtin { name, settings } => DefinitionKind::Builtin {
            name: &name.value,
            version: builtins.get(&name.value).map_or(0, |b| b.version()),
            settings,
        },
        Action::Run { argv } => DefinitionKind::Run { argv: &argv.value },
    };
    definition_digest(&kind, &outputs)
}

/// The digest of a rule's definition: its kind and its declared outputs.
pub fn definition_digest(kind: &DefinitionKind<'_>, outputs: &[WorkspacePath]) -> Digest {
    let mut h = FieldHasher::new("definition");
    match kind {
        DefinitionKind::Builtin {
            name,
            version,
            settings,
        } => {
            h.tag(b'B').str(name).u64(u64::from(*version));
            h.u64(settings.len() as u64);
            for (k, v) in settings.iter() {
                h.str(k).str(v);
            }
        }
        DefinitionKind::Run { argv } => {
            h.tag(b'R').u64(argv.len() as u64);
            for arg in argv.iter() {
                h.str(arg);
            }
        }
    }
    let mut outputs: Vec<&WorkspacePath> = outputs.iter().collect();
    outputs.sort();
    h.tag(b'O').u64(outputs.len() as u64);
    for o in outputs {
        h.str(o.as_str());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> WorkspacePath {
        WorkspacePath::new(s).unwrap()
    }

    fn sample() -> ActionKeyInput {
        let argv = vec!["sh".to_string(), "x.sh".to_string()];
        ActionKeyInput {
            definition: definition_digest(&DefinitionKind::Run { argv: &argv }, &[p("out")]),
            inputs: vec![(p("a"), Digest::of(b"1")), (p("b"), Digest::of(b"2"))],
            upstream: vec![],
            env: vec![("FOO".into(), env_value_digest(Some("x")))],
            tools: vec![("node".into(), "v20".into())],
        }
    }

    #[test]
    fn buffering_does_not_change_digests() {
        let big = vec![7u8; 40_000];
        let mut plain = blake3::Hasher::new();
        plain.update(KEY_FORMAT.as_bytes()).update(&[0]);
        for field in [&b"domain"[..], b"a", &big, b"tail"] {
            plain
                .update(&(field.len() as u64).to_le_bytes())
                .update(field);
        }
        plain.update(b"T").update(&42u64.to_le_bytes());
        let mut h = FieldHasher::new("domain");
        h.bytes(b"a").bytes(&big).bytes(b"tail").tag(b'T').u64(42);
        assert_eq!(h.finish(), Digest(*plain.finalize().as_bytes()));
        // A short sequence, hashed in one call at the end: the same digest
        // as feeding blake3 field by field.
        let mut plain = blake3::Hasher::new();
        plain.update(KEY_FORMAT.as_bytes()).update(&[0]);
        for field in [&b"domain"[..], b"a"] {
            plain
                .update(&(field.len() as u64).to_le_bytes())
                .update(field);
        }
        let mut h = FieldHasher::new("domain");
        h.bytes(b"a");
        assert_eq!(h.finish(), Digest(*plain.finalize().as_bytes()));
    }

    #[test]
    fn key_ignores_order_of_collections() {
        let a = sample();
        let mut b = sample();
        b.inputs.reverse();
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = sample().key();
        let mut x = sample();
        x.inputs[0].1 = Digest::of(b"changed");
        assert_ne!(x.key(), base);
        let mut x = sample();
        x.inputs[0].0 = p("renamed");
        assert_ne!(x.key(), base);
        let mut x = sample();
        x.env[0].1 = env_value_digest(Some(""));
        assert_ne!(x.key(), base);
        let mut x = sample();
        x.env[0].1 = None;
        assert_ne!(x.key(), base);
        let mut x = sample();
        x.tools[0].1 = "v22".into();
        assert_ne!(x.key(), base);
        let mut x = sample();
        x.upstream.push((p("u"), Digest::of(b"")));
        assert_ne!(x.key(), base);
    }

    #[test]
    fn field_boundaries_cannot_be_confused() {
        let a = vec!["ab".to_string(), "c".to_string()];
        let b = vec!["a".to_string(), "bc".to_string()];
        assert_ne!(
            definition_digest(&DefinitionKind::Run { argv: &a }, &[]),
            definition_digest(&DefinitionKind::Run { argv: &b }, &[])
        );
    }

    #[test]
    fn env_values_are_only_digested() {
        let d = env_value_digest(Some("s3cr3t")).unwrap();
        assert!(!d.to_hex().contains("s3cr3t"));
        assert_eq!(Digest::from_hex(&d.to_hex()), Some(d));
    }
}
