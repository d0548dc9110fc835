fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        packages { package "vim curl" }
    };
}
