//! Opening a project: finding its root, loading `cloesce.kdl` (or the
//! embedded default pipeline) and building the rule graph.

use cloesce_engine::builtin::BuiltinRegistry;
use cloesce_engine::graph::Graph;
use cloesce_engine::host::Host;
use cloesce_engine::pipeline::{self, LoadOptions, Pipeline, SourceFile};
use cloesce_engine::WorkspacePath;

use crate::exit::Exit;
use crate::platform::{Platform, Project};
use crate::render::Renderer;

/// The name of the pipeline file at the project root.
pub const PIPELINE_FILE: &str = "cloesce.kdl";

/// An opened project with its checked pipeline.
pub struct Session<H> {
    pub project: Project<H>,
    pub pipeline: Pipeline,
    pub graph: Graph,
    pub builtins: BuiltinRegistry,
    /// True when there is no `cloesce.kdl` and the default pipeline runs.
    pub uses_default_file: bool,
}

impl<H: Host> Session<H> {
    /// Opens the project and loads its pipeline, reporting every problem.
    /// With `write_cache`, the checked pipeline is kept in `.cloesce/` so the
    /// next command need not parse it again (read-only commands pass false).
    pub fn open<P: Platform<Host = H>>(
        platform: &P,
        dir: Option<&str>,
        renderer: Renderer,
        write_cache: bool,
    ) -> Result<Session<H>, Exit> {
        let project = platform
            .open_project(dir)
            .map_err(|e| Exit::environment(format!("error: cannot open the project: {e}\n")))?;
        let path = WorkspacePath::new(PIPELINE_FILE).expect("constant path");
        let user = match project.host.read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    Exit::user(format!(
                        "error: {PIPELINE_FILE} is not valid UTF-8\n  help: save it as UTF-8 text\n"
                    ))
                })?;
                Some(SourceFile::new(PIPELINE_FILE, text))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(Exit::environment(format!(
                    "error: cannot read {PIPELINE_FILE}: {e}\n"
                )))
            }
        };
        let uses_default_file = user.is_none();
        let builtins = cloesce_rules::registry();
        let options = LoadOptions {
            user,
            library: cloesce_rules::library(),
            builtins: &builtins,
        };
        let (pipeline, graph) = pipeline::load_cached(&project.host, &options, write_cache)
            .map_err(|errors| Exit::user(renderer.diagnostic(&errors)))?;
        Ok(Session {
            project,
            pipeline,
            graph,
            builtins,
            uses_default_file,
        })
    }
}

impl<H> Session<H> {
    /// The rule called `name`, or a user error with the nearest name and the
    /// list of rules.
    pub fn rule_id(&self, name: &str) -> Result<cloesce_engine::pipeline::RuleId, Exit> {
        if let Some((id, _)) = self.pipeline.rule(name) {
            return Ok(id);
        }
        let all: Vec<&str> = self
            .pipeline
            .rules
            .iter()
            .map(|r| r.name.value.as_str())
            .collect();
        let mut message = format!("error: there is no rule named `{name}`\n");
        if let Some(best) = cloesce_engine::pipeline::did_you_mean(name, all.iter().copied()) {
            message.push_str(&format!("  help: did you mean `{best}`?\n"));
        }
        message.push_str(&format!("  rules: {}\n", all.join(", ")));
        Err(Exit::user(message))
    }
}
