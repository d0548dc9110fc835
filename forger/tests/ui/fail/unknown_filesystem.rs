fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        distro "debian-12"
        target "disk" kind="qcow2" { disk-size "8G" filesystem "btrfs" }
    };
}
