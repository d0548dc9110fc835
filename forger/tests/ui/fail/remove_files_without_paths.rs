fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        overlays { remove-files }
    };
}
