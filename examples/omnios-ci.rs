//! The OmniOS CI image as a Rust program: the DSL form of the corpus spec
//! `omnios-rust-ci.kdl`, its base and includes as modules in `examples/omnios/`.
//!
//! `main` validates the image and prints the model as JSON until the CLI (`forger::run`:
//! build/validate/inspect/targets/plan) is merged; then it becomes
//! `fn main() -> forger::Result<()> { forger::run(omnios::rust_ci::image()) }`.

mod omnios;

fn main() -> forger::Result<()> {
    let image = omnios::rust_ci::image();
    image.validate()?;
    let json = serde_json::to_string_pretty(&image).expect("the model serialises to JSON");
    println!("{json}");
    Ok(())
}
