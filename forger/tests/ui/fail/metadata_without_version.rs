fn main() {
    let _ = forger::image! {
        metadata name="x"
    };
}
