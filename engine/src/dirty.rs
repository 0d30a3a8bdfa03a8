//! Which rules a build must decide when a witness names what changed.
//!
//! A witness (`witness.rs`) vouches for every path the build that wrote it
//! looked at. When its check fails on **file stamps only** — no
//! environment value, tool version, pipeline digest, state file, walked
//! folder or `.gitignore` differs — it names every such path
//! ([`crate::witness::Changes`]). A rule none of whose inputs or outputs is
//! among them, and none of whose dependencies must be decided, would be
//! decided fresh with its recorded key: everything its key holds is what
//! the witness saw (the same files, by stamp and not racy; the same glob
//! matches, since no listed folder changed; the same upstream outputs), and
//! so are its outputs. Such a rule is counted fresh without being looked
//! at; the others — the rules of the changed paths and everything
//! downstream of them — are decided as in any build.
//!
//! Over-approximating is always safe (deciding a rule that is fresh finds
//! it fresh), so a glob is taken to match a changed path whenever its
//! matcher says so, whether or not the walk would have listed the path
//! (a `.gitignore` may hide it).

use rustc_hash::{FxHashMap, FxHashSet};

use crate::glob::GlobMatcher;
use crate::graph::Graph;
use crate::path::WorkspacePath;
use crate::pipeline::Pipeline;
use crate::walk;

/// `decide[rule]`: whether a build after the changes of `changed` must
/// decide the rule (it reads or writes a changed path, or depends on a rule
/// that must be decided). `None` when a glob does not compile (the build
/// decides every rule and reports it as usual).
pub fn rules_to_decide(
    pipeline: &Pipeline,
    graph: &Graph,
    changed: &[WorkspacePath],
) -> Option<Vec<bool>> {
    let n = pipeline.rules.len();
    let mut decide = vec![false; n];
    if changed.is_empty() {
        return Some(decide);
    }
    let set: FxHashSet<&WorkspacePath> = changed.iter().collect();
    let mut matchers: FxHashMap<&str, GlobMatcher> = FxHashMap::default();
    let mut seeds = Vec::new();
    for (index, rule) in pipeline.rules.iter().enumerate() {
        let mut touched = rule.outputs.iter().any(|o| set.contains(&o.value));
        for pattern in &rule.inputs {
            if touched {
                break;
            }
            let pattern = &pattern.value;
            if let Some(literal) = &pattern.literal {
                touched = set.contains(literal);
                continue;
            }
            let base = walk::glob_base(&pattern.glob);
            let under = |path: &WorkspacePath| match &base {
                None => true,
                Some(base) => path
                    .as_str()
                    .strip_prefix(base.as_str())
                    .is_some_and(|rest| rest.starts_with('/')),
            };
            if !changed.iter().any(under) {
                continue;
            }
            let matcher = match matchers.get(pattern.glob.as_str()) {
                Some(m) => m,
                None => {
                    let m = walk::compile_glob(&pattern.glob).ok()?;
                    matchers.entry(pattern.glob.as_str()).or_insert(m)
                }
            };
            touched = changed.iter().any(|p| matcher.is_match(p.as_str()));
        }
        if touched {
            seeds.push(index);
        }
    }
    // Everything downstream of a seed.
    while let Some(index) = seeds.pop() {
        if std::mem::replace(&mut decide[index], true) {
            continue;
        }
        seeds.extend(graph.dependents[index].iter().map(|d| d.index()));
    }
    Some(decide)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{load, LoadOptions, SourceFile};

    fn pipeline(text: &str) -> (Pipeline, Graph) {
        let registry = crate::builtin::BuiltinRegistry::default();
        let options = LoadOptions {
            user: Some(SourceFile::new("cloesce.kdl", text)),
            library: &[],
            builtins: &registry,
        };
        let pipeline = load(&options).expect("a valid pipeline");
        let graph = Graph::build(&pipeline).expect("no cycle");
        (pipeline, graph)
    }

    fn paths(list: &[&str]) -> Vec<WorkspacePath> {
        list.iter()
            .map(|p| WorkspacePath::new(p).unwrap())
            .collect()
    }

    #[test]
    fn the_rules_of_a_changed_path_and_everything_downstream_are_decided() {
        let (p, g) = pipeline(
            r#"
            cloesce version=1
            rule "a" { inputs "src/a.txt"; outputs "out/a"; run "x" }
            rule "b" { inputs "out/a" "src/b.txt"; outputs "out/b"; run "x" }
            rule "c" { inputs "src/c/**/*.txt"; outputs "out/c"; run "x" }
            rule "d" { inputs "out/*"; outputs "final/d"; run "x" }
            rule "e" { inputs "src/e.txt"; outputs "out2/e"; run "x" }
            "#,
        );
        let decide = |changed: &[&str]| {
            let d = rules_to_decide(&p, &g, &paths(changed)).unwrap();
            p.rules
                .iter()
                .zip(d)
                .filter(|(_, d)| *d)
                .map(|(r, _)| r.name.value.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(decide(&[]), Vec::<String>::new());
        // An input: its rule and everything downstream (b reads out/a, d
        // globs out/*).
        assert_eq!(decide(&["src/a.txt"]), ["a", "b", "d"]);
        // An input of a downstream rule only.
        assert_eq!(decide(&["src/b.txt"]), ["b", "d"]);
        // An output edited or deleted by hand: its rule, and downstream.
        assert_eq!(decide(&["out/b"]), ["b", "d"]);
        assert_eq!(decide(&["out2/e"]), ["e"]);
        // A file a glob matches, and one under its base it does not.
        assert_eq!(decide(&["src/c/x/y.txt"]), ["c", "d"]);
        assert_eq!(decide(&["src/c/x/y.md"]), Vec::<String>::new());
        // Two inputs in different groups.
        assert_eq!(decide(&["src/e.txt", "src/b.txt"]), ["b", "d", "e"]);
    }
}
