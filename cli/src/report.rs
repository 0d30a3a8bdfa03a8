//! What `cloesce run` prints while it works: text lines (normal, verbose or
//! quiet) or newline-delimited JSON events (`--json`, schema in docs/cli.md).
//!
//! Each rule's captured stdout/stderr is printed as one block under its line,
//! never interleaved with other rules' output.

use cloesce_engine::build::{Event, Failure, RuleReport, RuleStatus, Summary};
use cloesce_engine::explain::Reason;
use cloesce_engine::pipeline::{Action, Pipeline, Rule};
use cloesce_engine::shown::shown;
use miette::{Diagnostic, LabeledSpan, NamedSource};
use serde_json::json;

use crate::platform::{Platform, Stream};
use crate::render::Renderer;

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Lines of a failing command's output shown (all of them with --verbose).
const TAIL_LINES: usize = 20;

/// Prints build events.
pub struct Reporter<'a, P> {
    pub platform: &'a P,
    pub pipeline: &'a Pipeline,
    pub renderer: Renderer,
    pub verbosity: Verbosity,
    pub json: bool,
    /// Print reasons for every decision (`--explain`).
    pub explain: bool,
    /// The build's start, for relative times.
    pub start_ns: u64,
}

impl<P: Platform> Reporter<'_, P> {
    fn out(&self, text: &str) {
        self.platform.write(Stream::Stdout, text);
    }

    fn err(&self, text: &str) {
        self.platform.write(Stream::Stderr, text);
    }

    fn rule(&self, report: &RuleReport) -> &Rule {
        &self.pipeline.rules[report.rule.index()]
    }

    /// Handles one build event.
    pub fn event(&self, event: Event) {
        match event {
            Event::Started { rule, at_ns } => {
                let rule = &self.pipeline.rules[rule.index()];
                if self.json {
                    self.out(&format!(
                        "{}\n",
                        json!({"event": "started", "rule": rule.name.value, "time_ms": ms(at_ns.saturating_sub(self.start_ns))})
                    ));
                } else if self.verbosity == Verbosity::Verbose {
                    self.out(&format!(
                        "{} {:<10} {}\n",
                        self.renderer.dim("start   "),
                        shown(&rule.name.value),
                        shown(&describe_action(rule))
                    ));
                }
            }
            Event::Finished(report) => {
                if self.json {
                    self.json_finished(&report);
                } else {
                    self.text_finished(report);
                }
            }
        }
    }

    fn json_finished(&self, report: &RuleReport) {
        let rule = self.rule(report);
        let mut value = json!({
            "event": "finished",
            "rule": rule.name.value,
            "status": report.status.as_str(),
            "reasons": report.reasons.iter().map(reason_json).collect::<Vec<_>>(),
            "time_ms": ms(report.finished_ns.saturating_sub(self.start_ns)),
        });
        if let Some(started) = report.started_ns {
            value["duration_ms"] = json!(ms(report.finished_ns.saturating_sub(started)));
        }
        if let Some(key) = &report.key {
            value["key"] = json!(key.to_hex());
        }
        if !report.stdout.is_empty() {
            value["stdout"] = json!(report.stdout);
        }
        if !report.stderr.is_empty() {
            value["stderr"] = json!(report.stderr);
        }
        if let Some(failure) = &report.failure {
            value["error"] = failure_json(failure);
        }
        if !report.changed_during_run.is_empty() {
            value["changed_during_run"] = json!(report.changed_during_run);
        }
        self.out(&format!("{value}\n"));
    }

    fn text_finished(&self, report: RuleReport) {
        let name = shown(&self.rule(&report).name.value).into_owned();
        let verbose = self.verbosity == Verbosity::Verbose;
        let replay = replays_output(&report, self.verbosity);
        let show_line = match report.status {
            RuleStatus::Fresh => verbose || replay,
            RuleStatus::Failed => true,
            _ => self.verbosity != Verbosity::Quiet,
        };
        let duration = report
            .started_ns
            .map(|s| {
                format!(
                    "  {}",
                    self.renderer
                        .dim(&seconds(report.finished_ns.saturating_sub(s)))
                )
            })
            .unwrap_or_default();
        let word = match report.status {
            RuleStatus::Fresh => self.renderer.dim("fresh   "),
            RuleStatus::Restored => self.renderer.good("restored"),
            RuleStatus::Ran => self.renderer.good("ran     "),
            RuleStatus::Failed => self.renderer.error_word("FAILED  "),
            RuleStatus::WouldRun => self.renderer.warn("would run"),
            RuleStatus::WouldRestore => self.renderer.good("would restore"),
        };
        // A failed rule's line, reasons and report all go to stderr.
        let stream = if report.status == RuleStatus::Failed {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        if show_line {
            self.platform
                .write(stream, &format!("{word} {name}{duration}\n"));
        }
        let show_reasons = self.explain
            || verbose
            || matches!(
                report.status,
                RuleStatus::WouldRun | RuleStatus::WouldRestore
            );
        if show_line && show_reasons {
            for reason in &report.reasons {
                self.platform.write(
                    stream,
                    &format!(
                        "         {}\n",
                        self.renderer
                            .dim(&format!("because {}", shown(&reason.to_string())))
                    ),
                );
            }
        }
        if report.status == RuleStatus::Failed {
            self.failure(&report);
            return;
        }
        if !report.changed_during_run.is_empty() {
            self.changed_during_run(&name, &report.changed_during_run);
        }
        if show_line && replay {
            self.block(Stream::Stdout, &report.stdout);
            self.block(Stream::Stderr, &report.stderr);
        }
    }

    /// A rule whose result was not recorded: what changed while it ran.
    fn changed_during_run(&self, name: &str, paths: &[cloesce_engine::WorkspacePath]) {
        let list: Vec<&str> = paths.iter().map(|p| p.as_str()).collect();
        self.err(&format!(
            "{} {} changed while `{}` ran, so its result was not cached\n  help: its outputs may not match the current files; the next `cloesce run` builds it again\n",
            self.renderer.warn("warning:"),
            shown(&list.join(", ")),
            shown(name),
        ));
    }

    /// A rule's captured output, indented under its line (as the command
    /// wrote it, colours included: it is the command's own output).
    fn block(&self, stream: Stream, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut out = String::new();
        for line in text.lines() {
            out.push_str(&format!("  {} {line}\n", self.renderer.dim("│")));
        }
        self.platform.write(stream, &out);
    }

    fn tail(&self, text: &str) -> String {
        let lines: Vec<&str> = text.lines().collect();
        let keep = if self.verbosity == Verbosity::Verbose {
            lines.len()
        } else {
            TAIL_LINES
        };
        let start = lines.len().saturating_sub(keep);
        let mut out = String::new();
        if start > 0 {
            out.push_str(&format!(
                "  {} … {start} earlier lines (all with --verbose)\n",
                self.renderer.dim("│")
            ));
        }
        for line in &lines[start..] {
            out.push_str(&format!("  {} {line}\n", self.renderer.dim("│")));
        }
        out
    }

    fn failure(&self, report: &RuleReport) {
        let rule = self.rule(report);
        let Some(failure) = &report.failure else {
            return;
        };
        if let Failure::Builtin { diagnostics } = failure {
            for d in diagnostics {
                self.err(&self.renderer.diagnostic(d.as_ref()));
            }
            return;
        }
        if !report.stdout.is_empty() {
            self.err(&format!("  stdout:\n{}", self.tail(&report.stdout)));
        }
        if !report.stderr.is_empty() {
            self.err(&format!("  stderr:\n{}", self.tail(&report.stderr)));
        }
        let (message, label, help) = match failure {
            Failure::Process { argv, status } => {
                let help = match status {
                    cloesce_engine::job::ExitStatus::SpawnFailed(why) if why.contains("did you mean") => format!(
                        "the command was `{}`; fix the program's name in this rule's `run` line",
                        shell_words(argv),
                    ),
                    cloesce_engine::job::ExitStatus::SpawnFailed(_) => format!(
                        "the command was `{}`; install the program (e.g. `npm install -D {}`) or fix this rule's `run` line",
                        shell_words(argv),
                        argv.first().map(String::as_str).unwrap_or("")
                    ),
                    _ => format!(
                        "the command was `{}`; run it yourself to investigate, fix the cause, then `cloesce run` again",
                        shell_words(argv)
                    ),
                };
                (format!("rule `{}` failed: {status}", rule.name.value), "this rule's command", help)
            }
            Failure::MissingOutputs { paths } => (
                format!(
                    "rule `{}` succeeded but did not write {}",
                    rule.name.value,
                    paths.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
                ),
                "not written",
                "make the command write every declared output, or remove the ones it does not write from `outputs`".to_string(),
            ),
            Failure::Tool { name, message } => (
                format!("rule `{}` needs tool `{name}`: {message}", rule.name.value),
                "declared here",
                format!("install `{name}` or make it reachable on PATH / in node_modules/.bin"),
            ),
            Failure::Io { message } => (
                format!("rule `{}` could not run: {message}", rule.name.value),
                "this rule",
                "check the file permissions and free disk space, then run again".to_string(),
            ),
            Failure::Builtin { .. } => return,
        };
        // Where to point: the command that failed, each declared output that
        // was not written, the tool's declaration, or else the whole rule.
        let spans: Vec<_> = match (failure, &rule.action) {
            (Failure::Process { .. }, Action::Run { argv }) => vec![argv.span],
            (Failure::MissingOutputs { paths }, _) => rule
                .outputs
                .iter()
                .filter(|o| paths.contains(&o.value))
                .map(|o| o.span)
                .collect(),
            (Failure::Tool { name, .. }, _) => rule
                .tools
                .iter()
                .chain(&self.pipeline.tools)
                .filter(|t| &t.name.value == name)
                .map(|t| t.name.span)
                .take(1)
                .collect(),
            _ => Vec::new(),
        };
        let (spans, label): (Vec<_>, _) = match spans.first() {
            Some(first) => (
                spans
                    .iter()
                    .filter(|s| s.source == first.source)
                    .copied()
                    .collect(),
                label,
            ),
            None => (vec![rule.span], "this rule"),
        };
        let source = self.pipeline.source(spans[0].source);
        let diagnostic = RuleFailed {
            message,
            help,
            src: source.named_source(),
            labels: spans
                .iter()
                .map(|s| LabeledSpan::new_with_span(Some(label.to_string()), s.span))
                .collect(),
        };
        self.err(&self.renderer.diagnostic(&diagnostic));
    }

    /// The closing line.
    pub fn summary(&self, summary: &Summary) {
        if self.json {
            self.out(&format!(
                "{}\n",
                json!({
                    "event": "summary",
                    "success": summary.success(),
                    "ran": summary.ran,
                    "fresh": summary.fresh,
                    "restored": summary.restored,
                    "remote_restored": summary.remote_restored,
                    "uploaded": summary.uploaded,
                    "unrecorded": summary.unrecorded,
                    "failed": summary.failed,
                    "would_run": summary.would_run,
                    "would_restore": summary.would_restore,
                    "not_started": summary.not_started.iter().map(|r| self.pipeline.rules[r.index()].name.value.clone()).collect::<Vec<_>>(),
                    "warned": summary.warned.iter().map(|r| self.pipeline.rules[r.index()].name.value.clone()).collect::<Vec<_>>(),
                    "duration_ms": ms(summary.elapsed_ns),
                })
            ));
            return;
        }
        let line = summary_line(summary);
        if summary.success() {
            if self.verbosity != Verbosity::Quiet {
                self.out(&line);
            }
        } else {
            self.err(&line);
        }
    }
}

