//! `cloesce graph`: print the rule graph.

use cloesce_engine::pipeline::Action;

use crate::args::GraphArgs;
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};
use crate::session::Session;

pub fn graph<P: Platform>(
    platform: &P,
    session: &Session<P::Host>,
    args: &GraphArgs,
) -> Result<i32, Exit> {
    let _ = args;
    let mut out = String::new();
    for id in &session.graph.order {
        let rule = &session.pipeline.rules[id.index()];
        let action = match &rule.action {
            Action::Run { argv } => argv.value.join(" "),
            Action::Builtin { name, .. } => format!("builtin {}", name.value),
        };
        out.push_str(&format!("{}: {}\n", rule.name.value, action));
        for dep in &session.graph.deps[id.index()] {
            out.push_str(&format!(
                "  after {}\n",
                session.pipeline.rules[dep.index()].name.value
            ));
        }
    }
    platform.write(Stream::Stdout, &out);
    Ok(exit::SUCCESS)
}
