//! Rendering a pipeline and its graph for `cloesce graph`.
//!
//! Four formats: `text` (a readable list in run order), `dot` (Graphviz),
//! `mermaid` (`flowchart TD`, for Markdown) and `json` (a stable schema,
//! documented in `docs/graph-json.md`). Each can carry a per-rule status
//! (for `graph --status`: "fresh", "will run: input changed", …). Output is
//! deterministic: the same pipeline always renders to the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

use serde::Serialize;

use super::{Edge, EdgeCause, Graph};
use crate::pipeline::{Action, Pipeline, Rule, RuleId};

/// An output format of `cloesce graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Dot,
    Mermaid,
    Json,
}

impl Format {
    /// Every format with its name, for `--format` help and completion.
    pub const ALL: [(&'static str, Format); 4] = [
        ("text", Format::Text),
        ("dot", Format::Dot),
        ("mermaid", Format::Mermaid),
        ("json", Format::Json),
    ];
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Dot => "dot",
            Format::Mermaid => "mermaid",
            Format::Json => "json",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                format!("unknown graph format `{s}`; expected text, dot, mermaid or json")
            })
    }
}

/// The schema version of the JSON rendering.
pub const JSON_VERSION: u32 = 1;

/// Renders `pipeline` and `graph` in `format`. `status`, when given, holds one
/// entry per rule (indexed like [`Pipeline::rules`]) shown beside it.
pub fn render(
    pipeline: &Pipeline,
    graph: &Graph,
    format: Format,
    status: Option<&[String]>,
) -> String {
    let view = View {
        pipeline,
        graph,
        status,
    };
    match format {
        Format::Text => view.text(),
        Format::Dot => view.dot(),
        Format::Mermaid => view.mermaid(),
        Format::Json => view.json(),
    }
}

struct View<'a> {
    pipeline: &'a Pipeline,
    graph: &'a Graph,
    status: Option<&'a [String]>,
}

