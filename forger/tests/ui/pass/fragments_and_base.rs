fn main() {
    fn common() -> forger::model::Fragment {
        forger::fragment! {
            name "common"
            overlays { file destination="/etc/nodename" source="etc/nodename" }
        }
    }
    fn base() -> forger::model::Image {
        forger::image! {
            metadata name="base" version="0.0.1"
            incorporation "entire"
            packages { package "/editor/vim" }
        }
    }
    let image = forger::image! {
        metadata name="child" version="1"
        base {base()}
        include {common()}
        include {common()}
    };
    assert_eq!(image.base.as_ref().unwrap().metadata.name, "base");
    assert_eq!(image.content.includes.len(), 2);
    assert_eq!(image.content.includes[0], image.content.includes[1]);
    let dir = image.content.includes[0].base_dir.clone().unwrap();
    assert!(dir.is_absolute(), "{dir:?}");
    assert!(dir.ends_with("pass"), "{dir:?}");
}
