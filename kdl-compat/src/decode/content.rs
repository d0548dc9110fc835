//! Decoding of the shareable content nodes: `incorporation`, `repositories`,
//! `certificates`, `variants`, `facets`, `packages`, `customization` and `overlays` (with
//! every overlay action), into a [`Fragment`].

use std::path::{Component, Path, PathBuf};

use forger::model::{
    AptMirror, Certificate, Customization, EnsureDir, EnsureSymlink, Facet, FileOverlay, Fragment,
    Overlay, OverlaySet, Package, PackageSet, Publisher, RemoveFiles, Shadow, User, Variant,
};
use kdl::{KdlEntry, KdlNode};

use super::reader::{self, Decoder, args, name, prop, props};
use crate::error::Problem;

/// Decodes one content node (its name is known to be a content node) into `into`.
pub(crate) fn content_node(d: &mut Decoder, node: &KdlNode, into: &mut Fragment) {
    match name(node) {
        "incorporation" => {
            let usage = "incorporation \"entire\"";
            d.shape(node, &[], 1, "one argument", usage);
            d.leaf(node);
            into.incorporation = d.required_arg(node, usage);
        }
        "repositories" => repositories(d, node, into),
        "certificates" => {
            block(d, node);
            for ca in d.known_children(node, "certificates", &["ca"]) {
                let usage = "ca publisher=\"omnios\" certfile=\"ca.pem\"";
                d.shape(ca, &["publisher", "certfile"], 0, "no arguments", usage);
                d.leaf(ca);
                let publisher = d.required_prop(ca, "publisher", usage);
                let certfile = relative_path(d, ca, "certfile", usage);
                if let (Some(publisher), Some(certfile)) = (publisher, certfile) {
                    into.certificates.push(Certificate {
                        publisher,
                        certfile,
                    });
                }
            }
        }
        "variants" => {
            block(d, node);
            for set in d.known_children(node, "variants", &["set"]) {
                let usage = "set name=\"opensolaris.zone\" value=\"global\"";
                if let Some((name, value)) = name_value(d, set, usage)
                    && let Some(value) = d.string(set, value)
                {
                    into.variants.push(Variant::new(name, value));
                }
            }
        }
        "facets" => {
            block(d, node);
            for set in d.known_children(node, "facets", &["set"]) {
                let usage = "set name=\"doc.man\" value=#false";
                if let Some((name, value)) = name_value(d, set, usage)
                    && let Some(value) = d.boolean(set, value)
                {
                    into.facets.push(Facet::new(name, value));
                }
            }
        }
        "packages" => {
            let profile = profile_block(d, node, "packages if=\"build\" { package \"…\" }");
            let mut set = PackageSet {
                profile,
                packages: Vec::new(),
            };
            for p in d.known_children(node, "packages", &["package"]) {
                let usage = "package \"<name>\"";
                d.shape(p, &[], usize::MAX, "", usage);
                d.leaf(p);
                if args(p).next().is_none() {
                    d.missing(p, "an argument".to_owned(), usage);
                }
                for entry in args(p) {
                    if let Some(pkg) = d.parse::<Package>(p, entry) {
                        set.packages.push(pkg);
                    }
                }
            }
            into.packages.push(set);
        }
        "customization" => {
            let profile = profile_block(d, node, "customization if=\"dev\" { user \"…\" }");
            let mut block = Customization {
                profile,
                users: Vec::new(),
            };
            for u in d.known_children(node, "customization", &["user"]) {
                if let Some(user) = user(d, u) {
                    block.users.push(user);
                }
            }
            into.customizations.push(block);
        }
        "overlays" => {
            let profile = profile_block(d, node, "overlays if=\"dev\" { … }");
            let mut set = OverlaySet {
                profile,
                base_dir: None,
                actions: Vec::new(),
            };
            for a in d.known_children(node, "overlays", OVERLAY_ACTIONS) {
                if let Some(action) = overlay(d, a) {
                    set.actions.push(action);
                }
            }
            into.overlays.push(set);
        }
        other => unreachable!("content_node called for `{other}`"),
    }
}

/// The overlay actions of the language.
pub(crate) const OVERLAY_ACTIONS: &[&str] = &[
    "file",
    "ensure-dir",
    "ensure-symlink",
    "remove-files",
    "shadow",
    "devfsadm",
];

/// A plain block node: no arguments, no properties.
fn block(d: &mut Decoder, node: &KdlNode) {
    let usage = format!("{} {{ … }}", name(node));
    d.shape(node, &[], 0, "no arguments", &usage);
}

/// A block node that takes `if="<profile>"`.
fn profile_block(d: &mut Decoder, node: &KdlNode, usage: &str) -> Option<String> {
    d.shape(node, &["if"], 0, "no arguments", usage);
    d.prop_string(node, "if")
}

