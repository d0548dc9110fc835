fn main() {
    let _ = forger::image! {
        name="x"
    };
}
