//! Lowering one KDL document into rules, env and tools.
//!
//! Each node is checked on its own here (names, arguments, properties, value
//! types, paths, globs, built-ins, `${param}` references); problems are pushed
//! to the loader and lowering carries on, so one pass finds them all. Checks
//! that need every rule at once live in [`check`](super::check).

use std::collections::{BTreeMap, BTreeSet};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use super::error::{PipelineError, Src};
use super::load::{Loader, Override, UseSite};
use super::paths::{self, GlobPathError, OutputError};
use super::*;
use super::{params, suggest};
use crate::path::PathError;

/// Nodes allowed at the top level of a document.
const TOP_LEVEL: &[&str] = &["cloesce", "use", "param", "env", "tool", "rule"];
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

/// The document being lowered and its resolved params.
struct Doc {
    id: SourceId,
    src: Src,
    /// Params resolved so far, by name.
    params: BTreeMap<String, String>,
    /// Every param the document declares (to say "declared later").
    declared: BTreeSet<String>,
}

impl Doc {
    fn span(&self, span: SourceSpan) -> Span {
        Span {
            source: self.id,
            span,
        }
    }
}

/// What a node's arguments must look like, for arity errors.
struct Shape {
    min: usize,
    max: Option<usize>,
    /// "one string: the rule's name".
    wants: &'static str,
    /// An example line for the help.
    example: &'static str,
}

