fn main() {
    let image = forger::image! {
        metadata name="x" version="1"
        packages if="build" { package "gcc" }
        customization if="dev" { user "dev" }
        overlays if="debug" { devfsadm }
    };
    assert_eq!(image.content.packages[0].profile.as_deref(), Some("build"));
    assert_eq!(image.content.customizations[0].profile.as_deref(), Some("dev"));
    assert_eq!(image.content.overlays[0].profile.as_deref(), Some("debug"));
}
