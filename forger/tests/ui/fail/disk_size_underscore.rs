fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        target "disk" kind="qcow2" { disk_size "8G" }
    };
}
