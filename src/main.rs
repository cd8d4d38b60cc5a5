//! The `setup` binary.

fn main() {
    std::process::exit(setup::main());
}
