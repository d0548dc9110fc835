//! An image kept as a KDL spec, compiled into this program by `build.rs`:
//! `cargo run -p forger-example-kdl-build -- inspect`.

mod spec {
    include!(concat!(env!("OUT_DIR"), "/hello.rs"));
}

fn main() -> forger::Result<()> {
    forger::run(spec::image())
}
