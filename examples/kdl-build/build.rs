//! Turns `images/hello.kdl` (and the files it includes) into Rust in `OUT_DIR`; a broken spec
//! fails `cargo build` with `file:line:col: message`.

fn main() -> Result<(), kdl_compat::build::BuildError> {
    kdl_compat::build::compile("images/hello.kdl")?;
    Ok(())
}
