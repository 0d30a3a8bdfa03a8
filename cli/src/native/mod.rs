//! The native platform: `std::fs`, `std::process` and threads.

mod host;
mod http;
mod platform;

pub use host::NativeHost;
pub use platform::{block_on, NativePlatform};
