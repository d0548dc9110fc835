fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        repositories if="build" { publisher name="omnios" origin="https://pkg.omnios.org/bloody/core/" }
    };
}
