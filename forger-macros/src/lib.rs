//! The `image!` and `fragment!` DSL of Forger, checked at compile time.
//!
//! Use them through `forger::image!` and `forger::fragment!`; the expansion refers to
//! `::forger::model::…`. The grammar mirrors Forger's KDL spec language so a spec moves over
//! line by line, and every literal is checked while the macro runs: a bad size, mode, kind,
//! filesystem, a misspelt node or a missing `disk-size` fails `cargo build` at the token.
//!
//! The grammar and every node are documented, with examples, on [`image!`].

use proc_macro::TokenStream;
use quote::quote;

mod emit;
mod literals;
mod suggest;
mod syntax;

/// An image as a typed `forger::model::Image`, written like a Forger KDL spec and checked at
/// compile time.
///
/// # Grammar
/// A body is a list of **nodes**. A node is a name (identifiers joined by `-`:
/// `ensure-dir`, `disk-size`), then its entries:
/// - positional values: `"text"`, `42`, `true`/`false`, or any Rust expression in braces
///   `{expr}`;
/// - properties `name = value` (a name *followed by `=`*), with the same values;
/// - for nodes that hold other nodes, a child block `{ … }` at the end.
///
/// Proc-macro input has no newlines, so **a name that is not followed by `=` starts the next
/// node**; a `;` may also end a node. A trailing brace group is the child block of a node
/// that takes children (`packages`, `overlays`, `target`, …) and a Rust expression
/// everywhere else (`include {common()}`, `disk-size {size}`). Expressions must have the
/// model's type (`Size`, `Mode`, `Distro`, `Image`, `Fragment`, …), or convert
/// `Into<String>` where the model holds text; literal values are parsed by the macro and
/// emitted as constructors (`Size::mib(4000)`, `Mode::new(0o644)`).
///
/// # Nodes
/// ```
/// use forger::model::{Fragment, Image, Size};
///
/// // Shared content: `fragment!` gives a `Fragment` named after its source location
/// // (override with `name "…"`), whose relative overlay `source`s resolve against the
/// // directory of the file that invokes the macro (override with `base-dir "…"`).
/// fn common() -> Fragment {
///     forger::fragment! {
///         name "common"
///         overlays {
///             ensure-symlink "/etc/nsswitch.conf" target="nsswitch.dns" owner="root" group="root"
///             file destination="/etc/resolv.conf" owner="root" group="root" mode="644"
///         }
///     }
/// }
///
/// fn base() -> Image {
///     forger::image! {
///         metadata name="base" version="0.0.1"
///         distro "omnios"
///         incorporation "entire"
///         repositories {
///             publisher name="omnios" origin="https://pkg.omnios.org/bloody/core/"
///         }
///         certificates { ca publisher="omnios" certfile="omniosce-ca.cert.pem" }
///         variants { set name="opensolaris.zone" value="global" }
///         facets { set name="doc.man" value=false }
///         packages { package "/editor/vim" }
///         packages if="build" { package "/developer/build-essential" }
///     }
/// }
///
/// let disk = Size::gib(4);
/// let image: Image = forger::image! {
///     metadata name="ci" version="0.1.0" description="CI image"
///     distro "omnios"
///     architecture "amd64"
///     base {base()}
///     include {common()}
///     build-host "builder.example"
///     customization {
///         user "ci" uid=1000 gid=1000 shell="/bin/bash" home="/export/home/ci"
///             create-home=true password-hash="$6$salt$hash" comment="CI user" {
///             groups "staff" "adm"
///             authorized-key "ssh-ed25519 AAAAC3Nza ci@example"
///         }
///     }
///     overlays if="debug" {
///         devfsadm
///         ensure-dir "/dev/cfg" owner="root" group="sys" mode="755"
///         remove-files dir="/dev/cfg"
///         remove-files "/a" "/b"
///         remove-files pattern="/etc/ssh/ssh_host_*"
///         shadow username="root" password="$5$abc"
///         file destination="/etc/motd" content="hello\n" mode="0644"
///         file destination="/etc/default/init" source="default_init.utc"
///     }
///     target "disk" kind="qcow2" {
///         disk-size {disk}
///         bootloader "uefi"
///         filesystem "zfs"
///         compression "zstd"
///         push-to "ghcr.io/example/ci:latest"
///         pool name="rpool" boot-environment="omnios" {
///             property name="ashift" value="12"
///             filesystem-property name="compression" value="lz4"
///             dataset "export/home" { property name="mountpoint" value="/export/home" }
///         }
///         layout sector-size="4096" esp-size="256M" {
///             partition "esp" role="esp" size="256M"
///             partition "root" role="root"
///         }
///     }
///     target "ctr" kind="oci" {
///         entrypoint "/bin/sh" "-c"
///         cmd command="echo hello"
///         environment { set "PATH" "/usr/bin" }
///         env "LANG" "C.UTF-8"
///         working-dir "/"
///         user "ci"
///         label "org.opencontainers.image.source" "https://example.invalid"
///         annotation "org.example.note" "test"
///         expose "22/tcp" "53/udp"
///     }
///     target "rootfs" kind="artifact" { compression "gzip" }
///     builder {
///         image "oci://ghcr.io/example/builder:1"
///         binary "oci://ghcr.io/example/tool:1" sha256="00ff"
///         vcpus 4
///         memory 4096
///         disk 20
///     }
/// };
/// assert_eq!(image.targets.len(), 3);
/// assert_eq!(image.content.includes[0].name.as_deref(), Some("common"));
/// image.validate().unwrap();
/// ```
///
/// `if = "profile"` is taken by `packages`, `customization` and `overlays` only; `overlays`
/// also takes `base-dir = "…"`. `target` children depend on the kind: `qcow2`/`raw` take
/// `disk-size` (required), `bootloader`, `filesystem`, `compression`, `pool`, `layout`;
/// `oci` takes `entrypoint`, `cmd`, `environment`/`env`, `working-dir`, `user`, `label`,
/// `annotation`, `expose`, `compression`; `artifact` takes `compression`; all take
/// `push-to`.
///
/// The smallest image:
///
/// ```
/// let image = forger::image! {
///     metadata name="demo" version="1.0"
///     distro "debian-12"
///     packages { package "openssh-server" }
///     target "rootfs" kind="artifact"
/// };
/// assert_eq!(image.metadata.name, "demo");
/// ```
#[proc_macro]
pub fn image(input: TokenStream) -> TokenStream {
    expand(emit::Kind::Image, input)
}

