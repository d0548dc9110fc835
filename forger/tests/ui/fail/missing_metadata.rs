fn main() {
    let _ = forger::image! {
        distro "omnios"
        packages { package "/editor/vim" }
    };
}
