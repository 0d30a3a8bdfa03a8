//! The native platform: `std::fs`, `std::process` and threads.

#[cfg(target_os = "linux")]
mod beneath;
mod child;
mod host;
mod http;
#[cfg(unix)]
pub mod interrupt;
mod jobs;
mod platform;
#[cfg(target_os = "linux")]
mod spawn;
#[cfg(target_os = "linux")]
mod stat_at;
mod watch;

pub use host::NativeHost;
pub use platform::{block_on, NativePlatform};
