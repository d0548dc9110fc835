fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        overlays { file destination="/etc/motd" source="motd" content="hi" }
    };
}
