//! Reasons: why a rule runs, or why its outputs were restored.
//!
//! Every decision the build makes carries a list of [`Reason`]s, computed by
//! comparing what enters the rule's key now with what entered it the last
//! time it succeeded (kept in the state file). `cloesce explain` and
//! `cloesce run --explain` print them; `--json` emits them as data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fingerprint::{ActionKeyInput, Digest};
use crate::path::WorkspacePath;

/// One reason for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No successful run of this rule is on record.
    NeverBuilt,
    /// The rule says `cache #false`.
    CacheDisabled,
    /// `--no-cache` was given.
    NoCacheFlag,
    /// Its command, built-in, settings or declared outputs changed.
    DefinitionChanged,
    InputChanged {
        path: WorkspacePath,
        old: Digest,
        new: Digest,
    },
    InputAdded {
        path: WorkspacePath,
    },
    InputRemoved {
        path: WorkspacePath,
    },
    /// An output of a dependency it reads changed.
    UpstreamChanged {
        path: WorkspacePath,
    },
    /// A declared environment variable changed (values are never shown).
    EnvChanged {
        name: String,
    },
    ToolChanged {
        name: String,
        old: String,
        new: String,
    },
    /// A dependency will run first, so the inputs are not known yet.
    DependencyRuns {
        rule: String,
    },
    /// The same inputs were built before: outputs come from the store.
    SeenBefore,
    OutputMissing {
        path: WorkspacePath,
    },
    OutputModified {
        path: WorkspacePath,
    },
    /// The cached outputs could not be restored (a blob is missing or corrupt).
    CacheEntryUnusable,
    /// The outputs were downloaded from the remote cache.
    RemoteHit,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NeverBuilt => write!(f, "no earlier build on record"),
            Reason::CacheDisabled => write!(f, "the rule has `cache #false`"),
            Reason::NoCacheFlag => write!(f, "--no-cache was given"),
            Reason::DefinitionChanged => write!(f, "the rule's definition changed"),
            Reason::InputChanged { path, old, new } => {
                write!(
                    f,
                    "input {path} changed ({} → {})",
                    old.short(),
                    new.short()
                )
            }
            Reason::InputAdded { path } => write!(f, "input {path} is new"),
            Reason::InputRemoved { path } => write!(f, "input {path} was removed"),
            Reason::UpstreamChanged { path } => write!(f, "dependency output {path} changed"),
            Reason::EnvChanged { name } => write!(f, "environment variable {name} changed"),
            Reason::ToolChanged { name, old, new } => {
                write!(f, "tool {name} changed ({old} → {new})")
            }
            Reason::DependencyRuns { rule } => write!(f, "dependency `{rule}` runs first"),
            Reason::SeenBefore => write!(
                f,
                "these inputs were built before, so the outputs come from the store"
            ),
            Reason::OutputMissing { path } => write!(f, "output {path} is missing"),
            Reason::OutputModified { path } => write!(f, "output {path} was modified"),
            Reason::CacheEntryUnusable => write!(f, "the cached outputs are missing or corrupt"),
            Reason::RemoteHit => write!(f, "downloaded from the remote cache"),
        }
    }
}

/// What changed between the last recorded key input and the current one.
pub fn diff(old: &ActionKeyInput, new: &ActionKeyInput) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if old.definition != new.definition {
        reasons.push(Reason::DefinitionChanged);
    }
    diff_files(&old.inputs, &new.inputs, &mut reasons, |path, old, new| {
        Reason::InputChanged { path, old, new }
    });
    let old_up: BTreeMap<_, _> = old.upstream.iter().cloned().collect();
    // A dependency output the rule also reads as an input was named above.
    let read: BTreeSet<_> = new.inputs.iter().map(|(path, _)| path).collect();
    for (path, digest) in &new.upstream {
        if old_up.get(path) != Some(digest) && !read.contains(path) {
            reasons.push(Reason::UpstreamChanged { path: path.clone() });
        }
    }
    let old_env: BTreeMap<_, _> = old.env.iter().cloned().collect();
    let new_env: BTreeMap<_, _> = new.env.iter().cloned().collect();
    for (name, value) in &new_env {
        if old_env.get(name) != Some(value) {
            reasons.push(Reason::EnvChanged { name: name.clone() });
        }
    }
    for name in old_env.keys() {
        if !new_env.contains_key(name) {
            reasons.push(Reason::EnvChanged { name: name.clone() });
        }
    }
    let old_tools: BTreeMap<_, _> = old.tools.iter().cloned().collect();
    for (name, version) in &new.tools {
        match old_tools.get(name) {
            Some(old) if old == version => {}
            old => reasons.push(Reason::ToolChanged {
                name: name.clone(),
                old: old.cloned().unwrap_or_else(|| "(none)".into()),
                new: version.clone(),
            }),
        }
    }
    reasons
}

fn diff_files(
    old: &[(WorkspacePath, Digest)],
    new: &[(WorkspacePath, Digest)],
    reasons: &mut Vec<Reason>,
    changed: impl Fn(WorkspacePath, Digest, Digest) -> Reason,
) {
    let old_map: BTreeMap<_, _> = old.iter().cloned().collect();
    let new_map: BTreeMap<_, _> = new.iter().cloned().collect();
    for (path, digest) in &new_map {
        match old_map.get(path) {
            None => reasons.push(Reason::InputAdded { path: path.clone() }),
            Some(old) if old != digest => reasons.push(changed(path.clone(), *old, *digest)),
            Some(_) => {}
        }
    }
    for path in old_map.keys() {
        if !new_map.contains_key(path) {
            reasons.push(Reason::InputRemoved { path: path.clone() });
        }
    }
}
