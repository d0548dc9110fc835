fn main() {
    use forger::model::{Distro, Mode, Size};
    let size = Size::gib(8);
    let name = String::from("dyn");
    let pkg = "curl";
    let mode = Mode::new(0o600);
    let image = forger::image! {
        metadata name={name.clone()} version={format!("{}.0", 1)}
        distro {Distro::Debian("12".into())}
        packages { package {pkg} package "git" }
        overlays { file destination={"/etc/secret"} mode={mode} }
        target {name} kind="qcow2" { disk-size {size} }
    };
    assert_eq!(image.metadata.name, "dyn");
    assert_eq!(image.targets[0].kind.disk().unwrap().disk_size, Size::gib(8));
    assert_eq!(image.content.packages[0].packages[0].as_str(), "curl");
}
