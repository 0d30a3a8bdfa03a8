//! The rule graph: explicit and inferred edges, cycle detection, topological order.
//!
//! An edge `from → to` means `to` needs `from` to have run first. Edges come
//! from two places:
//!
//! - **explicit**: `deps "from"` written in rule `to`;
//! - **inferred**: an input pattern of `to` matches an output declared by
//!   `from` (literal equality, or a glob match with the engine's glob rules,
//!   see [`InputPattern::matcher`](crate::pipeline::InputPattern::matcher)).
//!   A rule never gets an edge to itself this way.
//!
//! [`Graph::build`] reports every cycle (one per strongly connected group of
//! rules) with its full path, a label on each edge that closes it, and which
//! edge to remove. The order it returns is deterministic: dependencies first,
//! ties broken by declaration order.

mod cycle;
pub mod render;

use std::collections::{BTreeSet, HashMap};

use crate::path::WorkspacePath;
use crate::pipeline::{Pipeline, PipelineError, PipelineErrors, RuleId, Span};

pub use render::{render, Format};

/// Why one rule depends on another.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum EdgeCause {
    /// Written in `deps`.
    Explicit { span: Span },
    /// An input pattern of the dependent matches an output of the dependency.
    Inferred { input: Span, output: WorkspacePath },
}

/// `to` depends on `from`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Edge {
    pub from: RuleId,
    pub to: RuleId,
    pub cause: EdgeCause,
}

/// The checked DAG of a pipeline.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Graph {
    /// For each rule, the rules it depends on (sorted, no duplicates).
    pub deps: Vec<Vec<RuleId>>,
    /// For each rule, the rules that depend on it (sorted, no duplicates).
    pub dependents: Vec<Vec<RuleId>>,
    /// Every rule, dependencies before dependents; ties in declaration order.
    pub order: Vec<RuleId>,
    /// Every edge with its cause, for `graph` and diagnostics. Explicit edges
    /// first (rule by rule, in `deps` order), then inferred ones. An inferred
    /// edge is kept once per (input pattern, dependency rule): the first
    /// matching output names it.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// Builds the graph, or reports every cycle (and any `deps` naming an
    /// unknown rule, which [`crate::pipeline::load`] already rejects).
    pub fn build(pipeline: &Pipeline) -> Result<Graph, PipelineErrors> {
        let n = pipeline.rules.len();
        let mut errors = Vec::new();
        let edges = edges(pipeline, &mut errors);

        let mut deps: Vec<BTreeSet<RuleId>> = vec![BTreeSet::new(); n];
        let mut dependents: Vec<BTreeSet<RuleId>> = vec![BTreeSet::new(); n];
        for edge in &edges {
            if let (Some(d), Some(r)) = (
                deps.get_mut(edge.to.index()),
                dependents.get_mut(edge.from.index()),
            ) {
                d.insert(edge.from);
                r.insert(edge.to);
            }
        }
        let deps: Vec<Vec<RuleId>> = deps.into_iter().map(|s| s.into_iter().collect()).collect();
        let dependents: Vec<Vec<RuleId>> = dependents
            .into_iter()
            .map(|s| s.into_iter().collect())
            .collect();

        errors.extend(cycle::find(pipeline, &dependents, &edges));
        if !errors.is_empty() {
            return Err(PipelineErrors::new(errors));
        }
        let order = topological_order(&deps, &dependents);
        Ok(Graph {
            deps,
            dependents,
            order,
            edges,
        })
    }

    /// `roots` plus every rule they transitively depend on, in [`Graph::order`]
    /// (what `cloesce run RULE…` runs). Unknown ids are ignored.
    pub fn closure(&self, roots: &[RuleId]) -> Vec<RuleId> {
        let mut wanted = vec![false; self.deps.len()];
        let mut stack: Vec<RuleId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            match wanted.get_mut(id.index()) {
                Some(seen) if !*seen => *seen = true,
                _ => continue,
            }
            if let Some(deps) = self.deps.get(id.index()) {
                stack.extend(deps.iter().copied());
            }
        }
        self.order
            .iter()
            .copied()
            .filter(|id| wanted.get(id.index()).copied().unwrap_or(false))
            .collect()
    }

    /// Every edge from `from` to `to` (one per cause).
    pub fn causes(&self, from: RuleId, to: RuleId) -> impl Iterator<Item = &Edge> + '_ {
        self.edges
            .iter()
            .filter(move |e| e.from == from && e.to == to)
    }
}

