fn image() -> ::forger::model::Image {
    ::forger::model::Image::builder()
        .metadata(
            ::forger::model::Metadata::builder()
                .name("omnios-rust-ci")
                .version("0.1.0")
                .description("CI")
                .build(),
        )
        .distro(::forger::model::Distro::OmniOs)
        .base((base()))
        .content(
            ::forger::model::Fragment::builder()
                .base_dir("/src/dir")
                .includes(::std::vec![(devfs())])
                .packages(
                    ::std::vec![
                        ::forger::model::PackageSet::builder()
                        .packages(::std::vec![::forger::model::Package::new("/developer/lang/rust")])
                        .build(), ::forger::model::PackageSet::builder().profile("build")
                        .packages(::std::vec![::forger::model::Package::new("/developer/build-essential")])
                        .build()
                    ],
                )
                .customizations(
                    ::std::vec![
                        ::forger::model::Customization::builder()
                        .users(::std::vec![::forger::model::User::named("ci")
                        .uid(1000u32)
                        .groups(::std::vec![::std::string::String::from("staff")])
                        .build()]).build()
                    ],
                )
                .overlays(
                    ::std::vec![
                        ::forger::model::OverlaySet::builder()
                        .actions(::std::vec![::forger::model::Overlay::Shadow(::forger::model::Shadow
                        { username : ::std::string::String::from("root"), password :
                        ::std::string::String::from("$5$x"), }),
                        ::forger::model::Overlay::File(::forger::model::FileOverlay::to("/etc/default/init")
                        .source("default_init.utc").owner("root")
                        .mode(::forger::model::Mode::new(0o644)).build())]).build()
                    ],
                )
                .build(),
        )
        .targets(
            ::std::vec![
                ::forger::model::Target::named("qcow2")
                .kind(::forger::model::TargetKind::Qcow2(::forger::model::DiskTarget::builder()
                .disk_size(::forger::model::Size::mib(4000u64))
                .bootloader(::forger::model::Bootloader::Uefi)
                .filesystem(::forger::model::FsKind::Zfs)
                .pool(::forger::model::ZfsPool::builder()
                .properties(::std::vec![::forger::model::Property::new("ashift", "12")])
                .build()).build())).push_to("ghcr.io/example/omnios-rust:latest")
                .build(), ::forger::model::Target::named("ctr")
                .kind(::forger::model::TargetKind::Oci(::forger::model::OciTarget::builder()
                .entrypoint(::std::vec![::std::string::String::from("/bin/sh"),
                ::std::string::String::from("-c")])
                .env(::std::vec![::forger::model::EnvVar::new("A", "b")])
                .exposed_ports(::std::vec![::std::string::String::from("22/tcp")])
                .build())).build()
            ],
        )
        .build()
}
