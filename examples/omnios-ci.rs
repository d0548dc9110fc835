//! The OmniOS CI image as a Rust program: the DSL form of the corpus spec
//! `omnios-rust-ci.kdl`, its base and includes as modules in `examples/omnios/`.
//!
//! `cargo run --example omnios-ci -- inspect` shows the resolved image; `-- build` installs
//! the packages from the OmniOS publishers and writes the ZFS disk.

mod omnios;

fn main() -> forger::Result<()> {
    forger::run(omnios::rust_ci::image())
}