impl<'a> View<'a> {
    fn rule(&self, id: RuleId) -> Option<&'a Rule> {
        self.pipeline.rules.get(id.index())
    }

    fn name(&self, id: RuleId) -> &'a str {
        self.rule(id).map(|r| r.name.value.as_str()).unwrap_or("?")
    }

    fn status(&self, id: RuleId) -> Option<&'a str> {
        self.status
            .and_then(|s| s.get(id.index()))
            .map(String::as_str)
    }

    /// The edges between each (from, to) pair, pairs in edge order.
    fn pairs(&self) -> Vec<((RuleId, RuleId), Vec<&'a Edge>)> {
        let mut pairs: Vec<((RuleId, RuleId), Vec<&'a Edge>)> = Vec::new();
        for edge in &self.graph.edges {
            match pairs
                .iter_mut()
                .find(|(key, _)| *key == (edge.from, edge.to))
            {
                Some((_, list)) => list.push(edge),
                None => pairs.push(((edge.from, edge.to), vec![edge])),
            }
        }
        pairs.sort_by_key(|(key, _)| (key.1, key.0));
        pairs
    }

    // ----- text -----

    fn text(&self) -> String {
        let mut out = String::new();
        let p = self.pipeline;
        if !p.env.is_empty() {
            let names: Vec<&str> = p.env.iter().map(|e| e.value.as_str()).collect();
            let _ = writeln!(out, "env (every rule): {}", names.join(" "));
        }
        for tool in &p.tools {
            let _ = writeln!(
                out,
                "tool (every rule): {} ({})",
                tool.name.value,
                argv_text(&tool.version_argv)
            );
        }
        if !out.is_empty() {
            out.push('\n');
        }
        for (n, &id) in self.graph.order.iter().enumerate() {
            let Some(rule) = self.rule(id) else { continue };
            if n > 0 {
                out.push('\n');
            }
            match self.status(id) {
                Some(status) => {
                    let _ = writeln!(out, "{}  [{status}]", rule.name.value);
                }
                None => {
                    let _ = writeln!(out, "{}", rule.name.value);
                }
            }
            if let Some(description) = &rule.description {
                field(&mut out, "about", description);
            }
            match &rule.action {
                Action::Builtin { name, settings } => {
                    let mut line = name.value.clone();
                    for (key, value) in settings {
                        let _ = write!(line, " {key}={value:?}");
                    }
                    field(&mut out, "builtin", &line);
                }
                Action::Run { argv } => field(&mut out, "run", &argv_text(&argv.value)),
            }
            for (i, input) in rule.inputs.iter().enumerate() {
                field(
                    &mut out,
                    if i == 0 { "inputs" } else { "" },
                    &input.value.glob,
                );
            }
            for (i, output) in rule.outputs.iter().enumerate() {
                field(
                    &mut out,
                    if i == 0 { "outputs" } else { "" },
                    output.value.as_str(),
                );
            }
            let deps = self
                .graph
                .deps
                .get(id.index())
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (i, &dep) in deps.iter().enumerate() {
                let why: Vec<String> = self
                    .graph
                    .causes(dep, id)
                    .map(|e| match &e.cause {
                        EdgeCause::Explicit { .. } => "deps".to_string(),
                        EdgeCause::Inferred { output, .. } => format!("reads {output}"),
                    })
                    .collect();
                let line = format!("{} ({})", self.name(dep), why.join(", "));
                field(&mut out, if i == 0 { "after" } else { "" }, &line);
            }
            if !rule.env.is_empty() {
                let names: Vec<&str> = rule.env.iter().map(|e| e.value.as_str()).collect();
                field(&mut out, "env", &names.join(" "));
            }
            for (i, tool) in rule.tools.iter().enumerate() {
                let line = format!("{} ({})", tool.name.value, argv_text(&tool.version_argv));
                field(&mut out, if i == 0 { "tools" } else { "" }, &line);
            }
            if !rule.cache {
                field(&mut out, "cache", "off: always runs");
            }
        }
        out
    }

    // ----- dot -----

    fn dot(&self) -> String {
        let mut out = String::from("digraph cloesce {\n  rankdir=TB;\n  node [shape=box];\n");
        for &id in &self.graph.order {
            let Some(rule) = self.rule(id) else { continue };
            let mut label = format!("{}\n{}", rule.name.value, action_text(rule));
            if let Some(status) = self.status(id) {
                let _ = write!(label, "\n[{status}]");
            }
            let _ = writeln!(
                out,
                "  {} [label={}];",
                dot_quote(&rule.name.value),
                dot_quote(&label)
            );
        }
        for ((from, to), causes) in self.pairs() {
            let explicit = causes
                .iter()
                .any(|e| matches!(e.cause, EdgeCause::Explicit { .. }));
            let (from, to) = (dot_quote(self.name(from)), dot_quote(self.name(to)));
            if explicit {
                let _ = writeln!(out, "  {from} -> {to};");
            } else {
                let via = causes
                    .iter()
                    .find_map(|e| match &e.cause {
                        EdgeCause::Inferred { output, .. } => Some(output.as_str()),
                        EdgeCause::Explicit { .. } => None,
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {from} -> {to} [style=dashed, label={}];",
                    dot_quote(via)
                );
            }
        }
        out.push_str("}\n");
        out
    }

    // ----- mermaid -----

    fn mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        for &id in &self.graph.order {
            let Some(rule) = self.rule(id) else { continue };
            let mut label = format!(
                "{}<br/>{}",
                mermaid_escape(&rule.name.value),
                mermaid_escape(&action_text(rule))
            );
            if let Some(status) = self.status(id) {
                let _ = write!(label, "<br/>[{}]", mermaid_escape(status));
            }
            let _ = writeln!(out, "  r{}[\"{label}\"]", id.0);
        }
        for ((from, to), causes) in self.pairs() {
            let explicit = causes
                .iter()
                .any(|e| matches!(e.cause, EdgeCause::Explicit { .. }));
            let arrow = if explicit { "-->" } else { "-.->" };
            let _ = writeln!(out, "  r{} {arrow} r{}", from.0, to.0);
        }
        out
    }

    // ----- json -----

    fn json(&self) -> String {
        let p = self.pipeline;
        let rules = p
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let id = RuleId(i as u32);
                let (kind, builtin, settings, argv) = match &rule.action {
                    Action::Builtin { name, settings } => {
                        ("builtin", Some(name.value.as_str()), Some(settings), None)
                    }
                    Action::Run { argv } => ("run", None, None, Some(argv.value.as_slice())),
                };
                JsonRule {
                    name: &rule.name.value,
                    description: rule.description.as_deref(),
                    kind,
                    builtin,
                    settings,
                    argv,
                    inputs: rule.inputs.iter().map(|i| i.value.glob.as_str()).collect(),
                    outputs: rule.outputs.iter().map(|o| o.value.as_str()).collect(),
                    deps: self
                        .graph
                        .deps
                        .get(i)
                        .into_iter()
                        .flatten()
                        .map(|&d| self.name(d))
                        .collect(),
                    env: rule.env.iter().map(|e| e.value.as_str()).collect(),
                    tools: rule.tools.iter().map(json_tool).collect(),
                    cache: rule.cache,
                    status: self.status(id),
                }
            })
            .collect();
        let edges = self
            .graph
            .edges
            .iter()
            .map(|edge| {
                let (cause, via, input) = match &edge.cause {
                    EdgeCause::Explicit { .. } => ("explicit", None, None),
                    EdgeCause::Inferred { input, output } => {
                        let glob = p
                            .rules
                            .get(edge.to.index())
                            .and_then(|r| r.inputs.iter().find(|i| i.span == *input))
                            .map(|i| i.value.glob.as_str());
                        ("inferred", Some(output.as_str()), glob)
                    }
                };
                JsonEdge {
                    from: self.name(edge.from),
                    to: self.name(edge.to),
                    cause,
                    via,
                    input,
                }
            })
            .collect();
        let doc = JsonGraph {
            version: JSON_VERSION,
            env: p.env.iter().map(|e| e.value.as_str()).collect(),
            tools: p.tools.iter().map(json_tool).collect(),
            rules,
            edges,
            order: self.graph.order.iter().map(|&id| self.name(id)).collect(),
        };
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_string());
        text.push('\n');
        text
    }
}

