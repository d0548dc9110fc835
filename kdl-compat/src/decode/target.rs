//! Decoding of `target` nodes (children checked against the target's kind) and of the
//! `builder` block.

use forger::model::{
    ArtifactTarget, Binary, Bootloader, BuilderVm, Compression, Dataset, DiskLayout, DiskTarget,
    EnvVar, FsKind, OciTarget, PartitionRole, PartitionSpec, Property, SectorSize, Size, Target,
    TargetKind, ZfsPool,
};
use kdl::{KdlNode, KdlValue};

use super::reader::{Decoder, args, name, name_span, prop};
use crate::error::Problem;
use crate::suggest::did_you_mean;

const DISK_CHILDREN: &[&str] = &[
    "push-to",
    "disk-size",
    "bootloader",
    "filesystem",
    "pool",
    "layout",
    "compression",
];
const OCI_CHILDREN: &[&str] = &[
    "push-to",
    "entrypoint",
    "cmd",
    "environment",
    "env",
    "label",
    "port",
    "annotation",
    "user",
    "workdir",
    "compression",
];
const ARTIFACT_CHILDREN: &[&str] = &["push-to", "compression"];
const ALL_CHILDREN: &[&str] = &[
    "push-to",
    "disk-size",
    "bootloader",
    "filesystem",
    "pool",
    "layout",
    "compression",
    "entrypoint",
    "cmd",
    "environment",
    "env",
    "label",
    "port",
    "annotation",
    "user",
    "workdir",
];

/// Which kinds take each child, for the wrong-kind help.
fn kinds_taking(child: &str) -> &'static str {
    if DISK_CHILDREN.contains(&child) {
        "qcow2 and raw targets"
    } else if OCI_CHILDREN.contains(&child) {
        "oci targets"
    } else {
        "no target"
    }
}

/// Parses a target kind keyword: case-insensitive, `qcow` = `qcow2`, `tar` = `artifact`.
fn kind_keyword(s: &str) -> Option<&'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "qcow2" | "qcow" => Some("qcow2"),
        "raw" => Some("raw"),
        "oci" => Some("oci"),
        "artifact" | "tar" => Some("artifact"),
        _ => None,
    }
}

/// Decodes `target "<name>" kind="…" { … }`.
pub(crate) fn target(d: &mut Decoder, node: &KdlNode) -> Option<Target> {
    let usage = "target \"disk\" kind=\"qcow2\" { disk-size \"8G\" }";
    d.shape(node, &["kind"], 1, "one argument", usage);
    let target_name = d.required_arg(node, usage);
    let kind = match prop(node, "kind") {
        None => {
            d.missing(node, "property `kind`".to_owned(), usage);
            None
        }
        Some(entry) => {
            let text = d.string(node, entry)?;
            let k = kind_keyword(&text);
            if k.is_none() {
                d.push(Problem::BadValue {
                    node: "target".to_owned(),
                    key: "kind".to_owned(),
                    reason: format!("`{text}` is not a target kind"),
                    span: entry.span(),
                    help: did_you_mean(&text, &["qcow2", "raw", "oci", "artifact"]),
                });
            }
            k
        }
    };
    let kind = kind?;
    let allowed = match kind {
        "qcow2" | "raw" => DISK_CHILDREN,
        "oci" => OCI_CHILDREN,
        _ => ARTIFACT_CHILDREN,
    };
    let context = format!("target ({kind})");
    let mut fitting = Vec::new();
    for child in d.known_children(node, &context, ALL_CHILDREN) {
        if allowed.contains(&name(child)) {
            fitting.push(child);
        } else {
            d.push(Problem::WrongTargetChild {
                child: name(child).to_owned(),
                kind,
                span: name_span(child),
                help: format!(
                    "`{}` belongs to {}; {kind} targets take: {}",
                    name(child),
                    kinds_taking(name(child)),
                    allowed.join(", ")
                ),
            });
        }
    }
    let mut push_to = None;
    let mut compression = None;
    for child in &fitting {
        match name(child) {
            "push-to" => push_to = one_string(d, child, "push-to \"registry.example/repo:tag\""),
            "compression" => compression = one_parsed(d, child, "compression \"zstd\""),
            _ => {}
        }
    }
    let kind = match kind {
        "qcow2" | "raw" => {
            let disk = disk(d, node, &fitting, compression)?;
            if kind == "raw" {
                TargetKind::Raw(disk)
            } else {
                TargetKind::Qcow2(disk)
            }
        }
        "oci" => TargetKind::Oci(oci(d, &fitting, compression)),
        _ => TargetKind::Artifact(ArtifactTarget {
            compression: compression.unwrap_or_default(),
        }),
    };
    Some(Target {
        name: target_name?,
        kind,
        push_to,
    })
}

