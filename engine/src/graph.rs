//! The rule graph: explicit and inferred edges, cycle detection, topological order.
//! (Stub: filled in by the pipeline-loader work.)

use crate::path::WorkspacePath;
use crate::pipeline::{Pipeline, RuleId, Span};

/// Why one rule depends on another.
#[derive(Debug, Clone, PartialEq)]
pub enum EdgeCause {
    /// Written in `deps`.
    Explicit { span: Span },
    /// An input pattern of the dependent matches an output of the dependency.
    Inferred { input: Span, output: WorkspacePath },
}

/// `to` depends on `from`.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: RuleId,
    pub to: RuleId,
    pub cause: EdgeCause,
}

/// The checked DAG of a pipeline.
#[derive(Debug, Clone)]
pub struct Graph {
    /// For each rule, the rules it depends on (sorted, no duplicates).
    pub deps: Vec<Vec<RuleId>>,
    /// For each rule, the rules that depend on it (sorted, no duplicates).
    pub dependents: Vec<Vec<RuleId>>,
    /// Every rule, dependencies before dependents; ties in declaration order.
    pub order: Vec<RuleId>,
    /// Every edge with its cause, for `graph` and diagnostics.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The roots plus everything they depend on, in topological order.
    pub fn closure(&self, roots: &[RuleId]) -> Vec<RuleId> {
        let mut keep = vec![false; self.deps.len()];
        let mut stack: Vec<RuleId> = roots.to_vec();
        while let Some(r) = stack.pop() {
            if !std::mem::replace(&mut keep[r.index()], true) {
                stack.extend(self.deps[r.index()].iter().copied());
            }
        }
        self.order
            .iter()
            .copied()
            .filter(|r| keep[r.index()])
            .collect()
    }

    /// Builds the graph (stub: no edges, declaration order).
    pub fn build(pipeline: &Pipeline) -> Result<Graph, crate::pipeline::PipelineErrors> {
        let n = pipeline.rules.len();
        Ok(Graph {
            deps: vec![Vec::new(); n],
            dependents: vec![Vec::new(); n],
            order: (0..n as u32).map(RuleId).collect(),
            edges: Vec::new(),
        })
    }
}
