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
//! - each literal input that was missing is still missing.
//!
//! Any difference is named, the build records nothing for the rule (no
//! action entry, no upload, no rule record), and the next run builds it
//! again. What the check cannot see: a file changed and changed back to the
//! same bytes while the rule ran (its digest is what the key names).

use std::collections::BTreeSet;

use crate::fingerprint::ActionKeyInput;
use crate::host::Host;
use crate::path::WorkspacePath;
use crate::pipeline::Rule;
use crate::state::State;

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
