//! One module per subcommand.

pub mod cache;
pub mod clean;
pub mod completions;
pub mod doctor;
pub mod explain;
pub mod graph;
pub mod init;
pub mod lock;
pub mod migrate;
pub mod plan;
pub mod remote;
pub mod run;
pub mod watch;
