fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        target "disk" { disk-size "8G" }
    };
}
