//! `.cloesce/witness`: proof that the last build found everything fresh, so
//! that the next `cloesce run` can say so without loading the pipeline or
//! the state.
//!
//! A no-op run over a large pipeline spends most of its time *reading*: the
//! checked pipeline (every rule's inputs, outputs and command) and the state
//! (every file's stat entry and every rule's record), only to recompute each
//! rule's key and find it unchanged. A build in which **every** rule was
//! fresh writes a witness instead: the pipeline's digest, the declared
//! environment values and tool versions the keys used, and every path the
//! build looked at with what it found there — a file with its stat-cache
//! entry, or no file. The next run reads only that, stats the paths (at once,
//! as [`Host::stat_many`] allows) and, when every one matches, the build
//! would be all fresh again: nothing in any key can have changed.
//!
//! When is a witness trusted? Exactly when the per-rule path would trust the
//! same facts:
//! - the pipeline digest covers `cloesce.kdl`, the library pipelines, the
//!   built-ins' versions and the engine's version;
//! - a file entry must match the current stat (size, mtime, ctime, inode)
//!   and must not be racy (the stat cache's rule, see `state.rs`);
//! - a path that was no file must still be none (missing, or a folder);
//! - every declared environment value and tool version must be unchanged.
//!
//! A witness is written only when it can vouch for everything: never after a
//! build that walked the project for globs (a new file could match), hashed a
//! symlink (its stat says nothing of its target), ran, restored or failed
//! anything, or built only some targets. Every build that may change the
//! state removes it first ([`remove`]), so a witness never outlives the state
//! it describes. Missing, foreign or damaged witness files are ignored.

use serde::{Deserialize, Serialize};

use crate::fingerprint::{env_value_digest, Digest};
use crate::host::{FileKind, Host};
use crate::path::WorkspacePath;
use crate::state::{is_racy, Stamp, State};
use crate::store::STORE_DIR;

const HEADER: &[u8] = b"cloesce-witness v1\n";

/// What a build found at a path it checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Observed {
    /// A regular file with this stamp, whose content (as the stat cache has
    /// it) was read at `recorded_ns`.
    File { stamp: Stamp, recorded_ns: u64 },
    /// No file: missing, or a folder (neither enters a key).
    NoFile,
}

/// Everything an all-fresh build's keys depended on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// [`crate::pipeline::pipeline_key`] of the pipeline that was built.
    pub pipeline: Digest,
    /// How many rules were fresh (all of them).
    pub rules: u64,
    /// Declared environment variables and their values' digests.
    pub env: Vec<(String, Option<Digest>)>,
    /// Declared tools: the version command and the version it printed.
    pub tools: Vec<(Vec<String>, String)>,
    /// The stat of `.cloesce/state` once this build saved it. The state is
    /// only ever replaced whole (a new file), so any later save, or its
    /// removal, voids the witness even when no project file changed.
    pub state: Option<Stamp>,
    /// Every path checked, sorted, and what was found at each (same order).
    pub paths: Vec<WorkspacePath>,
    pub observed: Vec<Observed>,
}

fn witness_path() -> WorkspacePath {
    WorkspacePath::new(&format!("{STORE_DIR}/witness")).expect("constant path")
}

/// Saves a witness (failures are ignored: it only saves time).
pub fn write(host: &dyn Host, witness: &Witness) {
    if let Ok(body) = postcard::to_stdvec(witness) {
        let mut bytes = HEADER.to_vec();
        bytes.extend(crate::store::seal(&body));
        let _ = host.write_atomic(&witness_path(), &bytes, false);
    }
}

/// Removes the witness before a build that may change the state.
pub fn remove(host: &dyn Host) -> std::io::Result<()> {
    match host.remove_file(&witness_path()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The number of rules, when the witness shows that a build of the pipeline
/// with digest `pipeline` would find every rule fresh; `None` when a build
/// must decide (no witness, or anything differs).
pub fn all_fresh(host: &dyn Host, pipeline: &Digest) -> Option<usize> {
    let bytes = host.read(&witness_path()).ok()?;
    let body = crate::store::unseal(bytes.strip_prefix(HEADER)?)?;
    let witness: Witness = postcard::from_bytes(body).ok()?;
    if witness.pipeline != *pipeline {
        return None;
    }
    for (name, digest) in &witness.env {
        if env_value_digest(host.env_var(name).as_deref()) != *digest {
            return None;
        }
    }
    for (argv, version) in &witness.tools {
        if host.tool_version(argv).as_ref() != Ok(version) {
            return None;
        }
    }
    if witness.paths.len() != witness.observed.len() {
        return None;
    }
    let state = host.stat(&State::path()).ok().flatten();
    if state.as_ref().map(Stamp::of) != witness.state {
        return None;
    }
    let stats = host.stat_many(&witness.paths);
    let unchanged =
        witness
            .observed
            .iter()
            .zip(stats)
            .all(|(observed, stat)| match (observed, stat) {
                (Observed::File { stamp, recorded_ns }, Ok(Some(stat))) => {
                    stat.kind == FileKind::File
                        && Stamp::of(&stat) == *stamp
                        && !is_racy(stamp.mtime_ns, *recorded_ns)
                }
                (Observed::NoFile, Ok(None)) => true,
                (Observed::NoFile, Ok(Some(stat))) => stat.kind == FileKind::Dir,
                _ => false,
            });
    unchanged.then_some(witness.rules as usize)
}
