fn main() {
    let image = forger::image! { metadata name="x" version="1" };
    assert_eq!(image.distro, None);
    assert_eq!(image.distro(), forger::model::Distro::OmniOs);
    assert!(image.targets.is_empty());
}
