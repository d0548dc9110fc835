fn main() {
    let f = forger::fragment! { packages { package "curl" } };
    let name = f.name.unwrap();
    assert!(name.ends_with(".rs:2"), "{name}");
}