/// A child with exactly one string argument.
fn one_string(d: &mut Decoder, node: &KdlNode, usage: &str) -> Option<String> {
    d.shape(node, &[], 1, "one argument", usage);
    d.leaf(node);
    d.required_arg(node, usage)
}

/// A child with exactly one string argument parsed by the model.
fn one_parsed<T>(d: &mut Decoder, node: &KdlNode, usage: &str) -> Option<T>
where
    T: std::str::FromStr<Err = forger::model::Error>,
{
    d.shape(node, &[], 1, "one argument", usage);
    d.leaf(node);
    match args(node).next() {
        Some(entry) => d.parse(node, entry),
        None => {
            d.missing(node, "an argument".to_owned(), usage);
            None
        }
    }
}

fn disk(
    d: &mut Decoder,
    target: &KdlNode,
    children: &[&KdlNode],
    compression: Option<Compression>,
) -> Option<DiskTarget> {
    let mut size: Option<Size> = None;
    let mut seen_size = false;
    let mut out = DiskTarget {
        disk_size: Size::bytes(0),
        bootloader: None,
        filesystem: None,
        pool: ZfsPool::default(),
        layout: DiskLayout::default(),
        compression,
    };
    for child in children {
        match name(child) {
            "disk-size" => {
                seen_size = true;
                size = one_parsed(d, child, "disk-size \"8G\"");
            }
            "bootloader" => {
                out.bootloader = one_parsed::<Bootloader>(d, child, "bootloader \"uefi\"")
            }
            "filesystem" => out.filesystem = one_parsed::<FsKind>(d, child, "filesystem \"zfs\""),
            "pool" => out.pool = pool(d, child),
            "layout" => out.layout = layout(d, child),
            _ => {}
        }
    }
    if !seen_size {
        d.missing(
            target,
            "a `disk-size` child".to_owned(),
            "target \"disk\" kind=\"qcow2\" { disk-size \"8G\" }",
        );
    }
    out.disk_size = size?;
    Some(out)
}

fn pool(d: &mut Decoder, node: &KdlNode) -> ZfsPool {
    let usage =
        "pool name=\"rpool\" boot-environment=\"omnios\" { property name=\"ashift\" value=\"12\" }";
    d.shape(
        node,
        &["name", "boot-environment"],
        0,
        "no arguments",
        usage,
    );
    let mut pool = ZfsPool::default();
    if let Some(n) = d.prop_string(node, "name") {
        pool.name = n;
    }
    pool.boot_environment = d.prop_string(node, "boot-environment");
    for child in d.known_children(
        node,
        "pool",
        &["property", "filesystem-property", "dataset"],
    ) {
        match name(child) {
            "property" => pool.properties.extend(property(d, child)),
            "filesystem-property" => pool.filesystem_properties.extend(property(d, child)),
            _ => {
                let usage = "dataset \"export/home\" { property name=\"mountpoint\" value=\"/export/home\" }";
                d.shape(child, &[], 1, "one argument", usage);
                let name = d.required_arg(child, usage);
                let mut ds = Dataset {
                    name: name.unwrap_or_default(),
                    properties: Vec::new(),
                };
                for p in d.known_children(child, "dataset", &["property"]) {
                    ds.properties.extend(property(d, p));
                }
                if !ds.name.is_empty() {
                    pool.datasets.push(ds);
                }
            }
        }
    }
    pool
}