/// Collects explicit and inferred edges. Rule names and literal outputs are
/// looked up in hash maps, so a pipeline of N rules costs O(N) here (plus one
/// pass over all outputs per real glob input).
fn edges(pipeline: &Pipeline, errors: &mut Vec<PipelineError>) -> Vec<Edge> {
    let mut by_name: HashMap<&str, RuleId> = HashMap::with_capacity(pipeline.rules.len());
    let mut by_output: HashMap<&WorkspacePath, RuleId> = HashMap::new();
    for (i, rule) in pipeline.rules.iter().enumerate() {
        by_name
            .entry(rule.name.value.as_str())
            .or_insert(RuleId(i as u32));
        for out in &rule.outputs {
            by_output.entry(&out.value).or_insert(RuleId(i as u32));
        }
    }
    let mut edges = Vec::new();
    for (i, rule) in pipeline.rules.iter().enumerate() {
        let to = RuleId(i as u32);
        for dep in &rule.deps {
            match by_name.get(dep.value.as_str()) {
                Some(&from) => edges.push(Edge {
                    from,
                    to,
                    cause: EdgeCause::Explicit { span: dep.span },
                }),
                None => errors.push(PipelineError::UnknownDep {
                    rule: rule.name.value.clone(),
                    dep: dep.value.clone(),
                    src: crate::pipeline::source_src(&pipeline.sources, dep.span.source),
                    span: dep.span.span,
                    help: crate::pipeline::suggest::help(
                        &dep.value,
                        &pipeline
                            .rules
                            .iter()
                            .map(|r| r.name.value.as_str())
                            .collect::<Vec<_>>(),
                    ),
                }),
            }
        }
    }
    for (i, rule) in pipeline.rules.iter().enumerate() {
        let to = RuleId(i as u32);
        for input in &rule.inputs {
            if let Some(literal) = &input.value.literal {
                if let Some(&from) = by_output.get(literal) {
                    if from != to {
                        edges.push(Edge {
                            from,
                            to,
                            cause: EdgeCause::Inferred {
                                input: input.span,
                                output: literal.clone(),
                            },
                        });
                    }
                }
                continue;
            }
            let Ok(matcher) = input.value.matcher() else {
                continue;
            };
            for (j, other) in pipeline.rules.iter().enumerate() {
                if i == j {
                    continue;
                }
                if let Some(out) = other
                    .outputs
                    .iter()
                    .find(|out| matcher.is_match(out.value.as_str()))
                {
                    edges.push(Edge {
                        from: RuleId(j as u32),
                        to,
                        cause: EdgeCause::Inferred {
                            input: input.span,
                            output: out.value.clone(),
                        },
                    });
                }
            }
        }
    }
    edges
}

/// Kahn's algorithm, always taking the ready rule declared first.
fn topological_order(deps: &[Vec<RuleId>], dependents: &[Vec<RuleId>]) -> Vec<RuleId> {
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<RuleId> = (0..deps.len())
        .filter(|&i| waiting.get(i) == Some(&0))
        .map(|i| RuleId(i as u32))
        .collect();
    let mut order = Vec::with_capacity(deps.len());
    while let Some(id) = ready.pop_first() {
        order.push(id);
        for next in dependents.get(id.index()).into_iter().flatten() {
            if let Some(count) = waiting.get_mut(next.index()) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    ready.insert(*next);
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[u32]) -> Vec<RuleId> {
        raw.iter().copied().map(RuleId).collect()
    }

    #[test]
    fn kahn_takes_the_first_declared_ready_rule() {
        // 0 needs 2; 1 needs nothing; 2 needs nothing; 3 needs 0 and 1.
        let deps = vec![ids(&[2]), ids(&[]), ids(&[]), ids(&[0, 1])];
        let dependents = vec![ids(&[3]), ids(&[3]), ids(&[0]), ids(&[])];
        assert_eq!(topological_order(&deps, &dependents), ids(&[1, 2, 0, 3]));
    }

    #[test]
    fn kahn_leaves_out_rules_on_a_cycle() {
        let deps = vec![ids(&[1]), ids(&[0]), ids(&[])];
        let dependents = vec![ids(&[1]), ids(&[0]), ids(&[])];
        assert_eq!(topological_order(&deps, &dependents), ids(&[2]));
    }
}
