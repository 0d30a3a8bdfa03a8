//! `cloesce graph`: print the rule graph, optionally with each rule's status.

use cloesce_engine::build::RuleStatus;
use cloesce_engine::graph::render::{render, Format};
use cloesce_engine::host::Host;
use cloesce_engine::shown::shown_lines;

use crate::args::{GraphArgs, GraphFormat};
use crate::commands::plan;
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};
use crate::session::Session;

pub fn graph<P: Platform>(
    platform: &P,
    session: &Session<P::Host>,
    args: &GraphArgs,
) -> Result<i32, Exit> {
    let format = match args.format {
        GraphFormat::Text => Format::Text,
        GraphFormat::Dot => Format::Dot,
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Json => Format::Json,
    };
    let status = args.status.then(|| statuses(session));
    let out = render(&session.pipeline, &session.graph, format, status.as_deref());
    // JSON escapes control characters itself (and must stay exact).
    let out = match format {
        Format::Json => out.into(),
        _ => shown_lines(&out),
    };
    platform.write(Stream::Stdout, &out);
    Ok(exit::SUCCESS)
}

/// Each rule's status from a dry run: `fresh`, `will restore (…)`,
/// `will run (…)`, indexed like `Pipeline::rules`.
fn statuses<H: Host>(session: &Session<H>) -> Vec<String> {
    let mut out = vec!["unknown".to_string(); session.pipeline.rules.len()];
    for report in plan::dry_run(session, Vec::new()) {
        let reasons: Vec<String> = report.reasons.iter().map(|r| r.to_string()).collect();
        let word = match report.status {
            RuleStatus::Fresh => "fresh",
            RuleStatus::WouldRestore | RuleStatus::Restored => "will restore",
            RuleStatus::WouldRun | RuleStatus::Ran => "will run",
            RuleStatus::Failed => "cannot check",
        };
        out[report.rule.index()] = if reasons.is_empty() {
            word.to_string()
        } else {
            format!("{word}: {}", reasons.join("; "))
        };
    }
    out
}
