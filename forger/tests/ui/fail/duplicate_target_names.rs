fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        target "out" kind="artifact"
        target "out" kind="oci"
    };
}
