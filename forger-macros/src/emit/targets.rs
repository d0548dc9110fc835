//! `target` nodes: the kind decides which children fit (disk, OCI or artifact settings);
//! disk targets need a size, and bootloader/filesystem are checked against the distro.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::quote;

use super::{Cx, setter, vec_setter};
use crate::literals;
use crate::syntax::{Name, Node, Value};

const DISK_CHILDREN: &[&str] = &[
    "disk-size",
    "bootloader",
    "filesystem",
    "compression",
    "pool",
    "layout",
    "push-to",
];
const OCI_CHILDREN: &[&str] = &[
    "entrypoint",
    "cmd",
    "environment",
    "env",
    "working-dir",
    "user",
    "label",
    "expose",
    "annotation",
    "compression",
    "push-to",
];
const ARTIFACT_CHILDREN: &[&str] = &["compression", "push-to"];
const ALL_TARGET_CHILDREN: &[&str] = &[
    "disk-size",
    "bootloader",
    "filesystem",
    "compression",
    "pool",
    "layout",
    "push-to",
    "entrypoint",
    "cmd",
    "environment",
    "env",
    "working-dir",
    "user",
    "label",
    "expose",
    "annotation",
];

/// The error collector and the emitters.
impl Cx {
    // ----- targets -------------------------------------------------------------------------

    pub(super) fn targets(
        &mut self,
        nodes: &[&Node],
        family_ips: Option<bool>,
    ) -> Vec<TokenStream> {
        let mut names: BTreeMap<String, Span> = BTreeMap::new();
        let mut out = Vec::new();
        for node in nodes {
            if let [Value::Str(s)] = node.args.as_slice() {
                if let Some(first) = names.get(&s.value()) {
                    let first = *first;
                    self.err(
                        s,
                        format!(
                            "two targets are named \"{}\": rename one, target names name the output files",
                            s.value()
                        ),
                    );
                    self.err_at(first, "the first target with this name");
                } else {
                    names.insert(s.value(), s.span());
                }
            }
            if let Some(t) = self.target(node, family_ips) {
                out.push(t);
            }
        }
        out
    }

