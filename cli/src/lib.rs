//! # cloesce (CLI)
//!
//! The `cloesce` command-line application, shared by the native binary
//! (`src/main.rs`) and the npm package (compiled to WebAssembly by
//! `npm-wrapper/`). [`main`] takes the arguments and a [`Platform`] and
//! returns the exit code; everything platform-specific is behind the trait.

pub mod platform;

pub use platform::{Platform, Project, Stream};

/// Runs the CLI with `args` (including the program name) and returns the
/// process exit code.
pub async fn main<P: Platform>(args: Vec<String>, platform: &P) -> i32 {
    let _ = args;
    platform.write(
        Stream::Stdout,
        &format!("cloesce {}\n", cloesce_engine::VERSION),
    );
    0
}
