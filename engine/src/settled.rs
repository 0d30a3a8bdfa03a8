//! After a rule ran: were its inputs left alone while it ran?
//!
//! A rule's action key is computed from its inputs' digests *before* it
//! runs. If a file it reads is edited while it runs (an editor saving, a
//! `git checkout`), its outputs may come from the new content while the key
//! names the old one; recording them would make a later build with the old
//! content restore outputs of the new (a wrong output that `cache verify`
//! cannot see). So, after a rule exits and before anything is recorded or
//! uploaded, [`changed_during_run`] checks again every file that went into
//! the key:
//!
//! - each input and each upstream output it keyed on still has that digest
//!   (a fresh `stat`: the stat cache's stamp decides, and a changed or racy
//!   stamp means hashing again, see [`State::unchanged`]);
//! - each literal input that was missing is still missing;
//! - no file appeared that one of its globs matches ([`appeared_during_run`]:
//!   the folders the build's walk listed under the glob's base are stat-ed
//!   again, and only when one changed, or was listed within the racy window
//!   of its last change, are they walked again).
//!
//! Any difference is named, the build records nothing for the rule (no
//! action entry, no upload; the state keeps its last good run's record),
//! and the next run builds it again. What the check cannot see: a file changed and changed back to the
//! same bytes while the rule ran (its digest is what the key names). A rule
//! that writes undeclared files its own globs match is told the same, once
//! per change: its key does not describe what it read.

use std::collections::BTreeSet;

use crate::fingerprint::ActionKeyInput;
use crate::host::Host;
use crate::path::WorkspacePath;
use crate::pipeline::Rule;
use crate::state::{is_racy, Stamp, State};
use crate::walk::{self, Looked};

/// The files that went into `key_input` and no longer hold what they held
/// then, in key order. A file that cannot be checked (an IO error) counts as
/// changed: its result cannot be vouched for.
pub(crate) fn changed_during_run(
    state: &mut State,
    host: &dyn Host,
    rule: &Rule,
    key_input: &ActionKeyInput,
    now_ns: u64,
) -> Vec<WorkspacePath> {
    let mut changed = Vec::new();
    let mut check = |path: &WorkspacePath, expected| {
        if !state
            .unchanged(host, path, expected, now_ns)
            .unwrap_or(false)
        {
            changed.push(path.clone());
        }
    };
    let mut keyed = BTreeSet::new();
    for (path, digest) in key_input.inputs.iter().chain(&key_input.upstream) {
        // (An upstream output is often an input too: checked once.)
        if keyed.insert(path) {
            check(path, Some(digest));
        }
    }
    for literal in rule.inputs.iter().filter_map(|i| i.value.literal.as_ref()) {
        if !keyed.contains(literal) && !rule.outputs.iter().any(|o| &o.value == literal) {
            check(literal, None);
        }
    }
    changed
}

/// The files a glob input of `rule` matches now that were not among the
/// inputs its key was computed from: files added while it ran. `looks` and
/// `walked_at` are what the build's walk looked at, and when.
pub(crate) fn appeared_during_run(
    host: &dyn Host,
    rule: &Rule,
    key_input: &ActionKeyInput,
    looks: &[Looked],
    walked_at: u64,
) -> Vec<WorkspacePath> {
    let globs: Vec<&str> = rule
        .inputs
        .iter()
        .filter(|i| i.value.literal.is_none())
        .map(|i| i.value.glob.as_str())
        .collect();
    if globs.is_empty() {
        return Vec::new();
    }
    let bases: Vec<Option<WorkspacePath>> = globs.iter().map(|g| walk::glob_base(g)).collect();
    let under_a_base = |path: &Option<WorkspacePath>| {
        bases.iter().any(|base| match (base, path) {
            (None, _) => true,
            (Some(base), Some(path)) => path.starts_with(base) || base.starts_with(path),
            (Some(_), None) => true,
        })
    };
    let unchanged = |path: &Option<WorkspacePath>, then: &Option<crate::host::FileStat>, folder| {
        let now = if folder {
            host.stat_dir(path.as_ref())
        } else {
            path.as_ref().map_or(Ok(None), |p| host.stat(p))
        };
        match (then, now) {
            (None, Ok(None)) => true,
            (Some(then), Ok(Some(now))) => {
                Stamp::of(then) == Stamp::of(&now) && !is_racy(now.mtime_ns, walked_at)
            }
            _ => false,
        }
    };
    let listings_unchanged = looks.iter().all(|look| match look {
        Looked::Folder(path, stat) => !under_a_base(path) || unchanged(path, stat, true),
        // A `.gitignore` edited meanwhile may change what matches below
        // its folder.
        Looked::File(path, stat) => {
            let folder = path
                .as_str()
                .rsplit_once('/')
                .and_then(|(dir, _)| WorkspacePath::new(dir).ok());
            !under_a_base(&folder) || unchanged(&Some(path.clone()), stat, false)
        }
    });
    if listings_unchanged {
        return Vec::new();
    }
    // A walk that fails now (it succeeded for the key) cannot vouch for
    // the result: its base folders are named as changed.
    let Ok(files) = walk::walk(host, &bases) else {
        return bases.into_iter().flatten().collect();
    };
    let matchers: Vec<_> = globs
        .iter()
        .filter_map(|g| walk::compile_glob(g).ok())
        .collect();
    let keyed: BTreeSet<&WorkspacePath> = key_input.inputs.iter().map(|(p, _)| p).collect();
    files
        .into_iter()
        .filter(|f| matchers.iter().any(|m| m.is_match(f.as_str())))
        .filter(|f| !keyed.contains(f) && !rule.outputs.iter().any(|o| &o.value == f))
        .collect()
}