    pub(super) fn target(&mut self, node: &Node, family_ips: Option<bool>) -> Option<TokenStream> {
        let p = self.props(node, &["kind"]);
        let name = match node.args.as_slice() {
            [v] => self.text(v, "target"),
            _ => {
                self.err(
                    &node.name,
                    "`target` takes its name: target \"disk\" kind=\"qcow2\" { disk-size \"8G\" }",
                );
                None
            }
        };
        let kind = match p.get("kind") {
            None => {
                self.err(
                    &node.name,
                    "this target has no `kind`: add kind=\"qcow2\", \"raw\", \"oci\" or \"artifact\"",
                );
                None
            }
            Some(Value::Str(s)) => match literals::TARGET_KIND.variant(&s.value()) {
                Some(k) => Some(k),
                None => {
                    self.keyword(&Value::Str(s.clone()), &literals::TARGET_KIND);
                    None
                }
            },
            Some(other) => {
                self.err_at(
                    other.span(),
                    "the target kind must be written out (\"qcow2\", \"raw\", \"oci\" or \"artifact\"): it decides which children the target takes",
                );
                None
            }
        };
        let children = self.raw_block(node);
        let kind = kind?;
        let (allowed, label) = match kind {
            "Qcow2" => (DISK_CHILDREN, "a qcow2"),
            "Raw" => (DISK_CHILDREN, "a raw"),
            "Oci" => (OCI_CHILDREN, "an oci"),
            _ => (ARTIFACT_CHILDREN, "an artifact"),
        };
        let mut seen: BTreeMap<String, Name> = BTreeMap::new();
        let mut fitting = Vec::new();
        let mut misfit = false;
        for child in children {
            let n = child.name.text.clone();
            if !allowed.contains(&n.as_str()) {
                misfit = true;
                if ALL_TARGET_CHILDREN.contains(&n.as_str()) {
                    let owners: Vec<&str> = [
                        ("qcow2/raw", DISK_CHILDREN),
                        ("oci", OCI_CHILDREN),
                        ("artifact", ARTIFACT_CHILDREN),
                    ]
                    .into_iter()
                    .filter(|(_, l)| l.contains(&n.as_str()))
                    .map(|(k, _)| k)
                    .collect();
                    self.err(
                        &child.name,
                        format!(
                            "`{n}` does not apply to {label} target; it belongs to {} targets",
                            owners.join(" and ")
                        ),
                    );
                } else {
                    self.unknown(&child.name, allowed, &format!("{label} target"));
                }
                continue;
            }
            let repeatable = matches!(n.as_str(), "env" | "label" | "expose" | "annotation");
            if !repeatable {
                if seen.contains_key(&n) {
                    self.err(&child.name, format!("`{n}` is given twice in this target"));
                    continue;
                }
                seen.insert(n.clone(), child.name.clone());
            }
            fitting.push(child);
        }
        let mut push_to = None;
        let mut compression = None;
        for child in &fitting {
            match child.name.text.as_str() {
                "push-to" => {
                    self.props(child, &[]);
                    push_to = self
                        .one_arg(child, "push-to \"ghcr.io/org/image:tag\"")
                        .and_then(|v| self.text(&v, "push-to"));
                }
                "compression" => {
                    self.props(child, &[]);
                    compression = self
                        .one_arg(child, "compression \"zstd\"")
                        .and_then(|v| self.keyword(&v, &literals::COMPRESSION));
                }
                _ => {}
            }
        }
        let kind_tokens = match kind {
            "Qcow2" | "Raw" => {
                let disk = self.disk(node, &fitting, compression, family_ips, misfit)?;
                let v = syn::Ident::new(kind, Span::call_site());
                quote!(::forger::model::TargetKind::#v(#disk))
            }
            "Oci" => {
                let oci = self.oci(&fitting, compression);
                quote!(::forger::model::TargetKind::Oci(#oci))
            }
            _ => {
                let c = setter("compression", compression);
                quote!(::forger::model::TargetKind::Artifact(
                    ::forger::model::ArtifactTarget::builder() #c .build()
                ))
            }
        };
        let push_to = setter("push_to", push_to);
        let name = name?;
        Some(quote! {
            ::forger::model::Target::named(#name)
                .kind(#kind_tokens)
                #push_to
                .build()
        })
    }

    pub(super) fn disk(
        &mut self,
        node: &Node,
        children: &[Node],
        compression: Option<TokenStream>,
        family_ips: Option<bool>,
        misfit: bool,
    ) -> Option<TokenStream> {
        let mut size = None;
        let mut has_size = false;
        let mut boot = None;
        let mut fs = None;
        let mut pool = None;
        let mut layout = None;
        for child in children {
            let n = child.name.text.as_str();
            match n {
                "disk-size" => {
                    has_size = true;
                    self.props(child, &[]);
                    size = self
                        .one_arg(child, "disk-size \"8G\"")
                        .and_then(|v| self.size(&v, "disk-size"));
                }
                "bootloader" => {
                    self.props(child, &[]);
                    let v = self.one_arg(child, "bootloader \"uefi\"");
                    if let (Some(Value::Str(s)), Some(true)) = (&v, family_ips)
                        && literals::BOOTLOADER.variant(&s.value()) == Some("Grub")
                    {
                        self.err(
                            s,
                            format!(
                                "bootloader \"{}\" is for Linux; illumos distributions boot with their own loader: use \"uefi\", \"bios\" or \"both\"",
                                s.value()
                            ),
                        );
                        continue;
                    }
                    boot = v.and_then(|v| self.keyword(&v, &literals::BOOTLOADER));
                }
                "filesystem" => {
                    self.props(child, &[]);
                    let v = self.one_arg(child, "filesystem \"zfs\"");
                    if let (Some(Value::Str(s)), Some(ips)) = (&v, family_ips) {
                        let f = literals::FILESYSTEM.variant(&s.value());
                        if ips && f == Some("Ext4") {
                            self.err(
                                s,
                                "illumos distributions cannot boot from ext4: use filesystem \"zfs\"",
                            );
                            continue;
                        }
                        if !ips && f == Some("Zfs") {
                            self.err(
                                s,
                                "Forger has no ZFS root for Debian and Ubuntu: use filesystem \"ext4\"",
                            );
                            continue;
                        }
                    }
                    fs = v.and_then(|v| self.keyword(&v, &literals::FILESYSTEM));
                }
                "pool" => pool = self.pool(child),
                "layout" => layout = self.layout(child),
                _ => {}
            }
        }
        if !has_size {
            if misfit {
                // A misspelt `disk-size` was reported already; say it once.
                return None;
            }
            self.err(
                &node.name,
                "a disk target needs its size: add `disk-size \"8G\"` inside the target block",
            );
            return None;
        }
        let size = size?;
        let rest = [
            setter("bootloader", boot),
            setter("filesystem", fs),
            setter("pool", pool),
            setter("layout", layout),
            setter("compression", compression),
        ];
        Some(quote! {
            ::forger::model::DiskTarget::builder().disk_size(#size) #(#rest)* .build()
        })
    }

    pub(super) fn property_list(&mut self, nodes: &[Node]) -> Vec<TokenStream> {
        nodes
            .iter()
            .filter_map(|child| {
                let p = self.props(child, &["name", "value"]);
                self.leaf_args(child, 0, "property name=\"ashift\" value=\"12\"");
                let name = self.required(child, &p, "name");
                let value = self.required(child, &p, "value");
                let (name, value) = (name?, value?);
                Some(quote!(::forger::model::Property::new(#name, #value)))
            })
            .collect()
    }

    pub(super) fn pool(&mut self, node: &Node) -> Option<TokenStream> {
        let p = self.props(node, &["name", "boot-environment"]);
        let name = p.get("name").and_then(|v| self.text(v, "name"));
        let be = p
            .get("boot-environment")
            .and_then(|v| self.text(v, "boot-environment"));
        let kids = ["property", "filesystem-property", "dataset"];
        let children = self.block(node, &kids, "pool");
        let (props, rest): (Vec<Node>, Vec<Node>) = children
            .into_iter()
            .partition(|c| c.name.text == "property");
        let (fs_props, datasets): (Vec<Node>, Vec<Node>) = rest
            .into_iter()
            .partition(|c| c.name.text == "filesystem-property");
        let props = self.property_list(&props);
        let fs_props = self.property_list(&fs_props);
        let mut sets = Vec::new();
        for d in &datasets {
            self.props(d, &[]);
            let name = match d.args.as_slice() {
                [v] => self.text(v, "dataset"),
                _ => {
                    self.err(
                        &d.name,
                        "`dataset` takes its name relative to the pool: dataset \"export/home\" { property name=\"mountpoint\" value=\"/export/home\" }",
                    );
                    None
                }
            };
            let kids = self.block(d, &["property"], "dataset");
            let ps = self.property_list(&kids);
            let ps = vec_setter("properties", &ps);
            if let Some(name) = name {
                sets.push(quote!(::forger::model::Dataset::named(#name) #ps .build()));
            }
        }
        let rest = [
            setter("name", name),
            setter("boot_environment", be),
            vec_setter("properties", &props),
            vec_setter("filesystem_properties", &fs_props),
            vec_setter("datasets", &sets),
        ];
        Some(quote!(::forger::model::ZfsPool::builder() #(#rest)* .build()))
    }

    pub(super) fn layout(&mut self, node: &Node) -> Option<TokenStream> {
        let p = self.props(node, &["sector-size", "esp-size"]);
        let sector = p.get("sector-size").and_then(|v| match v {
            Value::Int(i) => self.keyword(
                &Value::Str(syn::LitStr::new(&i.to_string(), i.span())),
                &literals::SECTOR_SIZE,
            ),
            other => self.keyword(other, &literals::SECTOR_SIZE),
        });
        let esp = p.get("esp-size").and_then(|v| self.size(v, "esp-size"));
        let mut parts = Vec::new();
        for child in self.block(node, &["partition"], "layout") {
            let p = self.props(&child, &["role", "size", "type-guid"]);
            let name = self
                .one_arg(
                    &child,
                    "partition \"root\" role=\"root\" size=\"4G\" (size is optional on the last)",
                )
                .and_then(|v| self.text(&v, "partition"));
            let role = match p.get("role") {
                Some(v) => self.keyword(v, &literals::ROLE),
                None => {
                    self.err(
                        &child.name,
                        "a partition needs `role=\"esp\"`, \"root\", \"bios-boot\" or \"empty\"",
                    );
                    None
                }
            };
            let size = p.get("size").and_then(|v| self.size(v, "size"));
            let guid = p.get("type-guid").and_then(|v| self.text(v, "type-guid"));
            let rest = [setter("size", size), setter("type_guid", guid)];
            if let (Some(name), Some(role)) = (name, role) {
                parts.push(quote! {
                    ::forger::model::PartitionSpec::named(#name).role(#role) #(#rest)* .build()
                });
            }
        }
        let rest = [
            setter("sector_size", sector),
            setter("esp_size", esp),
            vec_setter("partitions", &parts),
        ];
        Some(quote!(::forger::model::DiskLayout::builder() #(#rest)* .build()))
    }

    pub(super) fn oci(
        &mut self,
        children: &[Node],
        compression: Option<TokenStream>,
    ) -> TokenStream {
        let mut entrypoint = Vec::new();
        let mut cmd = Vec::new();
        let mut env = Vec::new();
        let mut working_dir = None;
        let mut user = None;
        let mut labels = Vec::new();
        let mut ports = Vec::new();
        let mut annotations = Vec::new();
        for child in children {
            let n = child.name.text.as_str();
            match n {
                "entrypoint" | "cmd" => {
                    let p = self.props(child, &["command"]);
                    let values = self.leaf_values(child);
                    let into = if n == "cmd" {
                        &mut cmd
                    } else {
                        &mut entrypoint
                    };
                    match (p.get("command"), values.is_empty()) {
                        (Some(Value::Str(s)), true) => {
                            for part in s.value().split_whitespace() {
                                into.push(quote!(::std::string::String::from(#part)));
                            }
                        }
                        (Some(other), true) => self.err_at(
                            other.span(),
                            "`command` is a string split at spaces; for other values give the arguments one by one",
                        ),
                        (None, false) => {
                            for v in &values {
                                if let Some(s) = self.string(v, n) {
                                    into.push(s);
                                }
                            }
                        }
                        _ => self.err(
                            &child.name,
                            format!(
                                "`{n}` takes either its arguments (`{n} \"/bin/sh\" \"-c\" \"…\"`) or `command=\"…\"`, one of the two"
                            ),
                        ),
                    }
                }
                "environment" => {
                    for set in self.block(child, &["set"], "environment") {
                        self.props(&set, &[]);
                        if let Some(e) = self.key_value(&set, "set \"PATH\" \"/usr/bin\"") {
                            env.push(quote!(::forger::model::EnvVar::new #e));
                        }
                    }
                }
                "env" => {
                    self.props(child, &[]);
                    if let Some(e) = self.key_value(child, "env \"PATH\" \"/usr/bin\"") {
                        env.push(quote!(::forger::model::EnvVar::new #e));
                    }
                }
                "label" | "annotation" => {
                    self.props(child, &[]);
                    let usage = format!("{n} \"org.example.key\" \"value\"");
                    let values = self.leaf_args(child, 2, &usage);
                    if let [k, v] = values.as_slice() {
                        let (k, v) = (self.string(k, n), self.string(v, n));
                        if let (Some(k), Some(v)) = (k, v) {
                            let into = if n == "label" {
                                &mut labels
                            } else {
                                &mut annotations
                            };
                            into.push(quote!((#k, #v)));
                        }
                    }
                }
                "expose" => {
                    self.props(child, &[]);
                    let values = self.leaf_values(child);
                    if values.is_empty() {
                        self.err(
                            &child.name,
                            "`expose` takes ports: expose \"80/tcp\" \"53/udp\"",
                        );
                    }
                    for v in &values {
                        if let Value::Str(s) = v
                            && !valid_port(&s.value())
                        {
                            self.err(
                                s,
                                format!(
                                    "\"{}\" is not a port: write PORT or PORT/PROTO, like \"80/tcp\" or \"53/udp\"",
                                    s.value()
                                ),
                            );
                            continue;
                        }
                        if let Some(s) = self.string(v, "expose") {
                            ports.push(s);
                        }
                    }
                }
                "working-dir" | "user" => {
                    self.props(child, &[]);
                    let v = self
                        .one_arg(child, &format!("{n} \"…\""))
                        .and_then(|v| self.text(&v, n));
                    if n == "user" {
                        user = v;
                    } else {
                        working_dir = v;
                    }
                }
                _ => {}
            }
        }
        let map = |items: &[TokenStream]| quote!(::std::collections::BTreeMap::from([#(#items),*]));
        let labels = (!labels.is_empty()).then(|| map(&labels));
        let annotations = (!annotations.is_empty()).then(|| map(&annotations));
        let rest = [
            vec_setter("entrypoint", &entrypoint),
            vec_setter("cmd", &cmd),
            vec_setter("env", &env),
            setter("working_dir", working_dir),
            setter("user", user),
            setter("labels", labels),
            vec_setter("exposed_ports", &ports),
            setter("annotations", annotations),
            setter("compression", compression),
        ];
        quote!(::forger::model::OciTarget::builder() #(#rest)* .build())
    }

    /// `"KEY" "VALUE"` as `(key, value)` argument tokens.
    pub(super) fn key_value(&mut self, node: &Node, usage: &str) -> Option<TokenStream> {
        let values = self.leaf_args(node, 2, usage);
        let [k, v] = values.as_slice() else {
            return None;
        };
        let (k, v) = (self.text(k, "name"), self.text(v, "value"));
        let (k, v) = (k?, v?);
        Some(quote!((#k, #v)))
    }
}

fn valid_port(p: &str) -> bool {
    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    port.parse::<u16>().is_ok_and(|n| n > 0) && matches!(proto, "tcp" | "udp" | "sctp")
}
