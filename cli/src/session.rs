//! Opening a project: finding its root, loading `cloesce.kdl` (or the
//! embedded default pipeline) and building the rule graph.

use cloesce_engine::builtin::BuiltinRegistry;
use cloesce_engine::fingerprint::Digest;
use cloesce_engine::graph::Graph;
use cloesce_engine::host::Host;
use cloesce_engine::pipeline::{self, LoadOptions, Pipeline, SourceFile};
use cloesce_engine::shown::shown_lines;
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
    /// The pipeline's digest (see [`pipeline::pipeline_key`]).
    pub pipeline_key: Digest,
}

/// An opened project whose pipeline is read but not yet loaded: enough to
/// name the pipeline (its key) without parsing or decoding it.
pub struct Sources<H> {
    pub project: Project<H>,
    /// The user's `cloesce.kdl`, or `None` for the default pipeline.
    pub user: Option<SourceFile>,
    pub builtins: BuiltinRegistry,
    pub pipeline_key: Digest,
}

impl<H: Host> Sources<H> {
    /// Opens the project and reads its `cloesce.kdl`, if any.
    pub fn open<P: Platform<Host = H>>(platform: &P, dir: Option<&str>) -> Result<Self, Exit> {
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
        let builtins = cloesce_rules::registry();
        let pipeline_key = pipeline::pipeline_key(&load_options(user.clone(), &builtins));
        Ok(Sources {
            project,
            user,
            builtins,
            pipeline_key,
        })
    }

    /// Loads and checks the pipeline, reporting every problem. With
    /// `write_cache`, the checked pipeline is kept in `.cloesce/` so the next
    /// command need not parse it again (read-only commands pass false).
    pub fn load(self, renderer: Renderer, write_cache: bool) -> Result<Session<H>, Exit> {
        let ((), session) = self.load_around(renderer, write_cache, |_, load| ((), load()));
        session
    }

    /// [`Sources::load`] while `side(host)` runs beside it (see
    /// [`Platform::alongside`]), e.g. reading the build state.
    pub fn load_alongside<P: Platform<Host = H>, T: Send>(
        self,
        platform: &P,
        renderer: Renderer,
        write_cache: bool,
        side: impl FnOnce(&H) -> T + Send,
    ) -> (T, Result<Session<H>, Exit>) {
        self.load_around(renderer, write_cache, |host, load| {
            platform.alongside(host, side, load)
        })
    }

    /// Loads the pipeline through `around`, which is given the project's
    /// host and the load to run (once) and returns what it computed beside.
    fn load_around<T>(
        self,
        renderer: Renderer,
        write_cache: bool,
        around: impl FnOnce(&H, &mut dyn FnMut() -> Loaded) -> (T, Loaded),
    ) -> (T, Result<Session<H>, Exit>) {
        let uses_default_file = self.user.is_none();
        let options = load_options(self.user, &self.builtins);
        let host = &self.project.host;
        let key = self.pipeline_key;
        let (value, loaded) = around(host, &mut || {
            pipeline::load_cached(host, &options, key, write_cache)
        });
        drop(options);
        let session = loaded
            .map_err(|errors| Exit::user(renderer.diagnostic(&errors)))
            .map(|(pipeline, graph)| Session {
                project: self.project,
                pipeline,
                graph,
                builtins: self.builtins,
                uses_default_file,
                pipeline_key: key,
            });
        (value, session)
    }
}

/// What loading a pipeline gives.
type Loaded = Result<(Pipeline, Graph), pipeline::PipelineErrors>;

fn load_options(user: Option<SourceFile>, builtins: &BuiltinRegistry) -> LoadOptions<'_> {
    LoadOptions {
        user,
        library: cloesce_rules::library(),
        builtins,
    }
}

impl<H: Host> Session<H> {
    /// Opens the project and loads its pipeline (see [`Sources`]).
    pub fn open<P: Platform<Host = H>>(
        platform: &P,
        dir: Option<&str>,
        renderer: Renderer,
        write_cache: bool,
    ) -> Result<Session<H>, Exit> {
        Sources::open(platform, dir)?.load(renderer, write_cache)
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
        Err(Exit::user(shown_lines(&message)))
    }
}
