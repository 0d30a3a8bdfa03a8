//! One module per subcommand.

pub mod cache;
pub mod clean;
pub mod explain;
pub mod graph;
pub mod lock;
pub mod plan;
pub mod remote;
pub mod run;
