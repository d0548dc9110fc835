//! Export: the model → KDL v2 text laid out as a person writes a spec (sections separated by
//! blank lines, four-space indents, quoted strings, properties in the language's order).
//! [`crate::load_str`] reads the text back to an equal model.
//!
//! **Base and includes are referenced, not inlined:** KDL has no inline form for them, and a
//! spec that pulls in shared files should stay that way. `base`/`include` paths are written
//! relative to the image's `base_dir`, from the linked fragment's `name` (its canonical path,
//! as [`crate::load`] sets it), so the exported root file re-imports equal next to its
//! original. A fragment without a name (built in Rust) is referenced as `fragment-<n>.kdl`
//! (an unnamed base as `<metadata name>.kdl`); write those files with [`to_kdl_fragment`]
//! and [`to_kdl`]. An overlay block's own `base_dir` has no KDL spelling and is not written.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use forger::model::{
    Bootloader, Compression, DiskLayout, DiskTarget, Fragment, FsKind, Image, OciTarget, Overlay,
    PartitionRole, Property, SectorSize, Target, TargetKind, ZfsPool,
};

/// The KDL v2 text of `image`'s own spec file (base and includes referenced by path).
pub fn to_kdl(image: &Image) -> String {
    let mut w = Writer::default();
    let m = &image.metadata;
    let mut line = format!("metadata name={} version={}", q(&m.name), q(&m.version));
    if let Some(d) = &m.description {
        let _ = write!(line, " description={}", q(d));
    }
    w.line(&line);
    w.blank();
    if let Some(d) = &image.distro {
        w.line(&format!("distro {}", q(&d.to_string())));
    }
    if let Some(a) = image.architecture {
        w.line(&format!("architecture {}", q(a.as_str())));
    }
    let dir = image.content.base_dir.as_deref();
    if let Some(base) = &image.base {
        let fallback = format!("{}.kdl", base.metadata.name);
        let path = link_path(dir, base.content.name.as_deref(), &fallback);
        w.line(&format!("base {}", q(&path)));
    }
    links(&mut w, &image.content);
    if let Some(h) = &image.build_host {
        w.line(&format!("build-host {}", q(h)));
    }
    content(&mut w, &image.content);
    if let Some(vm) = &image.builder_vm {
        w.blank();
        w.open("builder");
        if let Some(i) = &vm.image {
            w.line(&format!("image {}", q(i)));
        }
        for b in &vm.binaries {
            let mut l = format!("binary {}", q(&b.source));
            if let Some(s) = &b.sha256 {
                let _ = write!(l, " sha256={}", q(s));
            }
            w.line(&l);
        }
        for (key, value) in [
            ("vcpus", vm.vcpus),
            ("memory", vm.memory_mb),
            ("disk", vm.disk_gb),
        ] {
            if let Some(v) = value {
                w.line(&format!("{key} {v}"));
            }
        }
        w.close();
    }
    for t in &image.targets {
        w.blank();
        target(&mut w, t);
    }
    w.finish()
}

/// The KDL v2 text of an includable file holding `fragment` (no metadata).
pub fn to_kdl_fragment(fragment: &Fragment) -> String {
    let mut w = Writer::default();
    links(&mut w, fragment);
    content(&mut w, fragment);
    w.finish()
}

fn links(w: &mut Writer, f: &Fragment) {
    for (n, inc) in f.includes.iter().enumerate() {
        let fallback = format!("fragment-{}.kdl", n + 1);
        let path = link_path(f.base_dir.as_deref(), inc.name.as_deref(), &fallback);
        w.line(&format!("include {}", q(&path)));
    }
}

/// The path of a linked file relative to the declaring directory.
fn link_path(dir: Option<&Path>, name: Option<&str>, fallback: &str) -> String {
    let Some(name) = name else {
        return fallback.to_owned();
    };
    let target = Path::new(name);
    let Some(dir) = dir else {
        return name.to_owned();
    };
    if let Ok(rest) = target.strip_prefix(dir) {
        return rest.display().to_string();
    }
    // Walk up from `dir` to the common ancestor.
    let d: Vec<Component> = dir.components().collect();
    let t: Vec<Component> = target.components().collect();
    let common = d.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return name.to_owned();
    }
    let mut out = PathBuf::new();
    for _ in common..d.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out.display().to_string()
}

