//! The store in `.cloesce/`: an action cache and content-addressed blobs.
//!
//! ```text
//! .cloesce/
//!   lock                  the project lock (one run at a time)
//!   state                 the stat cache and last-run records (see state.rs)
//!   ac/<2 hex>/<64 hex>   action cache: action key -> output manifest + logs
//!   cas/<2 hex>/<64 hex>  blobs: blake3 digest -> bytes
//! ```
//!
//! Durability rules (ninja's and Bazel's):
//! - every write goes to a temporary file renamed into place
//!   (`Host::write_atomic`), so a reader never sees half a file;
//! - an action entry is written only after every blob it names, so an entry
//!   never points at a missing blob after a crash;
//! - every action entry starts with a version header; a file that does not
//!   parse (another version, truncation, corruption) is a miss and is deleted
//!   quietly;
//! - every blob read is verified against its digest; a corrupt blob is
//!   deleted and treated as missing, so the rule simply runs again.
//!
//! The interface is narrow (get/put blob, get/put action) so a remote cache
//! can sit behind it.

use serde::{Deserialize, Serialize};

use crate::fingerprint::Digest;
use crate::host::{FileKind, Host};
use crate::path::WorkspacePath;

/// The store's folder, relative to the project root.
pub const STORE_DIR: &str = ".cloesce";

/// First line of every action entry.
const ACTION_HEADER: &[u8] = b"cloesce-action v1\n";

/// One output of a rule, as recorded in the action cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub path: WorkspacePath,
    pub digest: Digest,
    pub size: u64,
    pub executable: bool,
}

/// What a successful rule produced: enough to restore it without running it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEntry {
    /// The rule's name when it was recorded (for `cache stats`).
    pub rule: String,
    pub outputs: Vec<OutputRecord>,
    /// Captured output, replayed on a hit.
    pub stdout: String,
    pub stderr: String,
}

/// Access to `.cloesce/` through a [`Host`].
pub struct Store<'h> {
    host: &'h dyn Host,
}

impl<'h> Store<'h> {
    pub fn new(host: &'h dyn Host) -> Self {
        Store { host }
    }

    pub fn dir() -> WorkspacePath {
        WorkspacePath::new(STORE_DIR).expect("constant path is valid")
    }

    fn sharded(kind: &str, digest: &Digest) -> WorkspacePath {
        let hex = digest.to_hex();
        WorkspacePath::new(&format!("{STORE_DIR}/{kind}/{}/{hex}", &hex[..2]))
            .expect("hex paths are valid")
    }

    /// Where a blob lives.
    pub fn blob_path(digest: &Digest) -> WorkspacePath {
        Self::sharded("cas", digest)
    }

    /// Where an action entry lives.
    pub fn action_path(key: &Digest) -> WorkspacePath {
        Self::sharded("ac", key)
    }

    /// Stores `bytes` under their digest (a no-op when already there).
    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> std::io::Result<()> {
        let path = Self::blob_path(digest);
        if let Some(stat) = self.host.stat(&path)? {
            if stat.kind == FileKind::File && stat.size == bytes.len() as u64 {
                return Ok(());
            }
        }
        self.host.write_atomic(&path, bytes, false)
    }

    /// The verified bytes of a blob, or `None` when it is missing or corrupt
    /// (a corrupt blob is deleted).
    pub fn get_blob(&self, digest: &Digest) -> std::io::Result<Option<Vec<u8>>> {
        let path = Self::blob_path(digest);
        match self.host.read(&path) {
            Ok(bytes) if Digest::of(&bytes) == *digest => Ok(Some(bytes)),
            Ok(_) => {
                self.host.remove_file(&path)?;
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The action entry for `key`, or `None` (missing, other version or
    /// corrupt; the latter two are deleted).
    pub fn get_action(&self, key: &Digest) -> std::io::Result<Option<ActionEntry>> {
        let path = Self::action_path(key);
        let bytes = match self.host.read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match bytes
            .strip_prefix(ACTION_HEADER)
            .and_then(|body| serde_json::from_slice::<ActionEntry>(body).ok())
        {
            Some(entry) => Ok(Some(entry)),
            None => {
                self.host.remove_file(&path)?;
                Ok(None)
            }
        }
    }

    /// Records an action entry. Call only after every blob it names is stored.
    pub fn put_action(&self, key: &Digest, entry: &ActionEntry) -> std::io::Result<()> {
        let mut bytes = ACTION_HEADER.to_vec();
        bytes.extend(serde_json::to_vec(entry).map_err(std::io::Error::other)?);
        self.host
            .write_atomic(&Self::action_path(key), &bytes, false)
    }
}