/// `property name="ashift" value="12"` (value may also be an integer).
fn property(d: &mut Decoder, node: &KdlNode) -> Option<Property> {
    let usage = format!("{} name=\"ashift\" value=\"12\"", name(node));
    d.shape(node, &["name", "value"], 0, "no arguments", &usage);
    d.leaf(node);
    let pname = d.required_prop(node, "name", &usage);
    let value = match prop(node, "value") {
        None => {
            d.missing(node, "property `value`".to_owned(), &usage);
            None
        }
        Some(e) => match e.value() {
            KdlValue::Integer(i) => Some(i.to_string()),
            _ => d.string(node, e),
        },
    };
    Some(Property::new(pname?, value?))
}

fn layout(d: &mut Decoder, node: &KdlNode) -> DiskLayout {
    let usage = "layout sector-size=4096 esp-size=\"512M\" { partition \"root\" role=\"root\" }";
    d.shape(node, &["sector-size", "esp-size"], 0, "no arguments", usage);
    let mut layout = DiskLayout::default();
    if let Some(entry) = prop(node, "sector-size") {
        let text = match entry.value() {
            KdlValue::Integer(i) => Some(i.to_string()),
            _ => d.string(node, entry),
        };
        if let Some(text) = text {
            match text.parse::<SectorSize>() {
                Ok(s) => layout.sector_size = s,
                Err(e) => d.push(Problem::BadValue {
                    node: "layout".to_owned(),
                    key: "sector-size".to_owned(),
                    reason: e.to_string(),
                    span: entry.span(),
                    help: "use 512 or 4096".to_owned(),
                }),
            }
        }
    }
    layout.esp_size = d.prop_parse(node, "esp-size");
    for p in d.known_children(node, "layout", &["partition"]) {
        let usage = "partition \"root\" role=\"root\" size=\"8G\" type-guid=\"…\"";
        d.shape(p, &["role", "size", "type-guid"], 1, "one argument", usage);
        d.leaf(p);
        let pname = d.required_arg(p, usage);
        let role = match prop(p, "role") {
            None => {
                d.missing(p, "property `role`".to_owned(), usage);
                None
            }
            Some(entry) => {
                let text = d.string(p, entry);
                let role = text.as_deref().and_then(|t| match t {
                    "esp" => Some(PartitionRole::Esp),
                    "root" => Some(PartitionRole::Root),
                    "bios-boot" => Some(PartitionRole::BiosBoot),
                    "empty" => Some(PartitionRole::Empty),
                    _ => None,
                });
                if let (Some(t), None) = (&text, role) {
                    d.push(Problem::BadValue {
                        node: "partition".to_owned(),
                        key: "role".to_owned(),
                        reason: format!("`{t}` is not a partition role"),
                        span: entry.span(),
                        help: did_you_mean(t, &["esp", "root", "bios-boot", "empty"]),
                    });
                }
                role
            }
        };
        let size = d.prop_parse(p, "size");
        let type_guid = d.prop_string(p, "type-guid");
        if let (Some(name), Some(role)) = (pname, role) {
            layout.partitions.push(PartitionSpec {
                name,
                role,
                size,
                type_guid,
            });
        }
    }
    layout
}

