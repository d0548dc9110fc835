fn main() {
    let image = forger::image! {
        metadata name="x" version="1"
        overlays {
            remove-files "/a" "/b"
            remove-files file="/c"
            remove-files dir="/dev/cfg"
            remove-files pattern="/etc/ssh/ssh_host_*"
        }
    };
    let actions = &image.content.overlays[0].actions;
    assert_eq!(actions.len(), 4);
}
