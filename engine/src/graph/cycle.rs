//! Finding cycles and explaining them.
//!
//! Strongly connected groups of rules are found with petgraph's Tarjan; for
//! each group the shortest cycle through its first-declared rule is shown as
//! `a → b → c → a`, with a label on every edge that closes it (the `deps`
//! entry, or the input that matches the other rule's output) and a help that
//! names one edge to remove, preferring an explicit `deps` edge.

use std::collections::{BTreeSet, VecDeque};

use miette::LabeledSpan;
use petgraph::graph::{DiGraph, NodeIndex};

use super::{Edge, EdgeCause};
use crate::pipeline::{source_src, Note, Pipeline, PipelineError, RuleId, Span};

/// One error per cycle, in declaration order of each cycle's first rule.
pub(super) fn find(
    pipeline: &Pipeline,
    dependents: &[Vec<RuleId>],
    edges: &[Edge],
) -> Vec<PipelineError> {
    let mut graph: DiGraph<(), ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..dependents.len()).map(|_| graph.add_node(())).collect();
    for (from, tos) in dependents.iter().enumerate() {
        for to in tos {
            if let (Some(&a), Some(&b)) = (nodes.get(from), nodes.get(to.index())) {
                graph.add_edge(a, b, ());
            }
        }
    }
    // Kosaraju, not Tarjan: petgraph's tarjan_scc recurses once per rule of
    // a chain and overflowed the stack on a 5,000-rule chain
    // (rules/tests/hostile.rs); kosaraju_scc walks with explicit stacks.
    let mut groups: Vec<Vec<u32>> = petgraph::algo::kosaraju_scc(&graph)
        .into_iter()
        .filter(|g| g.len() > 1 || g.first().is_some_and(|&n| graph.contains_edge(n, n)))
        .map(|g| {
            let mut ids: Vec<u32> = g.iter().map(|n| n.index() as u32).collect();
            ids.sort_unstable();
            ids
        })
        .collect();
    groups.sort();
    groups
        .iter()
        .filter_map(|group| {
            let path = shortest_cycle(group, dependents)?;
            Some(explain(pipeline, &path, edges))
        })
        .collect()
}

/// The shortest cycle through the group's first rule, as `[a, b, …, a]`.
fn shortest_cycle(group: &[u32], dependents: &[Vec<RuleId>]) -> Option<Vec<RuleId>> {
    let members: BTreeSet<u32> = group.iter().copied().collect();
    let start = RuleId(*group.first()?);
    let mut parent: Vec<Option<RuleId>> = vec![None; dependents.len()];
    let mut queue = VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for &next in dependents.get(at.index()).into_iter().flatten() {
            if !members.contains(&next.0) {
                continue;
            }
            if next == start {
                let mut chain = vec![at];
                let mut cursor = at;
                while let Some(p) = parent.get(cursor.index()).copied().flatten() {
                    chain.push(p);
                    cursor = p;
                }
                chain.reverse();
                chain.push(start);
                return Some(chain);
            }
            if next != start && parent.get(next.index()).copied().flatten().is_none() {
                if let Some(slot) = parent.get_mut(next.index()) {
                    *slot = Some(at);
                    queue.push_back(next);
                }
            }
        }
    }
    None
}

fn rule_name(pipeline: &Pipeline, id: RuleId) -> &str {
    pipeline
        .rules
        .get(id.index())
        .map(|r| r.name.value.as_str())
        .unwrap_or("?")
}

