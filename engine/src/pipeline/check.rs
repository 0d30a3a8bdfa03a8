//! Checks across rules: duplicate names, `deps` on unknown rules, and outputs
//! claimed by two rules. (Cycles are found by [`crate::graph::Graph::build`].)

use std::collections::BTreeMap;

use super::error::{Note, PipelineError};
use super::load::source_src;
use super::suggest;
use super::{Rule, SourceFile, Span};

/// Where the second of two clashing declarations points to the first: a
/// label when both are in one document, a related note otherwise.
fn first_place(
    sources: &[SourceFile],
    here: Span,
    first: Span,
    message: String,
    label: &str,
) -> (Option<miette::SourceSpan>, Vec<Note>) {
    if here.source == first.source {
        (Some(first.span), Vec::new())
    } else {
        let note = Note {
            message,
            src: source_src(sources, first.source),
            span: first.span,
            label: label.to_string(),
        };
        (None, vec![note])
    }
}

/// Runs every cross-rule check, pushing one error per problem.
pub(super) fn across_rules(
    sources: &[SourceFile],
    rules: &[Rule],
    errors: &mut Vec<PipelineError>,
) {
    let mut names: BTreeMap<&str, Span> = BTreeMap::new();
    for rule in rules {
        let name = rule.name.value.as_str();
        match names.get(name) {
            Some(first) => {
                let (first, notes) = first_place(
                    sources,
                    rule.name.span,
                    *first,
                    format!(
                        "rule `{name}` is first declared in {}",
                        source_name(sources, first)
                    ),
                    "first declared here",
                );
                errors.push(PipelineError::DuplicateRule {
                    name: name.to_string(),
                    src: source_src(sources, rule.name.span.source),
                    span: rule.name.span.span,
                    first,
                    notes,
                });
            }
            None => {
                names.insert(name, rule.name.span);
            }
        }
    }

    let all: Vec<&str> = names.keys().copied().collect();
    for rule in rules {
        for dep in &rule.deps {
            if !names.contains_key(dep.value.as_str()) {
                errors.push(PipelineError::UnknownDep {
                    rule: rule.name.value.clone(),
                    dep: dep.value.clone(),
                    src: source_src(sources, dep.span.source),
                    span: dep.span.span,
                    help: suggest::help(&dep.value, &all),
                });
            }
        }
    }

    let mut outputs: BTreeMap<&str, (&str, Span)> = BTreeMap::new();
    for rule in rules {
        for output in &rule.outputs {
            let path = output.value.as_str();
            match outputs.get(path) {
                Some((first_rule, first)) if *first_rule != rule.name.value => {
                    let (first, notes) = first_place(
                        sources,
                        output.span,
                        *first,
                        format!(
                            "`{path}` is first declared by `{first_rule}` in {}",
                            source_name(sources, first)
                        ),
                        "declared here",
                    );
                    errors.push(PipelineError::DuplicateOutput {
                        path: path.to_string(),
                        rule: rule.name.value.clone(),
                        first_rule: first_rule.to_string(),
                        src: source_src(sources, output.span.source),
                        span: output.span.span,
                        first,
                        notes,
                    });
                }
                Some(_) => {}
                None => {
                    outputs.insert(path, (rule.name.value.as_str(), output.span));
                }
            }
        }
    }
}

fn source_name<'s>(sources: &'s [SourceFile], span: &Span) -> &'s str {
    sources
        .get(span.source.0 as usize)
        .map(|s| s.name.as_str())
        .unwrap_or("<unknown>")
}
