//! Shared checks for KDL nodes: arguments, properties, blocks, value types
//! and `${param}` substitution, each reporting into the loader.

use std::collections::{BTreeMap, BTreeSet};

use kdl::{KdlEntry, KdlNode, KdlValue};

use super::error::{PipelineError, Src};
use super::load::Loader;
use super::*;
use super::{params, suggest};

/// The document being lowered and its resolved params.
pub(super) struct Doc {
    pub(super) id: SourceId,
    pub(super) src: Src,
    /// Params resolved so far, by name.
    pub(super) params: BTreeMap<String, String>,
    /// Every param the document declares (to say "declared later").
    pub(super) declared: BTreeSet<String>,
}

impl Doc {
    pub(super) fn span(&self, span: SourceSpan) -> Span {
        Span {
            source: self.id,
            span,
        }
    }
}

/// What a node's arguments must look like, for arity errors.
pub(super) struct Shape {
    pub(super) min: usize,
    pub(super) max: Option<usize>,
    /// "one string: the rule's name".
    pub(super) wants: &'static str,
    /// An example line for the help.
    pub(super) example: &'static str,
}

/// The KDL type of a value, as an error says it.
pub(super) fn kind(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

pub(super) fn name_of(node: &KdlNode) -> &str {
    node.name().value()
}

impl Loader<'_> {
    // ----- small helpers -----

    /// A node whose arguments are a list of strings and which takes no
    /// properties or block: returns its arguments.
    pub(super) fn strings<'n>(
        &mut self,
        cx: &Doc,
        node: &'n KdlNode,
        shape: &Shape,
    ) -> Vec<&'n KdlEntry> {
        self.no_block(cx, node);
        let (args, _) = self.entries(cx, node, &[]);
        self.arity(cx, node, &args, shape);
        args
    }

    /// Splits a node's entries into arguments and properties, reporting every
    /// property not in `allowed`.
    pub(super) fn entries<'n>(
        &mut self,
        cx: &Doc,
        node: &'n KdlNode,
        allowed: &[&str],
    ) -> (Vec<&'n KdlEntry>, Vec<&'n KdlEntry>) {
        let mut args = Vec::new();
        let mut props = Vec::new();
        for entry in node.entries() {
            match entry.name() {
                None => args.push(entry),
                Some(key) if allowed.contains(&key.value()) => props.push(entry),
                Some(key) => {
                    let node_name = name_of(node);
                    let help = if allowed.is_empty() {
                        format!(
                            "`{node_name}` takes no properties; remove `{}=…`",
                            key.value()
                        )
                    } else {
                        suggest::help(key.value(), allowed)
                    };
                    self.errors.push(PipelineError::UnknownProperty {
                        node: node_name.to_string(),
                        name: key.value().to_string(),
                        src: cx.src.clone(),
                        span: entry.span(),
                        help,
                    });
                }
            }
        }
        (args, props)
    }

    /// Reports too few or too many arguments.
    pub(super) fn arity(&mut self, cx: &Doc, node: &KdlNode, args: &[&KdlEntry], shape: &Shape) {
        let node_name = name_of(node);
        if args.len() < shape.min {
            self.errors.push(PipelineError::BadArguments {
                message: format!("`{node_name}` needs {}", shape.wants),
                src: cx.src.clone(),
                span: node.name().span(),
                help: format!("for example: `{}`", shape.example),
            });
        } else if let Some(extra) = shape.max.and_then(|max| args.get(max)) {
            self.errors.push(PipelineError::BadArguments {
                message: format!("`{node_name}` takes {}", shape.wants),
                src: cx.src.clone(),
                span: extra.span(),
                help: format!(
                    "remove the extra arguments; for example: `{}`",
                    shape.example
                ),
            });
        }
    }

    /// Reports a `{ … }` block on a node that takes none.
    pub(super) fn no_block(&mut self, cx: &Doc, node: &KdlNode) {
        if let Some(children) = node.children() {
            self.errors.push(PipelineError::UnexpectedBlock {
                node: name_of(node).to_string(),
                src: cx.src.clone(),
                span: children.span(),
            });
        }
    }

    /// A string value with its `${param}` references substituted.
    pub(super) fn string(&mut self, cx: &Doc, entry: &KdlEntry, what: &str) -> Option<String> {
        match entry.value() {
            KdlValue::String(text) => self.substitute(cx, text, entry.span()),
            other => {
                let help = match other {
                    KdlValue::Integer(_) | KdlValue::Float(_) | KdlValue::Bool(_) => {
                        format!("put it in quotes: `\"{}\"`", value_text(other))
                    }
                    _ => "write a string in quotes".to_string(),
                };
                self.wrong_type(cx, entry, what, "a string", &help);
                None
            }
        }
    }

    pub(super) fn wrong_type(
        &mut self,
        cx: &Doc,
        entry: &KdlEntry,
        what: &str,
        expected: &'static str,
        help: &str,
    ) {
        self.errors.push(PipelineError::WrongType {
            what: what.to_string(),
            expected,
            found: kind(entry.value()),
            src: cx.src.clone(),
            span: entry.span(),
            help: help.to_string(),
        });
    }

    /// Substitutes params in `text`, reporting each bad reference.
    pub(super) fn substitute(&mut self, cx: &Doc, text: &str, span: SourceSpan) -> Option<String> {
        match params::substitute(text, |name| cx.params.get(name).map(String::as_str)) {
            Ok(value) => Some(value),
            Err(problems) => {
                for problem in problems {
                    self.errors.push(match problem {
                        params::RefError::Undefined(name) => {
                            let help = if cx.declared.contains(&name) {
                                format!("`{name}` is declared further down; a param's default may use only params declared before it")
                            } else {
                                let known: Vec<&str> = cx.params.keys().map(String::as_str).collect();
                                match suggest::closest(&name, known) {
                                    Some(c) => format!("did you mean `{c}`?"),
                                    None => format!("declare it with `param \"{name}\" default=\"VALUE\"`"),
                                }
                            };
                            PipelineError::UndefinedParam {
                                name,
                                src: cx.src.clone(),
                                span,
                                help,
                            }
                        }
                        params::RefError::Unterminated => PipelineError::BadReference {
                            message: "`${` is not closed with `}`".to_string(),
                            src: cx.src.clone(),
                            span,
                        },
                        params::RefError::Empty => PipelineError::BadReference {
                            message: "`${}` names no param".to_string(),
                            src: cx.src.clone(),
                            span,
                        },
                    });
                }
                None
            }
        }
    }
}

pub(super) fn is_prop(entry: &KdlEntry, key: &str) -> bool {
    entry.name().is_some_and(|n| n.value() == key)
}

/// A scalar as the user would write it inside quotes.
pub(super) fn value_text(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => s.clone(),
        KdlValue::Integer(i) => i.to_string(),
        KdlValue::Float(f) => f.to_string(),
        KdlValue::Bool(b) => b.to_string(),
        KdlValue::Null => "null".to_string(),
    }
}