/// Whether a rule's captured output is printed under its line (never with
/// `--quiet`): always for a rule that ran. A fresh or restored command's
/// output comes from the store and is shown only with `--verbose`: it is
/// shown once, under the run that produced it. A built-in's log is warnings
/// and notes (`RuleReport::warns`), so it is shown on every run until the
/// rule stops producing it: a warning that still holds never goes silent.
fn replays_output(report: &RuleReport, verbosity: Verbosity) -> bool {
    if verbosity == Verbosity::Quiet {
        return false;
    }
    match report.status {
        RuleStatus::Ran => true,
        RuleStatus::Fresh | RuleStatus::Restored => report.warns || verbosity == Verbosity::Verbose,
        RuleStatus::Failed | RuleStatus::WouldRun | RuleStatus::WouldRestore => false,
    }
}

/// The last line of a run: what happened to the rules, and how long it took.
pub fn summary_line(summary: &Summary) -> String {
    let mut parts = Vec::new();
    for (n, word) in [
        (summary.ran, "ran"),
        (summary.restored, "restored"),
        (summary.fresh, "fresh"),
        (summary.would_run, "would run"),
        (summary.would_restore, "would restore"),
        (summary.failed, "failed"),
        (summary.not_started.len(), "not started"),
    ] {
        if n > 0 && word == "restored" && summary.remote_restored > 0 {
            parts.push(format!("{n} {word} ({} remote)", summary.remote_restored));
        } else if n > 0 && word == "ran" && summary.unrecorded > 0 {
            parts.push(format!("{n} {word} ({} not cached)", summary.unrecorded));
        } else if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    if parts.is_empty() {
        parts.push("no rules".to_string());
    }
    format!(
        "cloesce: {} in {}\n",
        parts.join(", "),
        seconds(summary.elapsed_ns)
    )
}

/// A failing rule, pointing at its definition in the pipeline file.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(cloesce::rule::failed))]
struct RuleFailed {
    message: String,
    #[help]
    help: String,
    #[source_code]
    src: NamedSource<std::sync::Arc<str>>,
    #[label(collection)]
    labels: Vec<LabeledSpan>,
}

fn describe_action(rule: &Rule) -> String {
    match &rule.action {
        Action::Run { argv } => shell_words(&argv.value),
        Action::Builtin { name, .. } => format!("builtin {}", name.value),
    }
}

/// An argv as a user would type it (for messages only; nothing runs a shell).
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn ms(ns: u64) -> u64 {
    ns / 1_000_000
}

fn seconds(ns: u64) -> String {
    let ms = ns / 1_000_000;
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.2}s", ns as f64 / 1e9)
    }
}

