//! The nodes of an image's content and identity: `metadata`, `distro`, `repositories`,
//! users, overlay actions and the builder VM.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Content, Cx, Props, setter, vec_setter};
use crate::literals;
use crate::syntax::{Node, Value};

impl Cx {
    // ----- top-level nodes -----------------------------------------------------------------

    pub(super) fn metadata(&mut self, node: &Node) -> Option<TokenStream> {
        let p = self.props(node, &["name", "version", "description"]);
        self.leaf_args(
            node,
            0,
            "metadata name=\"my-image\" version=\"1.0.0\" description=\"…\"",
        );
        let missing: Vec<&str> = ["name", "version"]
            .into_iter()
            .filter(|k| p.get(k).is_none())
            .collect();
        if !missing.is_empty() {
            self.err(
                &node.name,
                format!(
                    "`metadata` needs {}: write `metadata name=\"my-image\" version=\"1.0.0\"`",
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            );
        }
        let name = p.get("name").and_then(|v| self.text(v, "name"));
        let version = p.get("version").and_then(|v| self.text(v, "version"));
        let description = p
            .get("description")
            .and_then(|v| self.text(v, "description"));
        let description = setter("description", description);
        Some(quote! {
            ::forger::model::Metadata::builder()
                .name(#name)
                .version(#version)
                #description
                .build()
        })
        .filter(|_| missing.is_empty())
    }

    /// The distro, and whether it is an IPS one (unknown for an expression).
    pub(super) fn distro(&mut self, node: &Node) -> Option<(TokenStream, Option<bool>)> {
        self.props(node, &[]);
        let v = self.one_arg(node, "distro \"debian-12\"")?;
        match &v {
            Value::Str(s) => match literals::distro(&s.value()) {
                Some(d) => {
                    let ips = d.is_ips();
                    let tokens = match d {
                        literals::Distro::OmniOs => quote!(::forger::model::Distro::OmniOs),
                        literals::Distro::OpenIndiana => {
                            quote!(::forger::model::Distro::OpenIndiana)
                        }
                        literals::Distro::Ubuntu(v) => quote!(
                            ::forger::model::Distro::Ubuntu(::std::string::String::from(#v))
                        ),
                        literals::Distro::Debian(v) => quote!(
                            ::forger::model::Distro::Debian(::std::string::String::from(#v))
                        ),
                    };
                    Some((tokens, Some(ips)))
                }
                None => {
                    self.err(
                        s,
                        format!(
                            "\"{}\" is not a known distribution: use \"omnios\", \"openindiana\", \"debian-<version>\" or \"ubuntu-<version>\"",
                            s.value()
                        ),
                    );
                    None
                }
            },
            Value::Braced(g) => self.expr(g).map(|e| (e, None)),
            other => {
                self.err_at(other.span(), "the distro is a string, like \"debian-12\"");
                None
            }
        }
    }

    pub(super) fn repositories(&mut self, node: &Node, c: &mut Content) {
        self.props(node, &[]);
        for child in self.block(node, &["publisher", "apt-mirror"], "repositories") {
            if child.name.text == "publisher" {
                let p = self.props(&child, &["name", "origin"]);
                self.leaf_args(
                    &child,
                    0,
                    "publisher name=\"omnios\" origin=\"https://pkg.omnios.org/bloody/core/\"",
                );
                let name = self.required(&child, &p, "name");
                let origin = self.required(&child, &p, "origin");
                if let (Some(name), Some(origin)) = (name, origin) {
                    c.publishers.push(quote! {
                        ::forger::model::Publisher::with_name(#name).origin(#origin).build()
                    });
                }
            } else {
                let p = self.props(&child, &["suite", "components"]);
                let usage = "apt-mirror \"http://deb.debian.org/debian\" suite=\"bookworm\" components=\"main\"";
                let url = self
                    .one_arg(&child, usage)
                    .and_then(|v| self.text(&v, "apt-mirror"));
                let suite = self.required(&child, &p, "suite");
                let components = match p.get("components") {
                    Some(Value::Str(s)) => {
                        let parts: Vec<String> =
                            s.value().split_whitespace().map(str::to_owned).collect();
                        quote!(.components(::std::vec::Vec::from([#(::std::string::String::from(#parts)),*])))
                    }
                    Some(v @ Value::Braced(g)) => {
                        let e = self.expr(g);
                        let _ = v;
                        quote!(.components(#e))
                    }
                    Some(other) => {
                        self.err_at(
                            other.span(),
                            "components are a string of space-separated names, like components=\"main contrib\"",
                        );
                        TokenStream::new()
                    }
                    None => TokenStream::new(),
                };
                if let (Some(url), Some(suite)) = (url, suite) {
                    c.apt_mirrors.push(quote! {
                        ::forger::model::AptMirror::with_url(#url).suite(#suite) #components .build()
                    });
                }
            }
        }
    }

    pub(super) fn user(&mut self, node: &Node) -> Option<TokenStream> {
        let p = self.props(
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
        );
        let name = match node.args.as_slice() {
            [v] => self.text(v, "user"),
            _ => {
                self.err(
                    &node.name,
                    "`user` takes the login name: user \"ci\" uid=1000 { groups \"sudo\" }",
                );
                None
            }
        };
        let uid = p.get("uid").and_then(|v| self.uint(v, "uid", "uid=1000"));
        let gid = p.get("gid").and_then(|v| self.uint(v, "gid", "gid=1000"));
        let shell = p.get("shell").and_then(|v| self.text(v, "shell"));
        let home = p.get("home").and_then(|v| self.text(v, "home"));
        let create_home = p
            .get("create-home")
            .and_then(|v| self.boolean(v, "create-home"));
        let hash = p
            .get("password-hash")
            .and_then(|v| self.text(v, "password-hash"));
        let comment = p.get("comment").and_then(|v| self.text(v, "comment"));
        let mut groups = Vec::new();
        let mut keys = Vec::new();
        for child in self.block(node, &["groups", "authorized-key"], "user") {
            self.props(&child, &[]);
            let values = self.leaf_values(&child);
            if values.is_empty() {
                self.err(
                    &child.name,
                    format!("`{}` needs at least one value", child.name.text),
                );
            }
            for v in &values {
                let into = if child.name.text == "groups" {
                    &mut groups
                } else {
                    &mut keys
                };
                if let Some(s) = self.string(v, &child.name.text) {
                    into.push(s);
                }
            }
        }
        let name = name?;
        let rest = [
            setter("uid", uid),
            setter("gid", gid),
            vec_setter("groups", &groups),
            setter("shell", shell),
            setter("home", home),
            setter("create_home", create_home),
            vec_setter("authorized_keys", &keys),
            setter("password_hash", hash),
            setter("comment", comment),
        ];
        Some(quote!(::forger::model::User::named(#name) #(#rest)* .build()))
    }

    pub(super) fn overlay(&mut self, node: &Node) -> Option<TokenStream> {
        let name = node.name.text.as_str();
        let owner_group = |cx: &mut Cx, p: &Props<'_>| {
            let owner = p.get("owner").and_then(|v| cx.text(v, "owner"));
            let group = p.get("group").and_then(|v| cx.text(v, "group"));
            [setter("owner", owner), setter("group", group)]
        };
        match name {
            "file" => {
                let p = self.props(
                    node,
                    &["destination", "source", "content", "owner", "group", "mode"],
                );
                self.leaf_args(
                    node,
                    0,
                    "file destination=\"/etc/motd\" source=\"motd\" mode=\"644\"",
                );
                let dest = self.required(node, &p, "destination");
                if let (Some(s), Some(_)) = (p.0.get("source"), p.0.get("content")) {
                    self.err(
                        &s.name,
                        "give a file either `source` (a host file) or `content` (inline text), not both",
                    );
                }
                let source = p.get("source").and_then(|v| self.text(v, "source"));
                let content = p.get("content").and_then(|v| self.text(v, "content"));
                let mode = p.get("mode").and_then(|v| self.mode(v));
                let og = owner_group(self, &p);
                let rest = [
                    setter("source", source),
                    setter("content", content),
                    og[0].clone(),
                    og[1].clone(),
                    setter("mode", mode),
                ];
                let dest = dest?;
                Some(quote! {
                    ::forger::model::Overlay::File(
                        ::forger::model::FileOverlay::to(#dest) #(#rest)* .build()
                    )
                })
            }
            "ensure-dir" => {
                let p = self.props(node, &["owner", "group", "mode"]);
                let path = self
                    .one_arg(node, "ensure-dir \"/srv\" owner=\"root\" mode=\"755\"")
                    .and_then(|v| self.text(&v, "ensure-dir"));
                let mode = p.get("mode").and_then(|v| self.mode(v));
                let og = owner_group(self, &p);
                let mode = setter("mode", mode);
                let path = path?;
                Some(quote! {
                    ::forger::model::Overlay::EnsureDir(
                        ::forger::model::EnsureDir::at(#path) #(#og)* #mode .build()
                    )
                })
            }
            "ensure-symlink" => {
                let p = self.props(node, &["target", "owner", "group"]);
                let path = self
                    .one_arg(node, "ensure-symlink \"/etc/localtime\" target=\"…\"")
                    .and_then(|v| self.text(&v, "ensure-symlink"));
                let target = self.required(node, &p, "target");
                let og = owner_group(self, &p);
                let (path, target) = (path?, target?);
                Some(quote! {
                    ::forger::model::Overlay::EnsureSymlink(
                        ::forger::model::EnsureSymlink::at(#path).target(#target) #(#og)* .build()
                    )
                })
            }
            "remove-files" => {
                // `file`, `dir` and `pattern` may repeat: each adds one path.
                let mut files: Vec<TokenStream> = self
                    .leaf_values(node)
                    .iter()
                    .filter_map(|v| self.string(v, "remove-files"))
                    .collect();
                let mut dirs = Vec::new();
                let mut patterns = Vec::new();
                for prop in &node.props {
                    let into = match prop.name.text.as_str() {
                        "file" => &mut files,
                        "dir" => &mut dirs,
                        "pattern" => &mut patterns,
                        _ => {
                            let one = Node {
                                props: vec![prop.clone()],
                                ..node.clone()
                            };
                            self.props(&one, &["file", "dir", "pattern"]);
                            continue;
                        }
                    };
                    if let Some(v) = self.string(&prop.value, &prop.name.text) {
                        into.push(v);
                    }
                }
                if node.args.is_empty() && node.trailing.is_none() && node.props.is_empty() {
                    self.err(
                        &node.name,
                        "`remove-files` needs what to remove: `remove-files \"/a\" \"/b\"`, `file=\"/p\"`, `dir=\"/d\"` or `pattern=\"/d/prefix*\"`",
                    );
                    return None;
                }
                let rest = [
                    vec_setter("files", &files),
                    vec_setter("dirs", &dirs),
                    vec_setter("patterns", &patterns),
                ];
                Some(quote! {
                    ::forger::model::Overlay::RemoveFiles(
                        ::forger::model::RemoveFiles::builder() #(#rest)* .build()
                    )
                })
            }
            "shadow" => {
                let p = self.props(node, &["username", "password"]);
                self.leaf_args(node, 0, "shadow username=\"root\" password=\"$6$…\"");
                let user = p.get("username").and_then(|v| self.string(v, "username"));
                let pass = p.get("password").and_then(|v| self.string(v, "password"));
                if user.is_none() || pass.is_none() {
                    if p.get("username").is_none() || p.get("password").is_none() {
                        self.err(
                            &node.name,
                            "`shadow` needs `username=\"…\"` and `password=\"<hash>\"`",
                        );
                    }
                    return None;
                }
                Some(quote! {
                    ::forger::model::Overlay::Shadow(::forger::model::Shadow {
                        username: #user,
                        password: #pass,
                    })
                })
            }
            "devfsadm" => {
                self.props(node, &[]);
                self.leaf_args(node, 0, "devfsadm");
                Some(quote!(::forger::model::Overlay::Devfsadm))
            }
            other => unreachable!("overlay `{other}` was checked by block()"),
        }
    }

    pub(super) fn builder_vm(&mut self, node: &Node) -> Option<TokenStream> {
        self.props(node, &[]);
        let kids = ["image", "binary", "vcpus", "memory", "disk"];
        let mut image = None;
        let mut binaries = Vec::new();
        let mut vcpus = None;
        let mut memory = None;
        let mut disk = None;
        for child in self.block(node, &kids, "builder") {
            match child.name.text.as_str() {
                "binary" => {
                    let p = self.props(&child, &["sha256"]);
                    let source = self
                        .one_arg(&child, "binary \"oci://…\" sha256=\"…\"")
                        .and_then(|v| self.string(&v, "binary"));
                    let sha = match p.get("sha256").and_then(|v| self.string(v, "sha256")) {
                        Some(s) => quote!(::core::option::Option::Some(#s)),
                        None => quote!(::core::option::Option::None),
                    };
                    if let Some(source) = source {
                        binaries.push(quote! {
                            ::forger::model::Binary { source: #source, sha256: #sha }
                        });
                    }
                }
                "image" => {
                    self.props(&child, &[]);
                    image = self
                        .one_arg(&child, "image \"oci://…\"")
                        .and_then(|v| self.text(&v, "image"));
                }
                n => {
                    self.props(&child, &[]);
                    let example = format!("{n} 4");
                    let v = self
                        .one_arg(&child, &example)
                        .and_then(|v| self.uint(&v, n, &example));
                    match n {
                        "vcpus" => vcpus = v,
                        "memory" => memory = v,
                        _ => disk = v,
                    }
                }
            }
        }
        let rest = [
            setter("image", image),
            vec_setter("binaries", &binaries),
            setter("vcpus", vcpus),
            setter("memory_mb", memory),
            setter("disk_gb", disk),
        ];
        Some(quote!(::forger::model::BuilderVm::builder() #(#rest)* .build()))
    }
}
