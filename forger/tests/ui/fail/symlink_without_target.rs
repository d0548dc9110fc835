fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        overlays { ensure-symlink "/etc/localtime" owner="root" }
    };
}
