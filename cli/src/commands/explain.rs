//! `cloesce explain RULE`: why a rule would run now, and why it last ran.

use cloesce_engine::build::{Build, BuildOptions, Event, RuleStatus};
use cloesce_engine::host::Host;
use cloesce_engine::state::State;

use crate::args::ExplainArgs;
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};
use crate::session::Session;

pub fn explain<P: Platform>(
    platform: &P,
    session: &Session<P::Host>,
    args: &ExplainArgs,
) -> Result<i32, Exit> {
    let Some((id, rule)) = session.pipeline.rule(&args.rule) else {
        let names: Vec<&str> = session
            .pipeline
            .rules
            .iter()
            .map(|r| r.name.value.as_str())
            .collect();
        return Err(Exit::user(format!(
            "error: there is no rule named `{}`\n  rules: {}\n",
            args.rule,
            names.join(", ")
        )));
    };
    let host: &dyn Host = &session.project.host;
    let options = BuildOptions {
        targets: vec![id],
        dry_run: true,
        ..BuildOptions::default()
    };
    let mut build = Build::new(
        host,
        &session.pipeline,
        &session.graph,
        &session.builtins,
        options,
    );
    // A dry run decides every rule inside one `poll`: it never spawns.
    let _ = build.poll();
    let mut decision = None;
    while let Some(event) = build.poll_event() {
        if let Event::Finished(report) = event {
            if report.rule == id {
                decision = Some(report);
            }
        }
    }
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
    platform.write(Stream::Stdout, &out);
    Ok(exit::SUCCESS)
}
