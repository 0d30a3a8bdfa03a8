//! The native platform: `std::fs`, `std::process` and threads.

mod host;
mod http;
#[cfg(unix)]
pub mod interrupt;
mod platform;
mod watch;

pub use host::NativeHost;
pub use platform::{block_on, NativePlatform};