fn content(w: &mut Writer, f: &Fragment) {
    if let Some(i) = &f.incorporation {
        w.blank();
        w.line(&format!("incorporation {}", q(i)));
    }
    if !f.repositories.is_empty() {
        w.blank();
        w.open("repositories");
        for p in &f.repositories.publishers {
            w.line(&format!(
                "publisher name={} origin={}",
                q(&p.name),
                q(&p.origin)
            ));
        }
        for m in &f.repositories.apt_mirrors {
            let mut l = format!("apt-mirror {} suite={}", q(&m.url), q(&m.suite));
            if !m.components.is_empty() {
                let _ = write!(l, " components={}", q(&m.components.join(" ")));
            }
            w.line(&l);
        }
        w.close();
    }
    if !f.certificates.is_empty() {
        w.blank();
        w.open("certificates");
        for c in &f.certificates {
            w.line(&format!(
                "ca publisher={} certfile={}",
                q(&c.publisher),
                q(&c.certfile.display().to_string())
            ));
        }
        w.close();
    }
    if !f.variants.is_empty() {
        w.blank();
        w.open("variants");
        for v in &f.variants {
            w.line(&format!("set name={} value={}", q(&v.name), q(&v.value)));
        }
        w.close();
    }
    if !f.facets.is_empty() {
        w.blank();
        w.open("facets");
        for v in &f.facets {
            w.line(&format!("set name={} value=#{}", q(&v.name), v.value));
        }
        w.close();
    }
    for set in &f.packages {
        w.blank();
        w.open(&with_profile("packages", set.profile.as_deref()));
        for p in &set.packages {
            w.line(&format!("package {}", q(p.as_str())));
        }
        w.close();
    }
    for c in &f.customizations {
        w.blank();
        w.open(&with_profile("customization", c.profile.as_deref()));
        for u in &c.users {
            let mut l = format!("user {}", q(&u.name));
            for (k, v) in [("uid", u.uid), ("gid", u.gid)] {
                if let Some(v) = v {
                    let _ = write!(l, " {k}={v}");
                }
            }
            for (k, v) in [("shell", &u.shell), ("home", &u.home)] {
                if let Some(v) = v {
                    let _ = write!(l, " {k}={}", q(v));
                }
            }
            if !u.create_home {
                l.push_str(" create-home=#false");
            }
            for (k, v) in [("password-hash", &u.password_hash), ("comment", &u.comment)] {
                if let Some(v) = v {
                    let _ = write!(l, " {k}={}", q(v));
                }
            }
            if u.groups.is_empty() && u.authorized_keys.is_empty() {
                w.line(&l);
            } else {
                w.open(&l);
                for g in &u.groups {
                    w.line(&format!("group {}", q(g)));
                }
                for k in &u.authorized_keys {
                    w.line(&format!("authorized-key {}", q(k)));
                }
                w.close();
            }
        }
        w.close();
    }
    for set in &f.overlays {
        w.blank();
        w.open(&with_profile("overlays", set.profile.as_deref()));
        for a in &set.actions {
            w.line(&overlay(a));
        }
        w.close();
    }
}

fn overlay(a: &Overlay) -> String {
    let owner = |l: &mut String, owner: &Option<String>, group: &Option<String>| {
        if let Some(o) = owner {
            let _ = write!(l, " owner={}", q(o));
        }
        if let Some(g) = group {
            let _ = write!(l, " group={}", q(g));
        }
    };
    let mode = |l: &mut String, mode: Option<forger::model::Mode>| {
        if let Some(m) = mode {
            let _ = write!(l, " mode=\"{:o}\"", m.bits());
        }
    };
    match a {
        Overlay::File(f) => {
            let mut l = format!("file destination={}", q(&f.destination));
            if let Some(s) = &f.source {
                let _ = write!(l, " source={}", q(&s.display().to_string()));
            }
            if let Some(c) = &f.content {
                let _ = write!(l, " content={}", q(c));
            }
            owner(&mut l, &f.owner, &f.group);
            mode(&mut l, f.mode);
            l
        }
        Overlay::EnsureDir(d) => {
            let mut l = format!("ensure-dir {}", q(&d.path));
            owner(&mut l, &d.owner, &d.group);
            mode(&mut l, d.mode);
            l
        }
        Overlay::EnsureSymlink(s) => {
            let mut l = format!("ensure-symlink {} target={}", q(&s.path), q(&s.target));
            owner(&mut l, &s.owner, &s.group);
            l
        }
        Overlay::RemoveFiles(r) => {
            let mut l = "remove-files".to_owned();
            for f in &r.files {
                let _ = write!(l, " {}", q(f));
            }
            for d in &r.dirs {
                let _ = write!(l, " dir={}", q(d));
            }
            for p in &r.patterns {
                let _ = write!(l, " pattern={}", q(p));
            }
            l
        }
        Overlay::Shadow(s) => format!(
            "shadow username={} password={}",
            q(&s.username),
            q(&s.password)
        ),
        Overlay::Devfsadm => "devfsadm".to_owned(),
    }
}

fn target(w: &mut Writer, t: &Target) {
    let head = format!("target {} kind=\"{}\"", q(&t.name), t.kind.keyword());
    let mut body = Writer::default();
    match &t.kind {
        TargetKind::Qcow2(d) | TargetKind::Raw(d) => disk(&mut body, d),
        TargetKind::Oci(o) => oci(&mut body, o),
        TargetKind::Artifact(a) => {
            if a.compression != Compression::default() {
                body.line(&format!("compression \"{}\"", compression(a.compression)));
            }
        }
    }
    if let Some(p) = &t.push_to {
        body.line(&format!("push-to {}", q(p)));
    }
    if body.out.is_empty() {
        w.line(&head);
    } else {
        w.open(&head);
        for l in body.out.lines() {
            w.line(l);
        }
        w.close();
    }
}

