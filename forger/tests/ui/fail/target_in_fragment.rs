fn main() {
    let _ = forger::fragment! {
        packages { package "curl" }
        target "out" kind="artifact"
    };
}