/// A reason as JSON: `{"reason": "input_changed", "path": …}`.
pub fn reason_json(reason: &Reason) -> serde_json::Value {
    match serde_json::to_value(reason) {
        Ok(serde_json::Value::String(kind)) => {
            json!({ "reason": kind, "message": reason.to_string() })
        }
        Ok(serde_json::Value::Object(map)) => {
            let (kind, fields) = map.into_iter().next().unwrap_or_default();
            let mut out = json!({ "reason": kind });
            if let serde_json::Value::Object(fields) = fields {
                for (k, v) in fields {
                    out[k] = v;
                }
            }
            out["message"] = json!(reason.to_string());
            out
        }
        _ => json!({ "reason": "unknown", "message": reason.to_string() }),
    }
}

fn failure_json(failure: &Failure) -> serde_json::Value {
    match failure {
        Failure::Process { argv, status } => {
            let mut v = json!({"kind": "process", "argv": argv, "message": status.to_string()});
            match status {
                cloesce_engine::job::ExitStatus::Code(c) => v["exit_code"] = json!(c),
                cloesce_engine::job::ExitStatus::Signal(s) => v["signal"] = json!(s),
                cloesce_engine::job::ExitStatus::SpawnFailed(_) => {}
            }
            v
        }
        Failure::Builtin { diagnostics } => json!({
            "kind": "builtin",
            "diagnostics": diagnostics.iter().map(|d| {
                let plain = Renderer { color: false }.diagnostic(d.as_ref());
                json!({"message": d.to_string(), "code": d.code().map(|c| c.to_string()), "rendered": plain})
            }).collect::<Vec<_>>(),
        }),
        Failure::MissingOutputs { paths } => json!({"kind": "missing_outputs", "paths": paths}),
        Failure::Tool { name, message } => {
            json!({"kind": "tool", "tool": name, "message": message})
        }
        Failure::Io { message } => json!({"kind": "io", "message": message}),
    }
}
