fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        distro "omnios"
        distro "debian-12"
    };
}