fn oci(d: &mut Decoder, children: &[&KdlNode], compression: Option<Compression>) -> OciTarget {
    let mut oci = OciTarget {
        compression: compression.unwrap_or_default(),
        ..OciTarget::default()
    };
    for child in children {
        let n = name(child);
        match n {
            "entrypoint" => {
                let usage = "entrypoint \"/bin/sh\" \"-c\" (or entrypoint command=\"/bin/app\")";
                d.shape(child, &["command"], usize::MAX, "", usage);
                d.leaf(child);
                let mut argv = d.arg_strings(child);
                if let Some(c) = d.prop_string(child, "command") {
                    argv.insert(0, c);
                }
                if argv.is_empty() {
                    d.missing(child, "an argument".to_owned(), usage);
                }
                oci.entrypoint = argv;
            }
            "cmd" => {
                d.shape(child, &[], usize::MAX, "", "cmd \"--help\"");
                d.leaf(child);
                oci.cmd = d.arg_strings(child);
            }
            "environment" => {
                d.shape(
                    child,
                    &[],
                    0,
                    "no arguments",
                    "environment { set \"KEY\" \"VALUE\" }",
                );
                for set in d.known_children(child, "environment", &["set"]) {
                    if let Some((k, v)) = pair(d, set, "set \"KEY\" \"VALUE\"") {
                        oci.env.push(EnvVar::new(k, v));
                    }
                }
            }
            "env" => {
                if let Some((k, v)) = pair(d, child, "env \"KEY\" \"VALUE\"") {
                    oci.env.push(EnvVar::new(k, v));
                }
            }
            "label" => {
                if let Some((k, v)) = pair(d, child, "label \"org.example.key\" \"value\"") {
                    oci.labels.insert(k, v);
                }
            }
            "annotation" => {
                if let Some((k, v)) = pair(d, child, "annotation \"org.example.key\" \"value\"") {
                    oci.annotations.insert(k, v);
                }
            }
            "port" => {
                d.shape(child, &[], usize::MAX, "", "port \"80/tcp\"");
                d.leaf(child);
                if args(child).next().is_none() {
                    d.missing(child, "an argument".to_owned(), "port \"80/tcp\"");
                }
                oci.exposed_ports.extend(d.arg_strings(child));
            }
            "user" => oci.user = one_string(d, child, "user \"1000:1000\""),
            "workdir" => oci.working_dir = one_string(d, child, "workdir \"/app\""),
            _ => {}
        }
    }
    oci
}

/// A node with exactly two string arguments (`set "KEY" "VALUE"`).
fn pair(d: &mut Decoder, node: &KdlNode, usage: &str) -> Option<(String, String)> {
    d.shape(node, &[], 2, "two arguments", usage);
    d.leaf(node);
    let mut it = args(node);
    let (Some(k), Some(v)) = (it.next(), it.next()) else {
        d.missing(node, "two arguments".to_owned(), usage);
        return None;
    };
    let k = d.string(node, k);
    let v = d.string(node, v);
    Some((k?, v?))
}

/// Decodes the `builder { … }` block.
pub(crate) fn builder(d: &mut Decoder, node: &KdlNode) -> BuilderVm {
    d.shape(node, &[], 0, "no arguments", "builder { vcpus 4 }");
    let mut vm = BuilderVm::default();
    for child in d.known_children(
        node,
        "builder",
        &["image", "binary", "vcpus", "memory", "disk"],
    ) {
        match name(child) {
            "image" => vm.image = one_string(d, child, "image \"oci://…\""),
            "binary" => {
                let usage = "binary \"<source>\" sha256=\"<hex>\"";
                d.shape(child, &["sha256"], 1, "one argument", usage);
                d.leaf(child);
                let source = d.required_arg(child, usage);
                let sha256 = d.prop_string(child, "sha256");
                if let Some(source) = source {
                    vm.binaries.push(Binary { source, sha256 });
                }
            }
            n => {
                let usage = format!("{n} 4");
                d.shape(child, &[], 1, "one argument", &usage);
                d.leaf(child);
                let value = match args(child).next() {
                    Some(e) => d.uint(child, e),
                    None => {
                        d.missing(child, "an argument".to_owned(), &usage);
                        None
                    }
                };
                match n {
                    "vcpus" => vm.vcpus = value,
                    "memory" => vm.memory_mb = value,
                    _ => vm.disk_gb = value,
                }
            }
        }
    }
    vm
}
