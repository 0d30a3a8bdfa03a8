//! The native `cloesce` binary: the shared CLI over the native platform.

/// mimalloc instead of the system allocator: loading a large pipeline and
/// its state allocates a few strings per rule, and glibc's malloc was a
/// fifth of an incremental run's instructions. Without its transparent huge
/// pages (`no_thp`): where the kernel compacts memory for them on demand,
/// the first touches stalled a no-op by milliseconds (docs/performance.md,
/// "Session 5").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let platform = cloesce::native::NativePlatform::default();
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = cloesce::native::block_on(cloesce::main(args, &platform));
    std::process::exit(code);
}
