//! Dry runs shared by `explain` and `graph --status`: every rule's decision
//! (fresh, would restore, would run, and why) without running or writing.

use cloesce_engine::build::{Build, BuildOptions, Event, RuleReport};
use cloesce_engine::host::Host;
use cloesce_engine::pipeline::RuleId;

use crate::session::Session;

/// Decides the `targets` (all rules when empty) and what they need, as a
/// dry run, and returns one report per decided rule.
pub fn dry_run<H: Host>(session: &Session<H>, targets: Vec<RuleId>) -> Vec<RuleReport> {
    let host: &dyn Host = &session.project.host;
    let options = BuildOptions {
        targets,
        dry_run: true,
        keep_going: true,
        ..BuildOptions::default()
    };
    let mut build = Build::new(
        host,
        &session.pipeline,
        &session.graph,
        &session.builtins,
        options,
    );
    // A dry run never spawns, so one `poll` decides every rule.
    let _ = build.poll();
    let mut reports = Vec::new();
    while let Some(event) = build.poll_event() {
        if let Event::Finished(report) = event {
            reports.push(report);
        }
    }
    reports
}
