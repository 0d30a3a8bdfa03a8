//! # cloesce-engine
//!
//! The sans-IO core of cloesce, a build orchestrator for Cloesce projects.
//!
//! ## Brief overview
//!
//! - [`pipeline`] lowers `cloesce.kdl` (KDL) into a typed [`pipeline::Pipeline`]
//!   whose nodes keep their spans, reporting every problem at once.
//! - [`graph`] turns it into a checked DAG (explicit `deps` plus edges inferred
//!   from inputs matching outputs; cycles reported with their full path).
//! - [`scheduler`] is a state machine that hands out ready rules
//!   (`poll_ready`) and records completions (`handle_completed`). It never
//!   runs anything.
//! - [`fingerprint`] computes each rule's action key from content digests;
//!   [`store`] keeps the action cache and the content-addressed blobs in
//!   `.cloesce/`.
//! - [`build`] ties them together: a run is a loop of `poll` (a [`build::Job`]
//!   for the driver to execute, or nothing to do yet) and `handle_completed`.
//! - [`host::Host`] is the only route to files, environment, clock and lock,
//!   so the same engine runs natively and inside WebAssembly. The decisions
//!   both hosts must make alike live here too: the project lock protocol
//!   ([`lock`]) and symlink containment ([`containment`]).
//!
//! Built-in rules (pure bytes → bytes functions) plug in through [`builtin`].

pub mod build;
pub mod builtin;
pub mod containment;
pub mod dirty;
pub mod explain;
pub mod fingerprint;
pub mod glob;
pub mod graph;
pub mod host;
pub mod job;
pub mod lock;
pub mod memo;
pub mod pack;
pub mod path;
pub mod pipeline;
pub mod remote;
pub mod scheduler;
mod settled;
pub mod shown;
pub mod staging;
pub mod state;
pub mod store;
pub mod table;
pub mod testing;
mod upkeep;
pub mod walk;
pub mod witness;

pub use path::WorkspacePath;

/// The engine's version; it enters every action key.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
