//! The smallest whole pipeline, with no network: a small root tree made under `target/`,
//! users and overlays applied to it, and a deterministic `.tar.gz` plus an OCI layout written
//! to `target/hello-tree-out/`. `cargo run --example hello-tree`.

use std::path::PathBuf;

use forger::build::{BuildOptions, build};
use forger::cli::{OutputMode, Reporter};
use forger::model::*;
use forger::plan::PlanOptions;

fn image() -> Image {
    forger::image! {
        metadata name="hello-tree" version="1.0.0" description="A tree payload with users and overlays"
        distro "debian-12"
        customization {
            user "app" uid=2000 shell="/bin/sh" { groups "staff" }
        }
        overlays {
            file destination="/etc/motd" content="hello from forger\n" mode="644"
            ensure-dir "/srv/app" owner="app" group="staff" mode="750"
            file destination="/srv/app/config" content="port=8080\n" owner="app" mode="600"
            ensure-symlink "/srv/current" target="app"
        }
        target "rootfs" kind="artifact"
        target "container" kind="oci" {
            entrypoint "/bin/sh" "-c" "cat /etc/motd"
            env "LANG" "C.UTF-8"
        }
    }
}

fn main() -> forger::Result<()> {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let tree = target.join("hello-tree-rootfs");
    std::fs::create_dir_all(tree.join("etc")).expect("target/ is writable");
    std::fs::write(tree.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
        .expect("write passwd");
    std::fs::write(tree.join("etc/group"), "root:x:0:\nstaff:x:50:\n").expect("write group");
    let options = BuildOptions {
        plan: PlanOptions {
            epoch: forger::build::source_date_epoch(),
            ..Default::default()
        },
        out_dir: target.join("hello-tree-out"),
        skip_push: true,
        rootfs: Some(tree),
        ..Default::default()
    };
    let mut reporter = Reporter::new(OutputMode::Pretty);
    match build(&image(), &options, &mut reporter) {
        Ok(report) => {
            for o in report.outputs {
                println!("wrote {} ({})", o.path.display(), o.kind);
            }
            Ok(())
        }
        Err(e) => {
            reporter.error(&e);
            Err(e)
        }
    }
}
