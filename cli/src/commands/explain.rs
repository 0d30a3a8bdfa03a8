//! `cloesce explain RULE`: why a rule would run now, and why it last ran.

use cloesce_engine::build::RuleStatus;
use cloesce_engine::host::Host;
use cloesce_engine::shown::shown_lines;
use cloesce_engine::state::State;

use crate::args::ExplainArgs;
use crate::commands::plan;
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};
use crate::session::Session;

pub fn explain<P: Platform>(
    platform: &P,
    session: &Session<P::Host>,
    args: &ExplainArgs,
) -> Result<i32, Exit> {
    let id = session.rule_id(&args.rule)?;
    let rule = &session.pipeline.rules[id.index()];
    let host: &dyn Host = &session.project.host;
    let decision = plan::dry_run(session, vec![id])
        .into_iter()
        .find(|r| r.rule == id);
    let mut out = format!("rule `{}`", rule.name.value);
    if let Some(d) = &rule.description {
        out.push_str(&format!(" ({d})"));
    }
    out.push('\n');
    match &decision {
        Some(report) => {
            let now = match report.status {
                RuleStatus::Fresh => "is up to date: it would not run".to_string(),
                RuleStatus::WouldRestore | RuleStatus::Restored => {
                    "would be restored from the store without running".to_string()
                }
                RuleStatus::WouldRun | RuleStatus::Ran => "would run".to_string(),
                RuleStatus::Failed => {
                    let why = match &report.failure {
                        Some(cloesce_engine::build::Failure::Io { message }) => message.clone(),
                        Some(cloesce_engine::build::Failure::Tool { name, message }) => {
                            format!("tool {name}: {message}")
                        }
                        _ => "its inputs could not be read".into(),
                    };
                    format!("cannot be checked: {why}")
                }
            };
            out.push_str(&format!("  now: {now}\n"));
            for reason in &report.reasons {
                out.push_str(&format!("    because {reason}\n"));
            }
            if let Some(key) = &report.key {
                out.push_str(&format!("  key: {}\n", key.to_hex()));
            }
        }
        None => {
            out.push_str("  now: cannot be decided: a dependency cannot be checked\n");
        }
    }
    let state = State::load(host);
    match state.rules.get(&rule.name.value) {
        Some(record) => {
            out.push_str("  last successful run:\n");
            if record.reasons.is_empty() {
                out.push_str("    (no reason recorded)\n");
            }
            for reason in &record.reasons {
                out.push_str(&format!("    because {reason}\n"));
            }
            out.push_str(&format!("    key: {}\n", record.key.to_hex()));
        }
        None => out.push_str("  last successful run: none on record\n"),
    }
    platform.write(Stream::Stdout, &shown_lines(&out));
    Ok(exit::SUCCESS)
}
