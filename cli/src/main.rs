//! The native `cloesce` binary.
fn main() {
    println!("cloesce {}", cloesce_engine::VERSION);
}