/// The JSON document (see `docs/graph-json.md`).
#[derive(Serialize)]
struct JsonGraph<'a> {
    version: u32,
    env: Vec<&'a str>,
    tools: Vec<JsonTool<'a>>,
    rules: Vec<JsonRule<'a>>,
    edges: Vec<JsonEdge<'a>>,
    order: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonRule<'a> {
    name: &'a str,
    description: Option<&'a str>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    builtin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    argv: Option<&'a [String]>,
    inputs: Vec<&'a str>,
    outputs: Vec<&'a str>,
    deps: Vec<&'a str>,
    env: Vec<&'a str>,
    tools: Vec<JsonTool<'a>>,
    cache: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonTool<'a> {
    name: &'a str,
    version: &'a [String],
}

#[derive(Serialize)]
struct JsonEdge<'a> {
    from: &'a str,
    to: &'a str,
    cause: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
}

fn json_tool(tool: &crate::pipeline::Tool) -> JsonTool<'_> {
    JsonTool {
        name: &tool.name.value,
        version: &tool.version_argv,
    }
}

/// One `  key      value` line of the text rendering.
fn field(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "  {key:<8} {value}");
}

/// An argv as a shell-like line, quoting only the arguments that need it.
fn argv_text(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
            {
                format!("{a:?}")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// "builtin cloesce/extract" or "run tsc --noEmit".
fn action_text(rule: &Rule) -> String {
    match &rule.action {
        Action::Builtin { name, .. } => format!("builtin {}", name.value),
        Action::Run { argv } => format!("run {}", argv_text(&argv.value)),
    }
}

/// A DOT double-quoted string.
fn dot_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a Mermaid `["…"]` label (entity codes for markup).
fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
