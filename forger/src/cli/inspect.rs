//! The text form of `inspect` and `targets`: what a person checks before building.

use std::fmt::Write;

use crate::model::{Overlay, Target, TargetKind};
use crate::plan::Plan;

/// The resolved image: identity, sources, packages, users and overlays in order, targets.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let m = &plan.metadata;
    let _ = writeln!(
        s,
        "{} {} ({}, {})",
        m.name,
        m.version,
        plan.distro,
        plan.architecture.as_str()
    );
    if let Some(d) = &m.description {
        let _ = writeln!(s, "  {d}");
    }
    if !plan.profiles.is_empty() {
        let _ = writeln!(s, "profiles: {}", plan.profiles.join(", "));
    }
    for p in &plan.repositories.publishers {
        let _ = writeln!(s, "publisher {} {}", p.name, p.origin);
    }
    let overridden = if plan.apt_mirrors_overridden {
        " (override)"
    } else {
        ""
    };
    for a in &plan.repositories.apt_mirrors {
        let _ = writeln!(
            s,
            "apt-mirror {} {} {}{overridden}",
            a.url,
            a.suite,
            a.components.join(" ")
        );
    }
    for k in &plan.apt_keyrings {
        let _ = writeln!(s, "apt-keyring {} {}", k.path.display(), k.sha256);
    }
    if let Some(i) = &plan.incorporation {
        let _ = writeln!(s, "incorporation {i}");
    }
    for v in &plan.variants {
        let _ = writeln!(s, "variant {}={}", v.name, v.value);
    }
    let _ = writeln!(s, "packages ({}):", plan.packages.len());
    for p in &plan.packages {
        let _ = writeln!(s, "  {p}");
    }
    if !plan.users.is_empty() {
        let _ = writeln!(s, "users:");
        for u in &plan.users {
            let _ = writeln!(s, "  {}", u.name);
        }
    }
    let _ = writeln!(s, "overlays ({}):", plan.overlays.len());
    for o in &plan.overlays {
        let _ = writeln!(s, "  {}", overlay_line(&o.action));
    }
    let _ = writeln!(s, "targets:");
    for t in &plan.targets {
        let _ = writeln!(s, "  {}", target_line(t));
    }
    s
}

fn own(owner: &Option<String>, group: &Option<String>) -> String {
    match (owner, group) {
        (None, None) => String::new(),
        (o, g) => format!(
            " {}:{}",
            o.as_deref().unwrap_or("root"),
            g.as_deref().unwrap_or("-")
        ),
    }
}

fn overlay_line(o: &Overlay) -> String {
    match o {
        Overlay::File(f) => {
            let from = match (&f.source, &f.content) {
                (Some(src), _) => format!(" <- {}", src.display()),
                (None, Some(_)) => " <- (inline)".to_owned(),
                (None, None) => " (empty)".to_owned(),
            };
            let mode = f.mode.map(|m| format!(" {m}")).unwrap_or_default();
            format!(
                "file {}{from}{}{mode}",
                f.destination,
                own(&f.owner, &f.group)
            )
        }
        Overlay::EnsureDir(d) => {
            let mode = d.mode.map(|m| format!(" {m}")).unwrap_or_default();
            format!("ensure-dir {}{}{mode}", d.path, own(&d.owner, &d.group))
        }
        Overlay::EnsureSymlink(l) => format!("ensure-symlink {} -> {}", l.path, l.target),
        Overlay::RemoveFiles(r) => {
            let mut parts = Vec::new();
            parts.extend(r.files.iter().map(|f| format!("file={f}")));
            parts.extend(r.dirs.iter().map(|f| format!("dir={f}")));
            parts.extend(r.patterns.iter().map(|f| format!("pattern={f}")));
            format!("remove-files {}", parts.join(" "))
        }
        Overlay::Shadow(sh) => format!("shadow {}", sh.username),
        Overlay::Devfsadm => "devfsadm".to_owned(),
    }
}

/// One line per target: name, kind, the settings that matter, push reference.
pub fn target_line(t: &Target) -> String {
    let detail = match &t.kind {
        TargetKind::Qcow2(d) | TargetKind::Raw(d) => {
            let fs = d
                .filesystem
                .map(|f| format!(" {f:?}").to_lowercase())
                .unwrap_or_default();
            let boot = d
                .bootloader
                .map(|b| format!(" {b:?}").to_lowercase())
                .unwrap_or_default();
            format!(" {}{fs}{boot}", d.disk_size)
        }
        TargetKind::Oci(o) if !o.entrypoint.is_empty() => format!(" entrypoint {:?}", o.entrypoint),
        _ => String::new(),
    };
    let push = t
        .push_to
        .as_ref()
        .map(|p| format!(" -> {p}"))
        .unwrap_or_default();
    format!("{} ({}{detail}){push}", t.name, t.kind.keyword())
}