/// Builds the error for one cycle.
fn explain(pipeline: &Pipeline, path: &[RuleId], edges: &[Edge]) -> PipelineError {
    let shown: Vec<&str> = path.iter().map(|&id| rule_name(pipeline, id)).collect();
    let mut labels: Vec<(Span, String)> = Vec::new();
    // Candidate fixes, ranked: an edge made only of `deps` first, then edges
    // whose causes sit in the earliest document (the user's file comes
    // before the libraries it uses, which the user cannot edit).
    let mut fixes: Vec<((bool, crate::pipeline::SourceId, usize), String)> = Vec::new();
    for (step, pair) in path.windows(2).enumerate() {
        let [from, to] = [pair[0], pair[1]];
        let (from_name, to_name) = (rule_name(pipeline, from), rule_name(pipeline, to));
        let causes: Vec<&Edge> = edges
            .iter()
            .filter(|e| e.from == from && e.to == to)
            .collect();
        let mut inferred = Vec::new();
        let mut explicit = false;
        let mut source = crate::pipeline::SourceId(u16::MAX);
        for edge in &causes {
            match &edge.cause {
                EdgeCause::Explicit { span } => {
                    explicit = true;
                    source = source.min(span.source);
                    labels.push((*span, format!("`{to_name}` depends on `{from_name}`")));
                }
                EdgeCause::Inferred { input, output } => {
                    source = source.min(input.source);
                    let glob = input_glob(pipeline, to, *input);
                    labels.push((
                        *input,
                        format!("input `{glob}` matches output `{output}` of `{from_name}`"),
                    ));
                    inferred.push(format!("`{glob}`"));
                }
            }
        }
        let fix = if inferred.is_empty() {
            format!("remove `deps \"{from_name}\"` from rule `{to_name}` to break the cycle")
        } else {
            let mut fix = format!("break the edge `{from_name}` → `{to_name}`: ");
            if explicit {
                fix.push_str(&format!(
                    "remove `deps \"{from_name}\"` from `{to_name}`, and "
                ));
            }
            fix.push_str(&format!(
                "change the input {} of `{to_name}` so it no longer matches an output of `{from_name}`",
                inferred.join(" and ")
            ));
            fix
        };
        fixes.push(((!inferred.is_empty(), source, step), fix));
    }
    fixes.sort();
    let help = fixes
        .into_iter()
        .next()
        .map(|(_, fix)| fix)
        .unwrap_or_default();

    // The main snippet shows the earliest document: the user's own file when
    // the cycle runs through it; other documents follow as notes.
    let primary = labels
        .iter()
        .map(|(s, _)| s.source)
        .min()
        .unwrap_or(crate::pipeline::SourceId(0));
    let mut primary_labels = Vec::new();
    let mut notes = Vec::new();
    for (span, text) in labels {
        if span.source == primary {
            primary_labels.push(LabeledSpan::new_with_span(Some(text), span.span));
        } else {
            let file = pipeline
                .sources
                .get(span.source.0 as usize)
                .map(|f| f.name.clone())
                .unwrap_or_default();
            notes.push(Note {
                message: format!("the cycle continues in {file}"),
                src: source_src(&pipeline.sources, span.source),
                span: span.span,
                label: text,
            });
        }
    }
    PipelineError::Cycle {
        path: shown.join(" → "),
        src: source_src(&pipeline.sources, primary),
        labels: primary_labels,
        help,
        notes,
    }
}

/// The glob of the input written at `span` in rule `rule`.
fn input_glob(pipeline: &Pipeline, rule: RuleId, span: Span) -> String {
    pipeline
        .rules
        .get(rule.index())
        .and_then(|r| r.inputs.iter().find(|i| i.span == span))
        .map(|i| i.value.glob.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[u32]) -> Vec<RuleId> {
        raw.iter().copied().map(RuleId).collect()
    }

    #[test]
    fn finds_the_shortest_cycle_through_the_first_rule() {
        // 0 → 1 → 2 → 0 and a longer way round 0 → 3 → 4 → 2.
        let dependents = vec![ids(&[1, 3]), ids(&[2]), ids(&[0]), ids(&[4]), ids(&[2])];
        assert_eq!(
            shortest_cycle(&[0, 1, 2, 3, 4], &dependents),
            Some(ids(&[0, 1, 2, 0]))
        );
    }

    #[test]
    fn a_self_loop_is_a_cycle_of_one() {
        let dependents = vec![ids(&[0])];
        assert_eq!(shortest_cycle(&[0], &dependents), Some(ids(&[0, 0])));
        assert_eq!(shortest_cycle(&[], &dependents), None);
    }
}
