fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        customization { user "ci" uid="1000" }
    };
}
