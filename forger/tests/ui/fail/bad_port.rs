fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        target "ctr" kind="oci" { expose "http" }
    };
}
