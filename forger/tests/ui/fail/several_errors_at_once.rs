fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        distro "omnios"
        packages { pacakge "curl" }
        overlays { ensure-dir "/srv" mode="8" }
        target "disk" kind="qcow2" { disk-size "8 parsecs" bootloader "grub" }
    };
}