/// The KDL type of a value, as an error says it.
fn kind(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

fn name_of(node: &KdlNode) -> &str {
    node.name().value()
}

impl Loader<'_> {
    /// Lowers a parsed document; `site` is the `use` that pulled it in.
    pub(super) fn lower_document(
        &mut self,
        id: SourceId,
        doc: &KdlDocument,
        site: Option<UseSite>,
    ) {
        let mut cx = Doc {
            id,
            src: self.src(id),
            params: BTreeMap::new(),
            declared: BTreeSet::new(),
        };
        self.header(&cx, doc);
        self.params(&mut cx, doc, site);

        let mut own_rules = Vec::new();
        for node in doc.nodes() {
            match name_of(node) {
                "cloesce" | "param" => {}
                "use" => self.use_node(&cx, node),
                "env" => {
                    for name in self.env_names(&cx, node) {
                        if !self.env.iter().any(|e| e.value == name.value) {
                            self.env.push(name);
                        }
                    }
                }
                "tool" => {
                    if let Some(tool) = self.tool(&cx, node) {
                        if !self.tools.contains(&tool) {
                            self.tools.push(tool);
                        }
                    }
                }
                "rule" => {
                    if let Some(rule) = self.rule(&cx, node) {
                        own_rules.push(rule);
                    }
                }
                other => self.errors.push(PipelineError::UnknownNode {
                    name: other.to_string(),
                    context: "at the top level".to_string(),
                    src: cx.src.clone(),
                    span: node.name().span(),
                    help: suggest::help(other, TOP_LEVEL),
                }),
            }
        }
        self.rules.extend(own_rules);
    }

    /// Checks that the first node is `cloesce version=1`.
    fn header(&mut self, cx: &Doc, doc: &KdlDocument) {
        let nodes = doc.nodes();
        for node in nodes.iter().skip(1) {
            if name_of(node) == "cloesce" {
                self.errors.push(PipelineError::HeaderNotFirst {
                    src: cx.src.clone(),
                    span: node.name().span(),
                });
            }
        }
        let Some(first) = nodes.first() else {
            self.errors.push(PipelineError::MissingVersion {
                src: cx.src.clone(),
                span: None,
            });
            return;
        };
        if name_of(first) != "cloesce" {
            if !nodes.iter().any(|n| name_of(n) == "cloesce") {
                self.errors.push(PipelineError::MissingVersion {
                    src: cx.src.clone(),
                    span: Some(first.name().span()),
                });
            }
            return;
        }
        self.no_block(cx, first);
        let shape = Shape {
            min: 0,
            max: Some(0),
            wants: "no arguments",
            example: "cloesce version=1",
        };
        let (args, props) = self.entries(cx, first, &["version"]);
        self.arity(cx, first, &args, &shape);
        match props.iter().rev().find(|p| is_prop(p, "version")) {
            None => self.errors.push(PipelineError::MissingVersion {
                src: cx.src.clone(),
                span: Some(first.span()),
            }),
            Some(entry) => match entry.value() {
                KdlValue::Integer(v) if *v == i128::from(FORMAT_VERSION) => {}
                KdlValue::Integer(v) => self.errors.push(PipelineError::UnsupportedVersion {
                    version: v.to_string(),
                    src: cx.src.clone(),
                    span: entry.span(),
                }),
                other => self.errors.push(PipelineError::WrongType {
                    what: "`version`".to_string(),
                    expected: "an integer",
                    found: kind(other),
                    src: cx.src.clone(),
                    span: entry.span(),
                    help: "write `cloesce version=1` (no quotes)".to_string(),
                }),
            },
        }
    }

    /// Declares the document's params in order, applying the `use` site's
    /// overrides; a default may refer to params declared before it.
    fn params(&mut self, cx: &mut Doc, doc: &KdlDocument, site: Option<UseSite>) {
        let params: Vec<&KdlNode> = doc
            .nodes()
            .iter()
            .filter(|n| name_of(n) == "param")
            .collect();
        let mut first_span: BTreeMap<String, SourceSpan> = BTreeMap::new();
        let mut names = Vec::new();
        for node in &params {
            let name = self.param_name(cx, node);
            if let Some(name) = &name {
                cx.declared.insert(name.clone());
            }
            names.push(name);
        }
        let overrides: BTreeMap<&str, &Override> = site
            .as_ref()
            .map(|s| s.overrides.iter().map(|o| (o.name.as_str(), o)).collect())
            .unwrap_or_default();

        for (node, name) in params.iter().zip(names) {
            self.no_block(cx, node);
            let (_, props) = self.entries(cx, node, &["default"]);
            let default = props.iter().rev().find(|p| is_prop(p, "default")).copied();
            let Some(name) = name else { continue };
            if let Some(first) = first_span.get(&name) {
                self.errors.push(PipelineError::DuplicateParam {
                    name: name.clone(),
                    src: cx.src.clone(),
                    span: node.span(),
                    first: *first,
                });
                continue;
            }
            first_span.insert(name.clone(), node.span());
            let value = match (overrides.get(name.as_str()), default) {
                (Some(o), _) => Some(o.value.clone()),
                (None, Some(entry)) => self.string(cx, entry, "`default`"),
                (None, None) => {
                    self.errors.push(PipelineError::BadArguments {
                        message: format!("param `{name}` has no default"),
                        src: cx.src.clone(),
                        span: node.span(),
                        help: format!("write `param \"{name}\" default=\"VALUE\"`"),
                    });
                    None
                }
            };
            // A broken default still declares the name, so uses of it are not
            // reported a second time as unknown.
            cx.params.insert(name, value.unwrap_or_default());
        }

        if let Some(site) = site {
            let known: Vec<&str> = first_span.keys().map(String::as_str).collect();
            let src = self.src(site.from);
            for o in &site.overrides {
                if !first_span.contains_key(&o.name) {
                    let help = if known.is_empty() {
                        format!("`{}` declares no params", site.library)
                    } else {
                        suggest::help(&o.name, &known)
                    };
                    self.errors.push(PipelineError::UnknownParam {
                        library: site.library.clone(),
                        name: o.name.clone(),
                        src: src.clone(),
                        span: o.span,
                        help,
                    });
                }
            }
        }
    }

    /// The name of a `param` node: one plain string, usable in `${…}`.
    fn param_name(&mut self, cx: &Doc, node: &KdlNode) -> Option<String> {
        let shape = Shape {
            min: 1,
            max: Some(1),
            wants: "one string, the param's name",
            example: "param \"generated\" default=\".generated\"",
        };
        let args: Vec<&KdlEntry> = node
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .collect();
        self.arity(cx, node, &args, &shape);
        let entry = args.first()?;
        let KdlValue::String(name) = entry.value() else {
            self.wrong_type(
                cx,
                entry,
                "a param name",
                "a string",
                "write the name in quotes",
            );
            return None;
        };
        if name.is_empty() || name.contains(['$', '{', '}']) {
            self.errors.push(PipelineError::InvalidName {
                what: "param",
                name: name.clone(),
                reason: "it is empty or holds `$`, `{` or `}`",
                fix: "use letters, digits, `_` and `-`, such as `generated`",
                src: cx.src.clone(),
                span: entry.span(),
            });
            return None;
        }
        Some(name.clone())
    }

    /// `use "NAME" { key "value" … }`: reads the library with those params.
    fn use_node(&mut self, cx: &Doc, node: &KdlNode) {
        let shape = Shape {
            min: 1,
            max: Some(1),
            wants: "one string, the library's name",
            example: "use \"cloesce:default\"",
        };
        let (args, _) = self.entries(cx, node, &[]);
        self.arity(cx, node, &args, &shape);

        let mut overrides: Vec<Override> = Vec::new();
        for child in node.children().map(|c| c.nodes()).unwrap_or_default() {
            self.no_block(cx, child);
            let (values, _) = self.entries(cx, child, &[]);
            let shape = Shape {
                min: 1,
                max: Some(1),
                wants: "one string, the param's value",
                example: "generated \".generated\"",
            };
            self.arity(cx, child, &values, &shape);
            let name = name_of(child).to_string();
            if let Some(first) = overrides.iter().find(|o| o.name == name) {
                self.errors.push(PipelineError::DuplicateField {
                    node: name,
                    context: "this `use` block".to_string(),
                    src: cx.src.clone(),
                    span: child.name().span(),
                    first: first.span,
                });
                continue;
            }
            let value = values
                .first()
                .and_then(|v| self.string(cx, v, &format!("param `{name}`")));
            if let Some(value) = value {
                overrides.push(Override {
                    name,
                    span: child.name().span(),
                    value,
                });
            }
        }

        let Some(entry) = args.first() else { return };
        let KdlValue::String(library) = entry.value() else {
            self.wrong_type(
                cx,
                entry,
                "a library name",
                "a string",
                "write `use \"cloesce:default\"`",
            );
            return;
        };
        let here = cx.span(entry.span());
        if let Some((_, first)) = self.used.iter().find(|(name, _)| name == library) {
            let first = (first.source == cx.id).then_some(first.span);
            self.errors.push(PipelineError::DuplicateUse {
                name: library.clone(),
                src: cx.src.clone(),
                span: entry.span(),
                first,
            });
            return;
        }
        let Some((name, text)) = self.options.library.iter().find(|(n, _)| n == library) else {
            let names: Vec<&str> = self.options.library.iter().map(|(n, _)| *n).collect();
            self.errors.push(PipelineError::UnknownLibrary {
                name: library.clone(),
                src: cx.src.clone(),
                span: entry.span(),
                help: suggest::help(library, &names),
            });
            return;
        };
        self.used.push((library.clone(), here));
        let site = UseSite {
            library: library.clone(),
            from: cx.id,
            overrides,
        };
        self.document(SourceFile::new(*name, *text), Some(site));
    }

    /// `env "NAME"…` (top level or in a rule).
    fn env_names(&mut self, cx: &Doc, node: &KdlNode) -> Vec<Spanned<String>> {
        self.no_block(cx, node);
        let (args, _) = self.entries(cx, node, &[]);
        let shape = Shape {
            min: 1,
            max: None,
            wants: "environment variable names",
            example: "env \"NODE_ENV\" \"CI\"",
        };
        self.arity(cx, node, &args, &shape);
        let mut names = Vec::new();
        for entry in args {
            let Some(name) = self.string(cx, entry, "an environment variable name") else {
                continue;
            };
            if name.is_empty() || name.contains(['=', '\0']) {
                self.errors.push(PipelineError::InvalidName {
                    what: "environment variable",
                    name,
                    reason: "it is empty or holds `=`",
                    fix: "write only the variable's name, such as `NODE_ENV`; its value comes from the environment",
                    src: cx.src.clone(),
                    span: entry.span(),
                });
                continue;
            }
            names.push(Spanned {
                value: name,
                span: cx.span(entry.span()),
            });
        }
        names
    }

    /// `tool "NAME" [version="CMD ARGS"]` (top level or in a rule).
    fn tool(&mut self, cx: &Doc, node: &KdlNode) -> Option<Tool> {
        self.no_block(cx, node);
        let (args, props) = self.entries(cx, node, &["version"]);
        let shape = Shape {
            min: 1,
            max: Some(1),
            wants: "one string, the tool's name",
            example: "tool \"node\" version=\"node --version\"",
        };
        self.arity(cx, node, &args, &shape);
        let entry = args.first()?;
        let name = self.string(cx, entry, "a tool name")?;
        let version_argv = match props.iter().rev().find(|p| is_prop(p, "version")) {
            None => vec![name.clone(), "--version".to_string()],
            Some(version) => {
                let command = self.string(cx, version, "`version`")?;
                let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
                if argv.is_empty() {
                    self.errors.push(PipelineError::BadArguments {
                        message: format!("the version command of tool `{name}` is empty"),
                        src: cx.src.clone(),
                        span: version.span(),
                        help: format!("write the command that prints its version, such as `version=\"{name} --version\"`, or leave `version` out"),
                    });
                    return None;
                }
                argv
            }
        };
        Some(Tool {
            name: Spanned {
                value: name,
                span: cx.span(entry.span()),
            },
            version_argv,
        })
    }

    /// `rule "NAME" { … }`.
    fn rule(&mut self, cx: &Doc, node: &KdlNode) -> Option<Rule> {
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
    fn builtin(&mut self, cx: &Doc, node: &KdlNode) -> Option<Action> {
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
    fn run(&mut self, cx: &Doc, node: &KdlNode, rule: &str) -> Option<Action> {
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
        for entry in args {
            match self.string(cx, entry, "a `run` argument") {
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
    fn inputs(&mut self, cx: &Doc, node: &KdlNode) -> Vec<Spanned<InputPattern>> {
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
    fn outputs(&mut self, cx: &Doc, node: &KdlNode) -> Vec<Spanned<WorkspacePath>> {
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

    // ----- small helpers -----

    /// A node whose arguments are a list of strings and which takes no
    /// properties or block: returns its arguments.
    fn strings<'n>(&mut self, cx: &Doc, node: &'n KdlNode, shape: &Shape) -> Vec<&'n KdlEntry> {
        self.no_block(cx, node);
        let (args, _) = self.entries(cx, node, &[]);
        self.arity(cx, node, &args, shape);
        args
    }

    /// Splits a node's entries into arguments and properties, reporting every
    /// property not in `allowed`.
    fn entries<'n>(
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
    fn arity(&mut self, cx: &Doc, node: &KdlNode, args: &[&KdlEntry], shape: &Shape) {
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
    fn no_block(&mut self, cx: &Doc, node: &KdlNode) {
        if let Some(children) = node.children() {
            self.errors.push(PipelineError::UnexpectedBlock {
                node: name_of(node).to_string(),
                src: cx.src.clone(),
                span: children.span(),
            });
        }
    }

    /// A string value with its `${param}` references substituted.
    fn string(&mut self, cx: &Doc, entry: &KdlEntry, what: &str) -> Option<String> {
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

    fn wrong_type(
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
    fn substitute(&mut self, cx: &Doc, text: &str, span: SourceSpan) -> Option<String> {
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

fn is_prop(entry: &KdlEntry, key: &str) -> bool {
    entry.name().is_some_and(|n| n.value() == key)
}

/// A scalar as the user would write it inside quotes.
fn value_text(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => s.clone(),
        KdlValue::Integer(i) => i.to_string(),
        KdlValue::Float(f) => f.to_string(),
        KdlValue::Bool(b) => b.to_string(),
        KdlValue::Null => "null".to_string(),
    }
}