fn disk(w: &mut Writer, d: &DiskTarget) {
    w.line(&format!("disk-size \"{}\"", d.disk_size));
    if let Some(b) = d.bootloader {
        let b = match b {
            Bootloader::Uefi => "uefi",
            Bootloader::Bios => "bios",
            Bootloader::Both => "both",
            Bootloader::Grub => "grub",
        };
        w.line(&format!("bootloader \"{b}\""));
    }
    if let Some(f) = d.filesystem {
        let f = match f {
            FsKind::Zfs => "zfs",
            FsKind::Ext4 => "ext4",
        };
        w.line(&format!("filesystem \"{f}\""));
    }
    if let Some(c) = d.compression {
        w.line(&format!("compression \"{}\"", compression(c)));
    }
    if d.pool != ZfsPool::default() {
        pool(w, &d.pool);
    }
    if d.layout != DiskLayout::default() {
        let l = &d.layout;
        let mut head = "layout".to_owned();
        if l.sector_size != SectorSize::default() {
            let _ = write!(head, " sector-size={}", l.sector_size.bytes());
        }
        if let Some(e) = l.esp_size {
            let _ = write!(head, " esp-size=\"{e}\"");
        }
        if l.partitions.is_empty() {
            w.line(&head);
        } else {
            w.open(&head);
            for p in &l.partitions {
                let role = match p.role {
                    PartitionRole::Esp => "esp",
                    PartitionRole::Root => "root",
                    PartitionRole::BiosBoot => "bios-boot",
                    PartitionRole::Empty => "empty",
                };
                let mut line = format!("partition {} role=\"{role}\"", q(&p.name));
                if let Some(s) = p.size {
                    let _ = write!(line, " size=\"{s}\"");
                }
                if let Some(g) = &p.type_guid {
                    let _ = write!(line, " type-guid={}", q(g));
                }
                w.line(&line);
            }
            w.close();
        }
    }
}

fn pool(w: &mut Writer, p: &ZfsPool) {
    let mut head = "pool".to_owned();
    if p.name != ZfsPool::default().name {
        let _ = write!(head, " name={}", q(&p.name));
    }
    if let Some(be) = &p.boot_environment {
        let _ = write!(head, " boot-environment={}", q(be));
    }
    if p.properties.is_empty() && p.filesystem_properties.is_empty() && p.datasets.is_empty() {
        w.line(&head);
        return;
    }
    w.open(&head);
    let prop = |w: &mut Writer, node: &str, p: &Property| {
        w.line(&format!("{node} name={} value={}", q(&p.name), q(&p.value)));
    };
    for p in &p.properties {
        prop(w, "property", p);
    }
    for p in &p.filesystem_properties {
        prop(w, "filesystem-property", p);
    }
    for ds in &p.datasets {
        let head = format!("dataset {}", q(&ds.name));
        if ds.properties.is_empty() {
            w.line(&head);
        } else {
            w.open(&head);
            for p in &ds.properties {
                prop(w, "property", p);
            }
            w.close();
        }
    }
    w.close();
}

fn oci(w: &mut Writer, o: &OciTarget) {
    let argv = |name: &str, v: &[String]| {
        let mut l = name.to_owned();
        for a in v {
            let _ = write!(l, " {}", q(a));
        }
        l
    };
    if !o.entrypoint.is_empty() {
        w.line(&argv("entrypoint", &o.entrypoint));
    }
    if !o.cmd.is_empty() {
        w.line(&argv("cmd", &o.cmd));
    }
    for e in &o.env {
        w.line(&format!("env {} {}", q(&e.name), q(&e.value)));
    }
    if let Some(d) = &o.working_dir {
        w.line(&format!("workdir {}", q(d)));
    }
    if let Some(u) = &o.user {
        w.line(&format!("user {}", q(u)));
    }
    if !o.exposed_ports.is_empty() {
        w.line(&argv("port", &o.exposed_ports));
    }
    for (k, v) in &o.labels {
        w.line(&format!("label {} {}", q(k), q(v)));
    }
    for (k, v) in &o.annotations {
        w.line(&format!("annotation {} {}", q(k), q(v)));
    }
    if o.compression != Compression::default() {
        w.line(&format!("compression \"{}\"", compression(o.compression)));
    }
}

fn compression(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

fn with_profile(node: &str, profile: Option<&str>) -> String {
    match profile {
        Some(p) => format!("{node} if={}", q(p)),
        None => node.to_owned(),
    }
}

/// A KDL v2 quoted string with every character escaped that v2 does not allow literally.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control()
                || matches!(c, '\u{200E}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                    | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Indented line output.
#[derive(Default)]
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn line(&mut self, s: &str) {
        for _ in 0..self.depth {
            self.out.push_str("    ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }
    /// A blank line between sections (never at the start, never two).
    fn blank(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") && self.depth == 0 {
            self.out.push('\n');
        }
    }
    fn open(&mut self, head: &str) {
        self.line(&format!("{head} {{"));
        self.depth += 1;
    }
    fn close(&mut self) {
        self.depth -= 1;
        self.line("}");
    }
    fn finish(self) -> String {
        self.out
    }
}
