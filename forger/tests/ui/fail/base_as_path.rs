fn main() {
    let _ = forger::image! {
        metadata name="x" version="1"
        base "omnios-bloody-base.kdl"
    };
}