/// `set name="…" value=…`: the name as a string and the value entry.
fn name_value<'a>(
    d: &mut Decoder,
    node: &'a KdlNode,
    usage: &str,
) -> Option<(String, &'a KdlEntry)> {
    d.shape(node, &["name", "value"], 0, "no arguments", usage);
    d.leaf(node);
    let name = d.required_prop(node, "name", usage);
    let value = prop(node, "value");
    if value.is_none() {
        d.missing(node, "property `value`".to_owned(), usage);
    }
    Some((name?, value?))
}

fn repositories(d: &mut Decoder, node: &KdlNode, into: &mut Fragment) {
    block(d, node);
    for r in d.known_children(node, "repositories", &["publisher", "apt-mirror"]) {
        d.leaf(r);
        if name(r) == "publisher" {
            let usage = "publisher name=\"omnios\" origin=\"https://pkg.omnios.org/r151054/core/\"";
            d.shape(r, &["name", "origin"], 0, "no arguments", usage);
            let name = d.required_prop(r, "name", usage);
            let origin = d.required_prop(r, "origin", usage);
            if let (Some(name), Some(origin)) = (name, origin) {
                into.repositories
                    .publishers
                    .push(Publisher { name, origin });
            }
        } else {
            let usage = "apt-mirror \"http://deb.debian.org/debian\" suite=\"bookworm\" components=\"main\"";
            d.shape(r, &["suite", "components"], 1, "one argument", usage);
            let url = d.required_arg(r, usage);
            let suite = d.required_prop(r, "suite", usage);
            let components = d
                .prop_string(r, "components")
                .map(|c| c.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            if let (Some(url), Some(suite)) = (url, suite) {
                into.repositories.apt_mirrors.push(AptMirror {
                    url,
                    suite,
                    components,
                });
            }
        }
    }
}

fn user(d: &mut Decoder, node: &KdlNode) -> Option<User> {
    let usage = "user \"ci\" uid=1000 shell=\"/bin/bash\" { group \"sudo\"; authorized-key \"ssh-ed25519 …\" }";
    d.shape(
        node,
        &[
            "uid",
            "gid",
            "shell",
            "home",
            "create-home",
            "password-hash",
            "comment",
        ],
        1,
        "one argument",
        usage,
    );
    let name = d.required_arg(node, usage);
    let mut user = User::new(name.clone().unwrap_or_default());
    user.uid = d.prop_uint(node, "uid");
    user.gid = d.prop_uint(node, "gid");
    user.shell = d.prop_string(node, "shell");
    user.home = d.prop_string(node, "home");
    if let Some(entry) = prop(node, "create-home")
        && let Some(b) = d.boolean(node, entry)
    {
        user.create_home = b;
    }
    user.password_hash = d.prop_string(node, "password-hash");
    user.comment = d.prop_string(node, "comment");
    for c in d.known_children(node, "user", &["group", "authorized-key"]) {
        d.leaf(c);
        let usage = format!("{} \"…\"", reader::name(c));
        d.shape(c, &[], usize::MAX, "", &usage);
        if args(c).next().is_none() {
            d.missing(c, "an argument".to_owned(), &usage);
        }
        let values = d.arg_strings(c);
        if reader::name(c) == "group" {
            user.groups.extend(values);
        } else {
            user.authorized_keys.extend(values);
        }
    }
    name.map(|_| user)
}

fn overlay(d: &mut Decoder, node: &KdlNode) -> Option<Overlay> {
    d.leaf(node);
    match name(node) {
        "file" => {
            let usage = "file destination=\"/etc/motd\" source=\"motd\" owner=\"root\" group=\"root\" mode=\"644\"";
            d.shape(
                node,
                &["destination", "source", "content", "owner", "group", "mode"],
                0,
                "no arguments",
                usage,
            );
            let destination = image_path(d, node, prop(node, "destination"), "destination", usage);
            let source = prop(node, "source").and_then(|_| relative_path(d, node, "source", usage));
            let content = d.prop_string(node, "content");
            if let (Some(_), Some(_), Some(c)) = (&source, &content, prop(node, "content")) {
                d.push(Problem::BadValue {
                    node: "file".to_owned(),
                    key: "content".to_owned(),
                    reason: "a file has either a source or inline content".to_owned(),
                    span: c.span(),
                    help: "keep `source` or `content`, not both".to_owned(),
                });
            }
            Some(Overlay::File(FileOverlay {
                destination: destination?,
                source,
                content,
                owner: d.prop_string(node, "owner"),
                group: d.prop_string(node, "group"),
                mode: d.prop_parse(node, "mode"),
            }))
        }
        "ensure-dir" => {
            let usage = "ensure-dir \"/path\" owner=\"root\" group=\"root\" mode=\"755\"";
            d.shape(node, &["owner", "group", "mode"], 1, "one argument", usage);
            let path = image_path(d, node, args(node).next(), "a path argument", usage);
            Some(Overlay::EnsureDir(EnsureDir {
                path: path?,
                owner: d.prop_string(node, "owner"),
                group: d.prop_string(node, "group"),
                mode: d.prop_parse(node, "mode"),
            }))
        }
        "ensure-symlink" => {
            let usage =
                "ensure-symlink \"/path/link\" target=\"dest\" owner=\"root\" group=\"root\"";
            d.shape(
                node,
                &["target", "owner", "group"],
                1,
                "one argument",
                usage,
            );
            let path = image_path(d, node, args(node).next(), "a path argument", usage);
            let target = d.required_prop(node, "target", usage);
            Some(Overlay::EnsureSymlink(EnsureSymlink {
                path: path?,
                target: target?,
                owner: d.prop_string(node, "owner"),
                group: d.prop_string(node, "group"),
            }))
        }
        "remove-files" => {
            let usage = "remove-files \"/a\" \"/b\", or remove-files file=\"/p\" | dir=\"/d\" | pattern=\"/d/prefix*\"";
            d.shape(node, &["file", "dir", "pattern"], usize::MAX, "", usage);
            let mut rf = RemoveFiles::default();
            let all = |d: &mut Decoder, entries: Vec<&KdlEntry>| -> Vec<String> {
                entries
                    .into_iter()
                    .filter_map(|e| image_path(d, node, Some(e), "", usage))
                    .collect()
            };
            rf.files = all(d, args(node).chain(props(node, "file")).collect());
            rf.dirs = all(d, props(node, "dir").collect());
            rf.patterns = all(d, props(node, "pattern").collect());
            if node.entries().is_empty() {
                d.missing(node, "a path".to_owned(), usage);
                return None;
            }
            Some(Overlay::RemoveFiles(rf))
        }
        "shadow" => {
            let usage = "shadow username=\"root\" password=\"$5$…\"";
            d.shape(node, &["username", "password"], 0, "no arguments", usage);
            let username = d.required_prop(node, "username", usage);
            let password = d.required_prop(node, "password", usage);
            Some(Overlay::Shadow(Shadow {
                username: username?,
                password: password?,
            }))
        }
        "devfsadm" => {
            d.shape(node, &[], 0, "no arguments", "devfsadm");
            Some(Overlay::Devfsadm)
        }
        other => unreachable!("overlay called for `{other}`"),
    }
}

/// An absolute path inside the image (`destination`, `ensure-dir "/p"`, …).
fn image_path(
    d: &mut Decoder,
    node: &KdlNode,
    entry: Option<&KdlEntry>,
    what: &str,
    usage: &str,
) -> Option<String> {
    let Some(entry) = entry else {
        let what = if what.starts_with("a ") {
            what.to_owned()
        } else {
            format!("property `{what}`")
        };
        d.missing(node, what, usage);
        return None;
    };
    let path = d.string(node, entry)?;
    if !path.starts_with('/') {
        d.push(Problem::BadValue {
            node: name(node).to_owned(),
            key: entry
                .name()
                .map_or_else(|| "argument 1".to_owned(), |n| n.value().to_owned()),
            reason: format!("`{path}` is not an absolute path in the image"),
            span: entry.span(),
            help: format!("paths inside the image start with `/`: \"/{path}\""),
        });
        return None;
    }
    Some(path)
}

/// A host path relative to the declaring file's directory (`source`, `certfile`): it must not
/// be absolute nor climb out with `..`.
fn relative_path(d: &mut Decoder, node: &KdlNode, key: &str, usage: &str) -> Option<PathBuf> {
    let text = d.required_prop(node, key, usage)?;
    let entry = prop(node, key)?;
    let path = Path::new(&text);
    let mut depth: i64 = 0;
    let mut escapes = path.is_absolute();
    for c in path.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::RootDir | Component::Prefix(_) => escapes = true,
            Component::CurDir => {}
        }
        if depth < 0 {
            escapes = true;
        }
    }
    if escapes || text.is_empty() {
        d.push(Problem::BadValue {
            node: name(node).to_owned(),
            key: key.to_owned(),
            reason: format!("`{text}` is not a path inside the spec's directory"),
            span: entry.span(),
            help:
                "host files are looked up in `<spec dir>/files/<path>`, then `<spec dir>/<path>`; \
                   give a relative path without leading `..`"
                    .to_owned(),
        });
        return None;
    }
    Some(path.to_path_buf())
}
