//! Expansion snapshot: the code `image!` emits for a representative image, rendered with
//! prettyplease and compared with `tests/expansion/image.rs` (set `FORGER_BLESS=1` to
//! rewrite it after reviewing the change), so the expansion stays readable and reviewed.

use quote::quote;

use super::{Kind, expand};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/expansion/image.rs");

fn render(kind: Kind, body: proc_macro2::TokenStream) -> String {
    let expr = expand(kind, body, quote!("/src/dir"), None).expect("the snapshot body is valid");
    let file: syn::File = syn::parse2(quote! {
        fn image() -> ::forger::model::Image { #expr }
    })
    .expect("the expansion is an expression");
    prettyplease::unparse(&file)
}

#[test]
fn expansion_matches_the_reviewed_snapshot() {
    let rendered = render(
        Kind::Image,
        quote! {
            metadata name="omnios-rust-ci" version="0.1.0" description="CI"
            distro "omnios"
            base {base()}
            include {devfs()}
            packages { package "/developer/lang/rust" }
            packages if="build" { package "/developer/build-essential" }
            customization { user "ci" uid=1000 { groups "staff" } }
            overlays {
                shadow username="root" password="$5$x"
                file destination="/etc/default/init" source="default_init.utc" owner="root" mode="644"
            }
            target "qcow2" kind="qcow2" {
                disk-size "4000M"
                bootloader "uefi"
                filesystem "zfs"
                push-to "ghcr.io/example/omnios-rust:latest"
                pool { property name="ashift" value="12" }
            }
            target "ctr" kind="oci" { entrypoint "/bin/sh" "-c"; env "A" "b"; expose "22/tcp" }
        },
    );
    if std::env::var_os("FORGER_BLESS").is_some() {
        std::fs::create_dir_all(
            std::path::Path::new(SNAPSHOT)
                .parent()
                .expect("has a parent"),
        )
        .expect("create the snapshot directory");
        std::fs::write(SNAPSHOT, &rendered).expect("write the snapshot");
    }
    let expected = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert_eq!(
        rendered, expected,
        "the expansion changed; review it and rerun with FORGER_BLESS=1"
    );
}

#[test]
fn several_errors_are_reported_at_once() {
    let err = expand(
        Kind::Image,
        quote! {
            metadata name="x"
            target "d" kind="qcow2" { disk_size "8G" }
            target "e" kind="raw" { bootloader "uefi" }
            overlays { ensure-dir "/x" mode="989" }
        },
        quote!("/src/dir"),
        None,
    )
    .expect_err("the body has errors");
    let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(messages[0].contains("needs `version`"), "{messages:#?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("did you mean `disk-size`?"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("\"989\"") || m.contains("`989`"))
    );
    assert!(messages.iter().any(|m| m.contains("needs its size")));
}
