//! # cloesce (CLI)
//!
//! The `cloesce` command-line application, shared by the native binary
//! (`src/main.rs`) and the npm package (compiled to WebAssembly by
//! `npm-wrapper/`). [`main`] takes the arguments and a [`Platform`] and
//! returns the exit code; everything platform-specific is behind the trait,
//! so both front ends print the same bytes and exit with the same codes.

pub mod args;
pub mod commands;
pub mod exit;
pub mod fast_args;
pub mod platform;
pub mod progress;
pub mod render;
pub mod report;
pub mod session;

#[cfg(feature = "native")]
pub mod native;

use std::future::Future;
use std::pin::Pin;

use clap::Parser;

pub use platform::{Platform, Project, Stream};

/// Where a user finds the docs that messages and `--help` cite: the npm
/// package ships `docs/` (scripts/build-npm.sh copies it in). In a checkout
/// the same pages are under `docs/`.
pub const DOCS: &str = "node_modules/cloesce/docs";

use crate::args::{Cli, ColorChoice, Command};
use crate::exit::Exit;
use crate::render::Renderer;
use crate::session::Session;

/// Runs the CLI with `args` (including the program name) and returns the
/// process exit code.
pub async fn main<P: Platform>(args: Vec<String>, platform: &P) -> i32 {
    // A plain `run` skips clap, whose parser would otherwise be compiled
    // (under Node) on every start; see fast_args.rs.
    let parsed = match fast_args::parse(&args) {
        Some(cli) => Ok(cli),
        None => parse_with_clap(&args),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            let color =
                platform.is_terminal(Stream::Stderr) && platform.env_var("NO_COLOR").is_none();
            let text = if color {
                error.render().ansi().to_string()
            } else {
                error.render().to_string()
            };
            return if error.use_stderr() {
                platform.write(Stream::Stderr, &text);
                exit::USER_ERROR
            } else {
                platform.write(Stream::Stdout, &text);
                exit::SUCCESS
            };
        }
    };
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            platform.is_terminal(Stream::Stderr) && platform.env_var("NO_COLOR").is_none()
        }
    };
    let renderer = Renderer { color };
    match dispatch(&cli, platform, renderer).await {
        Ok(code) => code,
        Err(Exit { code, message }) => {
            platform.write(Stream::Stderr, &message);
            code
        }
    }
}

/// clap's parse, in its own function: under Node a WebAssembly function is
/// compiled on its first call, so a run that took the fast path never
/// compiles clap's parser.
#[inline(never)]
fn parse_with_clap(args: &[String]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(args)
}

/// A command's future, boxed behind `dyn`: under Node, V8 compiles each
/// WebAssembly function the first time it runs, and without the box every
/// command's code is inlined into one huge function that even `--version`
/// compiled. Behind the vtable each command is its own function, compiled
/// only when that command runs.
type CommandFuture<'a> = Pin<Box<dyn Future<Output = Result<i32, Exit>> + 'a>>;

async fn dispatch<P: Platform>(cli: &Cli, platform: &P, renderer: Renderer) -> Result<i32, Exit> {
    command_future(cli, platform, renderer).await
}

fn command_future<'a, P: Platform>(
    cli: &'a Cli,
    platform: &'a P,
    renderer: Renderer,
) -> CommandFuture<'a> {
    let dir = cli.directory.as_deref();
    match &cli.command {
        Command::Cache(command) => Box::pin(async move {
            let project = platform
                .open_project(dir)
                .map_err(|e| Exit::environment(format!("error: cannot open the project: {e}\n")))?;
            commands::cache::cache(platform, &project.host, command).await
        }),
        Command::Doctor => {
            Box::pin(async move { commands::doctor::doctor(platform, dir, renderer) })
        }
        Command::Init => Box::pin(async move { commands::init::init(platform, dir) }),
        Command::Migrate(args) => {
            Box::pin(commands::migrate::migrate(platform, dir, args, renderer))
        }
        Command::Completions(args) => {
            Box::pin(async move { commands::completions::completions(platform, args.shell) })
        }
        Command::Run(args) if args.watch => {
            Box::pin(commands::watch::watch(platform, dir, args, renderer))
        }
        Command::Run(args) => Box::pin(commands::run::run_command(platform, dir, args, renderer)),
        command => Box::pin(async move {
            let session = Session::open(platform, dir, renderer, false)?;
            let result = {
                let session = &session;
                let future: CommandFuture<'_> = match command {
                    Command::Graph(args) => {
                        Box::pin(async move { commands::graph::graph(platform, session, args) })
                    }
                    Command::Explain(args) => {
                        Box::pin(async move { commands::explain::explain(platform, session, args) })
                    }
                    Command::Clean => Box::pin(commands::clean::clean(platform, session)),
                    Command::Run(_)
                    | Command::Cache(_)
                    | Command::Doctor
                    | Command::Migrate(_)
                    | Command::Init
                    | Command::Completions(_) => {
                        unreachable!("handled above")
                    }
                };
                future.await
            };
            // The process exits next: dropping the pipeline (a few allocations
            // per rule, ~8% of a no-op run over 10,000 rules) would be wasted
            // work. The project lock is not in the session (commands release
            // it themselves), so nothing is left held.
            std::mem::forget(session);
            result
        }),
    }
}
