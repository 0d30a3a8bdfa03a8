//! Lowering one KDL document into rules, env and tools.
//!
//! Each node is checked on its own (names, arguments, properties, value
//! types, paths, globs, built-ins, `${param}` references); problems are pushed
//! to the loader and lowering carries on, so one pass finds them all. This
//! module handles the document and its top-level nodes; [`rule`](super::rule)
//! lowers `rule` nodes, [`syntax`](super::syntax) holds the shared checks of
//! arguments and values, and checks that need every rule at once live in
//! [`check`](super::check).

use std::collections::{BTreeMap, BTreeSet};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use super::error::PipelineError;
use super::load::{Loader, Override, UseSite};
use super::suggest;
use super::syntax::{is_prop, kind, name_of, Doc, Shape};
use super::*;

/// Nodes allowed at the top level of a document.
const TOP_LEVEL: &[&str] = &[
    "cloesce",
    "use",
    "param",
    "env",
    "tool",
    "rule",
    "remote-cache",
];

/// Properties of `remote-cache`.
const REMOTE_CACHE_PROPS: &[&str] = &["url", "team", "token-env", "read-only"];

impl Loader<'_> {
    /// Lowers a parsed document; `site` is the `use` that pulled it in.
    pub(super) fn lower_document(
        &mut self,
        id: SourceId,
        doc: &KdlDocument,
        site: Option<&UseSite>,
    ) {
        let nodes: Vec<&KdlNode> = doc.nodes().iter().collect();
        let cx = self.start_document(id, &nodes, site);
        let mut own_rules = Vec::new();
        for node in doc.nodes() {
            self.lower_node(&cx, node, &mut own_rules);
        }
        self.rules.extend(own_rules);
    }

    /// Checks the header and declares the params of document `id`. `head`
    /// holds its nodes in order; it may leave out `rule` nodes, which play
    /// no part in either (see [`chunked`](super::chunked)).
    pub(super) fn start_document(
        &mut self,
        id: SourceId,
        head: &[&KdlNode],
        site: Option<&UseSite>,
    ) -> Doc {
        let mut cx = Doc {
            id,
            src: self.src(id),
            params: BTreeMap::new(),
            declared: BTreeSet::new(),
        };
        self.header(&cx, head);
        self.params(&mut cx, head, site);
        cx
    }

    /// Lowers one top-level node; the document's rules collect in
    /// `own_rules` (they follow the rules of the libraries it `use`s).
    pub(super) fn lower_node(&mut self, cx: &Doc, node: &KdlNode, own_rules: &mut Vec<Rule>) {
        match name_of(node) {
            "cloesce" | "param" => {}
            "use" => self.use_node(cx, node),
            "env" => {
                for name in self.env_names(cx, node) {
                    if !self.env.iter().any(|e| e.value == name.value) {
                        self.env.push(name);
                    }
                }
            }
            "tool" => {
                if let Some(tool) = self.tool(cx, node) {
                    if !self.tools.contains(&tool) {
                        self.tools.push(tool);
                    }
                }
            }
            "rule" => {
                if let Some(rule) = self.rule(cx, node) {
                    own_rules.push(rule);
                }
            }
            "remote-cache" => {
                if let Some(settings) = self.remote_cache(cx, node) {
                    self.remote_cache = Some(settings);
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

    /// Checks that the first node is `cloesce version=1`.
    pub(super) fn header(&mut self, cx: &Doc, nodes: &[&KdlNode]) {
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
    pub(super) fn params(&mut self, cx: &mut Doc, nodes: &[&KdlNode], site: Option<&UseSite>) {
        let params: Vec<&KdlNode> = nodes
            .iter()
            .copied()
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
    pub(super) fn param_name(&mut self, cx: &Doc, node: &KdlNode) -> Option<String> {
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
    pub(super) fn use_node(&mut self, cx: &Doc, node: &KdlNode) {
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
    pub(super) fn env_names(&mut self, cx: &Doc, node: &KdlNode) -> Vec<Spanned<String>> {
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
    pub(super) fn tool(&mut self, cx: &Doc, node: &KdlNode) -> Option<Tool> {
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
}

impl Loader<'_> {
    /// `remote-cache url="…" team="…" token-env="NAME" read-only=#true`.
    pub(super) fn remote_cache(
        &mut self,
        cx: &Doc,
        node: &KdlNode,
    ) -> Option<crate::remote::RemoteCacheSettings> {
        self.no_block(cx, node);
        let mut allowed = REMOTE_CACHE_PROPS.to_vec();
        // `token=` gets its own message below, not "unknown property".
        allowed.push("token");
        let (args, props) = self.entries(cx, node, &allowed);
        let shape = Shape {
            min: 0,
            max: Some(0),
            wants: "no arguments, only properties",
            example: "remote-cache url=\"https://cache.example.com\" team=\"my-team\" token-env=\"CLOESCE_REMOTE_TOKEN\"",
        };
        self.arity(cx, node, &args, &shape);
        let mut settings = crate::remote::RemoteCacheSettings::default();
        let mut ok = true;
        for prop in &props {
            let Some(key) = prop.name().map(|k| k.value()) else {
                continue;
            };
            match key {
                "token" => {
                    ok = false;
                    self.errors.push(PipelineError::UnknownProperty {
                        node: "remote-cache".to_string(),
                        name: "token".to_string(),
                        src: cx.src.clone(),
                        span: prop.span(),
                        help: "never write a token in cloesce.kdl: put it in an environment variable and name the variable, e.g. `token-env=\"CLOESCE_REMOTE_TOKEN\"` (or set CLOESCE_REMOTE_CACHE_TOKEN)".to_string(),
                    });
                }
                "read-only" => match prop.value() {
                    KdlValue::Bool(b) => settings.read_only = Some(*b),
                    other => {
                        ok = false;
                        self.errors.push(PipelineError::WrongType {
                            what: "`read-only`".to_string(),
                            expected: "a boolean",
                            found: kind(other),
                            src: cx.src.clone(),
                            span: prop.span(),
                            help: "write `read-only=#true` or `read-only=#false`".to_string(),
                        });
                    }
                },
                _ => {
                    let Some(value) = self.string(cx, prop, &format!("`{key}`")) else {
                        ok = false;
                        continue;
                    };
                    match key {
                        "url" => {
                            if !(value.starts_with("http://") || value.starts_with("https://")) {
                                ok = false;
                                self.errors.push(PipelineError::BadArguments {
                                    message: format!("the remote cache URL `{value}` is not an http(s) URL"),
                                    src: cx.src.clone(),
                                    span: prop.span(),
                                    help: "write the server's base URL, such as `url=\"https://cache.example.com\"` (cloesce adds `/v8/artifacts/…`)".to_string(),
                                });
                            }
                            settings.url = Some(value);
                        }
                        "team" => settings.team = Some(value),
                        _ => settings.token_env = Some(value),
                    }
                }
            }
        }
        if settings.url.is_none() && ok {
            self.errors.push(PipelineError::BadArguments {
                message: "`remote-cache` needs a `url`".to_string(),
                src: cx.src.clone(),
                span: node.name().span(),
                help: format!("for example: `{}`", shape.example),
            });
            ok = false;
        }
        ok.then_some(settings)
    }
}

/// The `remote-cache` settings of the user's `cloesce.kdl` (the first source
/// of a loaded pipeline), or `None`. Reads the text again only when it names
/// `remote-cache`; the pipeline it came from was already checked.
pub fn remote_cache_settings(sources: &[SourceFile]) -> Option<crate::remote::RemoteCacheSettings> {
    let user = sources
        .first()
        .filter(|s| s.name != super::DEFAULT_LIBRARY)?;
    if !user.text.contains("remote-cache") {
        return None;
    }
    let doc = KdlDocument::parse_v2(&user.text).ok()?;
    let registry = crate::builtin::BuiltinRegistry::default();
    let options = super::LoadOptions {
        user: None,
        library: &[],
        builtins: &registry,
    };
    let mut loader = Loader::new(&options);
    loader.sources.push(user.clone());
    let cx = Doc {
        id: SourceId(0),
        src: loader.src(SourceId(0)),
        params: BTreeMap::new(),
        declared: BTreeSet::new(),
    };
    let node = doc.nodes().iter().find(|n| name_of(n) == "remote-cache")?;
    loader.remote_cache(&cx, node)
}
