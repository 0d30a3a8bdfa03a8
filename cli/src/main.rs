//! The native `cloesce` binary: the shared CLI over the native platform.

fn main() {
    let platform = cloesce::native::NativePlatform::default();
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = cloesce::native::block_on(cloesce::main(args, &platform));
    std::process::exit(code);
}
