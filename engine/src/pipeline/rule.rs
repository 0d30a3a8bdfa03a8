//! Lowering `rule "NAME" { … }`: its action, inputs, outputs and the rest.

use std::collections::BTreeMap;

use kdl::{KdlEntry, KdlNode, KdlValue};

use super::error::PipelineError;
use super::load::Loader;
use super::paths::{self, GlobPathError, OutputError};
use super::suggest;
use super::syntax::{kind, name_of, Doc, Shape};
use super::*;
use crate::path::PathError;

/// Nodes allowed inside `rule "NAME" { … }`.
const RULE_CHILDREN: &[&str] = &[
    "description",
    "builtin",
    "run",
    "inputs",
    "outputs",
    "deps",
    "env",
    "tool",
    "cache",
];

impl Loader<'_> {
    /// `rule "NAME" { … }`.
    pub(super) fn rule(&mut self, cx: &Doc, node: &KdlNode) -> Option<Rule> {
        let (args, _) = self.entries(cx, node, &[]);
        let shape = Shape {
            min: 1,
            max: Some(1),
            wants: "one string, the rule's name",
            example: "rule \"typecheck\" { … }",
        };
        self.arity(cx, node, &args, &shape);
        let name = match args.first() {
            Some(entry) => match self.string(cx, entry, "a rule name") {
                Some(name) if name.trim().is_empty() => {
                    self.errors.push(PipelineError::InvalidName {
                        what: "rule",
                        name,
                        reason: "it is empty",
                        fix: "name the rule after what it does, such as `typecheck`",
                        src: cx.src.clone(),
                        span: entry.span(),
                    });
                    None
                }
                Some(name) => Some(Spanned {
                    value: name,
                    span: cx.span(entry.span()),
                }),
                None => None,
            },
            None => None,
        };
        let label = name.as_ref().map(|n| n.value.as_str()).unwrap_or("?");
        let context = format!("rule `{label}`");

        let mut description: Option<(String, SourceSpan)> = None;
        // Where `builtin`/`run` were written, and the action when it is valid.
        let mut builtin: Option<(Option<Action>, SourceSpan)> = None;
        let mut run: Option<(Option<Action>, SourceSpan)> = None;
        let mut cache: Option<(bool, SourceSpan)> = None;
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let mut deps = Vec::new();
        let mut env = Vec::new();
        let mut tools = Vec::new();

        for child in node.children().map(|c| c.nodes()).unwrap_or_default() {
            let child_name = name_of(child);
            let first = match child_name {
                "description" => description.as_ref().map(|d| d.1),
                "builtin" => builtin.as_ref().map(|d| d.1),
                "run" => run.as_ref().map(|d| d.1),
                "cache" => cache.as_ref().map(|d| d.1),
                _ => None,
            };
            if let Some(first) = first {
                self.errors.push(PipelineError::DuplicateField {
                    node: child_name.to_string(),
                    context: context.clone(),
                    src: cx.src.clone(),
                    span: child.span(),
                    first,
                });
                continue;
            }
            match child_name {
                "description" => {
                    self.no_block(cx, child);
                    let (args, _) = self.entries(cx, child, &[]);
                    let shape = Shape {
                        min: 1,
                        max: Some(1),
                        wants: "one string",
                        example: "description \"type-check the worker\"",
                    };
                    self.arity(cx, child, &args, &shape);
                    if let Some(text) = args
                        .first()
                        .and_then(|e| self.string(cx, e, "`description`"))
                    {
                        description = Some((text, child.span()));
                    }
                }
                "builtin" => builtin = Some((self.builtin(cx, child), child.span())),
                "run" => run = Some((self.run(cx, child, label), child.span())),
                "inputs" => inputs.extend(self.inputs(cx, child)),
                "outputs" => outputs.extend(self.outputs(cx, child)),
                "deps" => {
                    let shape = Shape {
                        min: 1,
                        max: None,
                        wants: "rule names",
                        example: "deps \"workers\" \"client\"",
                    };
                    for entry in self.strings(cx, child, &shape) {
                        if let Some(dep) = self.string(cx, entry, "a rule name") {
                            deps.push(Spanned {
                                value: dep,
                                span: cx.span(entry.span()),
                            });
                        }
                    }
                }
                "env" => env.extend(self.env_names(cx, child)),
                "tool" => tools.extend(self.tool(cx, child)),
                "cache" => {
                    self.no_block(cx, child);
                    let (args, _) = self.entries(cx, child, &[]);
                    let shape = Shape {
                        min: 1,
                        max: Some(1),
                        wants: "one boolean",
                        example: "cache #false",
                    };
                    self.arity(cx, child, &args, &shape);
                    if let Some(entry) = args.first() {
                        match entry.value() {
                            KdlValue::Bool(b) => cache = Some((*b, child.span())),
                            other => self.wrong_type(
                                cx,
                                entry,
                                "`cache`",
                                "a boolean",
                                &format!("write `cache #false` or `cache #true` (KDL 2 booleans start with `#`), not {}", kind(other)),
                            ),
                        }
                    }
                }
                other => self.errors.push(PipelineError::UnknownNode {
                    name: other.to_string(),
                    context: format!("in {context}"),
                    src: cx.src.clone(),
                    span: child.name().span(),
                    help: suggest::help(other, RULE_CHILDREN),
                }),
            }
        }

        let action = match (builtin, run) {
            (Some((action, _)), None) | (None, Some((action, _))) => action,
            (Some((_, b)), Some((_, r))) => {
                self.errors.push(PipelineError::BothActions {
                    rule: label.to_string(),
                    src: cx.src.clone(),
                    builtin: b,
                    run: r,
                });
                None
            }
            (None, None) => {
                self.errors.push(PipelineError::MissingAction {
                    rule: label.to_string(),
                    src: cx.src.clone(),
                    span: args
                        .first()
                        .map(|a| a.span())
                        .unwrap_or_else(|| node.name().span()),
                });
                None
            }
        };

        // A rule with a broken action is kept (with an empty placeholder argv)
        // so the checks across rules still see its name, deps and outputs; the
        // error already pushed keeps the placeholder from ever being returned.
        let span = cx.span(node.span());
        let action = action.unwrap_or(Action::Run {
            argv: Spanned {
                value: Vec::new(),
                span,
            },
        });
        Some(Rule {
            name: name?,
            span,
            description: description.map(|d| d.0),
            action,
            inputs,
            outputs,
            deps,
            env,
            tools,
            cache: cache.map(|c| c.0).unwrap_or(true),
        })
    }

    /// `builtin "NAME" key="value"…`: the name must be registered and each
    /// property one of its settings.
    pub(super) fn builtin(&mut self, cx: &Doc, node: &KdlNode) -> Option<Action> {
        self.no_block(cx, node);
        let args: Vec<&KdlEntry> = node
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .collect();
        let shape = Shape {
            min: 1,
            max: Some(1),
            wants: "one string, the built-in's name; settings are `key=\"value\"` properties",
            example: "builtin \"cloesce/workers\" api_route=\"/api\"",
        };
        self.arity(cx, node, &args, &shape);
        let entry = args.first()?;
        let name = self.string(cx, entry, "a built-in name")?;
        let found = self.options.builtins.get(&name);
        if found.is_none() {
            let names: Vec<&str> = self.options.builtins.names().collect();
            self.errors.push(PipelineError::UnknownBuiltin {
                name: name.clone(),
                src: cx.src.clone(),
                span: entry.span(),
                help: suggest::help(&name, &names),
            });
        }
        let mut settings = BTreeMap::new();
        let mut ok = found.is_some();
        for prop in node.entries().iter() {
            let Some(key) = prop.name() else { continue };
            let key = key.value();
            if let Some(b) = found {
                let known = b.settings();
                if !known.contains(&key) {
                    let help = if known.is_empty() {
                        format!("`{name}` takes no settings; remove `{key}`")
                    } else {
                        suggest::help(key, known)
                    };
                    self.errors.push(PipelineError::UnknownSetting {
                        builtin: name.clone(),
                        name: key.to_string(),
                        src: cx.src.clone(),
                        span: prop.span(),
                        help,
                    });
                    ok = false;
                    continue;
                }
            }
            match self.string(cx, prop, &format!("setting `{key}`")) {
                Some(value) => {
                    settings.insert(key.to_string(), value);
                }
                None => ok = false,
            }
        }
        ok.then(|| Action::Builtin {
            name: Spanned {
                value: name,
                span: cx.span(entry.span()),
            },
            settings,
        })
    }

    /// `run "PROG" "ARG"…`: an argv of strings.
    pub(super) fn run(&mut self, cx: &Doc, node: &KdlNode, rule: &str) -> Option<Action> {
        self.no_block(cx, node);
        let (args, _) = self.entries(cx, node, &[]);
        if args.is_empty() {
            self.errors.push(PipelineError::EmptyRun {
                rule: rule.to_string(),
                src: cx.src.clone(),
                span: node.span(),
            });
            return None;
        }
        let mut argv = Vec::new();
        let mut ok = true;
        for (index, entry) in args.into_iter().enumerate() {
            match self.string(cx, entry, "a `run` argument") {
                Some(arg) if arg.contains('\0') => {
                    self.errors.push(PipelineError::InvalidArgument {
                        rule: rule.to_string(),
                        index,
                        src: cx.src.clone(),
                        span: entry.span(),
                    });
                    ok = false;
                }
                Some(arg) => argv.push(arg),
                None => ok = false,
            }
        }
        ok.then(|| Action::Run {
            argv: Spanned {
                value: argv,
                span: cx.span(node.span()),
            },
        })
    }

    /// `inputs "GLOB"…`.
    pub(super) fn inputs(&mut self, cx: &Doc, node: &KdlNode) -> Vec<Spanned<InputPattern>> {
        let shape = Shape {
            min: 1,
            max: None,
            wants: "globs",
            example: "inputs \"src/**/*.ts\" \"package.json\"",
        };
        let mut inputs = Vec::new();
        for entry in self.strings(cx, node, &shape) {
            let Some(raw) = self.string(cx, entry, "an input") else {
                continue;
            };
            let glob = match paths::normalise_glob(&raw) {
                Ok(glob) => glob,
                Err(e) => {
                    self.errors.push(match e {
                        GlobPathError::Absolute => PipelineError::AbsolutePath {
                            what: "input",
                            path: raw,
                            src: cx.src.clone(),
                            span: entry.span(),
                        },
                        GlobPathError::Escapes => PipelineError::EscapingPath {
                            what: "input",
                            path: raw,
                            src: cx.src.clone(),
                            span: entry.span(),
                        },
                        GlobPathError::Empty | GlobPathError::Nul => PipelineError::InvalidPath {
                            what: "input",
                            reason: if e == GlobPathError::Empty {
                                "it names no file".to_string()
                            } else {
                                "it contains a NUL character".to_string()
                            },
                            path: raw,
                            src: cx.src.clone(),
                            span: entry.span(),
                        },
                    });
                    continue;
                }
            };
            if let Err(e) = paths::compile_glob(&glob) {
                self.errors.push(PipelineError::InvalidGlob {
                    glob: raw,
                    reason: e.kind().to_string(),
                    src: cx.src.clone(),
                    span: entry.span(),
                });
                continue;
            }
            let literal = if paths::has_meta(&glob) {
                None
            } else {
                WorkspacePath::new(&glob).ok()
            };
            inputs.push(Spanned {
                value: InputPattern { glob, literal },
                span: cx.span(entry.span()),
            });
        }
        inputs
    }

    /// `outputs "PATH"…`.
    pub(super) fn outputs(&mut self, cx: &Doc, node: &KdlNode) -> Vec<Spanned<WorkspacePath>> {
        let shape = Shape {
            min: 1,
            max: None,
            wants: "file paths",
            example: "outputs \".generated/client.ts\"",
        };
        let mut outputs = Vec::new();
        for entry in self.strings(cx, node, &shape) {
            let Some(raw) = self.string(cx, entry, "an output") else {
                continue;
            };
            match paths::output_path(&raw) {
                Ok(path) => outputs.push(Spanned {
                    value: path,
                    span: cx.span(entry.span()),
                }),
                Err(e) => {
                    let src = cx.src.clone();
                    let span = entry.span();
                    self.errors.push(match e {
                        OutputError::Glob => PipelineError::OutputGlob {
                            path: raw,
                            src,
                            span,
                        },
                        OutputError::Path(PathError::Absolute(_)) => PipelineError::AbsolutePath {
                            what: "output",
                            path: raw,
                            src,
                            span,
                        },
                        OutputError::Path(PathError::Escapes(_)) => PipelineError::EscapingPath {
                            what: "output",
                            path: raw,
                            src,
                            span,
                        },
                        OutputError::Path(other) => PipelineError::InvalidPath {
                            what: "output",
                            path: raw,
                            reason: other.to_string(),
                            src,
                            span,
                        },
                    });
                }
            }
        }
        outputs
    }
}