/// Shared content as a `forger::model::Fragment`, for `include {my_fragment()}`. Takes the
/// content nodes of `image!` (packages, overlays, repositories, …) plus `name "…"` (the
/// identity used to merge a fragment reached twice only once; the invoking `file:line` when
/// not given) and `base-dir "…"` (where relative `source` paths resolve; the directory of the
/// invoking source file when not given).
///
/// ```
/// fn devfs() -> forger::model::Fragment {
///     forger::fragment! { overlays { devfsadm } }
/// }
/// assert!(devfs().name.unwrap().contains(".rs:"));
/// ```
#[proc_macro]
pub fn fragment(input: TokenStream) -> TokenStream {
    expand(emit::Kind::Fragment, input)
}

fn expand(kind: emit::Kind, input: TokenStream) -> TokenStream {
    let default_name = match kind {
        emit::Kind::Image => None,
        emit::Kind::Fragment => Some(quote!(::core::concat!(
            ::core::file!(),
            ":",
            ::core::line!()
        ))),
    };
    match emit::expand(kind, input.into(), source_dir(), default_name) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            // Several `compile_error!`s are statements, not one expression: wrap them in a
            // block that diverges, so the only errors shown are ours.
            let errors = e.to_compile_error();
            quote!({ #errors ::core::unreachable!() }).into()
        }
    }
}

/// The absolute directory of the source file that invokes the macro.
///
/// `file!()` is relative to the directory rustc runs in, which Cargo makes the *workspace*
/// root (so in member `forger`, `file!()` is `forger/tests/it/dsl.rs` while
/// `CARGO_MANIFEST_DIR` is `…/forger`: joining them is wrong). The macro instead asks the
/// compiler for the invoking file (`Span::local_file`), resolves it against rustc's working
/// directory while it runs, and emits the absolute directory as a literal. Without a real
/// file (generated input) it falls back to `CARGO_MANIFEST_DIR`.
fn source_dir() -> proc_macro2::TokenStream {
    let dir = proc_macro::Span::call_site()
        .local_file()
        .and_then(|f| std::fs::canonicalize(f).ok())
        .and_then(|f| f.parent().map(std::path::Path::to_path_buf));
    match dir.and_then(|d| d.to_str().map(str::to_owned)) {
        Some(dir) => quote!(#dir),
        None => quote!(::core::env!("CARGO_MANIFEST_DIR")),
    }
}
