fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        include "devfs.kdl"
    };
}
