//! The meaning pass: checks every node of an `image!`/`fragment!` body against the schema of
//! the model and emits the builder calls that construct it. Every problem is collected (with
//! the span of the offending token) and reported together, so one `cargo build` shows all of
//! them. Literal values are parsed here and emitted as constructors (`Size::gib(8)`,
//! `Mode::new(0o755)`): nothing is parsed at run time.

use std::collections::BTreeMap;
use std::fmt::Display;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};

use crate::literals;
use crate::suggest;
use crate::syntax::{Name, Node, Nodes, Prop, Value};

mod nodes;
mod targets;
mod values;

/// Which macro is expanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `image!`: a whole `forger::model::Image`.
    Image,
    /// `fragment!`: a `forger::model::Fragment` of shared content.
    Fragment,
}

/// Expands a macro body. `base_dir` is an expression for the directory of the invoking source
/// file; `default_name` the fragment name used when the body gives none (`fragment!` only).
pub fn expand(
    kind: Kind,
    body: TokenStream,
    base_dir: TokenStream,
    default_name: Option<TokenStream>,
) -> syn::Result<TokenStream> {
    let Nodes(nodes) = syn::parse2(body)?;
    let mut cx = Cx::default();
    let out = cx.top(kind, &nodes, base_dir, default_name);
    let mut errors = cx.errors.into_iter();
    match errors.next() {
        None => Ok(out),
        Some(mut first) => {
            for e in errors {
                first.combine(e);
            }
            Err(first)
        }
    }
}

const CONTENT_NODES: &[&str] = &[
    "name",
    "base-dir",
    "include",
    "incorporation",
    "repositories",
    "certificates",
    "variants",
    "facets",
    "packages",
    "customization",
    "overlays",
];
const IMAGE_ONLY_NODES: &[&str] = &[
    "metadata",
    "distro",
    "architecture",
    "base",
    "build-host",
    "target",
    "builder",
];
#[derive(Default)]
struct Cx {
    errors: Vec<syn::Error>,
}

/// Fields of the `Fragment` being assembled, each an expression.
#[derive(Default)]
struct Content {
    name: Option<TokenStream>,
    base_dir: Option<TokenStream>,
    includes: Vec<TokenStream>,
    incorporation: Option<TokenStream>,
    publishers: Vec<TokenStream>,
    apt_mirrors: Vec<TokenStream>,
    certificates: Vec<TokenStream>,
    variants: Vec<TokenStream>,
    facets: Vec<TokenStream>,
    packages: Vec<TokenStream>,
    customizations: Vec<TokenStream>,
    overlays: Vec<TokenStream>,
}

/// The properties of one node, checked against the names it takes.
struct Props<'n>(BTreeMap<&'static str, &'n Prop>);

impl<'n> Props<'n> {
    fn get(&self, name: &str) -> Option<&'n Value> {
        self.0.get(name).map(|p| &p.value)
    }
}

/// Builds a method call only when the value is present: `.name(value)`.
fn setter(method: &str, value: Option<TokenStream>) -> TokenStream {
    let method = syn::Ident::new(method, Span::call_site());
    match value {
        Some(v) => quote!(.#method(#v)),
        None => TokenStream::new(),
    }
}

/// `.name(vec![…])` only when the list is not empty.
fn vec_setter(method: &str, items: &[TokenStream]) -> TokenStream {
    let method = syn::Ident::new(method, Span::call_site());
    if items.is_empty() {
        TokenStream::new()
    } else {
        quote!(.#method(::std::vec::Vec::from([#(#items),*])))
    }
}

impl Cx {
    fn err(&mut self, at: impl ToTokens, msg: impl Display) {
        self.errors.push(syn::Error::new_spanned(at, msg));
    }

    fn err_at(&mut self, span: Span, msg: impl Display) {
        self.errors.push(syn::Error::new(span, msg));
    }

    // ----- the top level -------------------------------------------------------------------

    fn top(
        &mut self,
        kind: Kind,
        nodes: &[Node],
        base_dir: TokenStream,
        default_name: Option<TokenStream>,
    ) -> TokenStream {
        let mut content = Content::default();
        let mut seen: BTreeMap<String, Name> = BTreeMap::new();
        let mut metadata = None;
        let mut distro = None;
        let mut family_ips = Some(true); // OmniOS when neither this image nor a base sets one
        let mut architecture = None;
        let mut base = None;
        let mut build_host = None;
        let mut builder_vm = None;
        let mut target_nodes = Vec::new();
        let all: Vec<&str> = CONTENT_NODES
            .iter()
            .chain(IMAGE_ONLY_NODES)
            .copied()
            .collect();
        for node in nodes {
            let n = node.name.text.as_str();
            let single = matches!(
                n,
                "name"
                    | "base-dir"
                    | "incorporation"
                    | "metadata"
                    | "distro"
                    | "architecture"
                    | "base"
                    | "build-host"
                    | "builder"
            );
            if single {
                if let Some(first) = seen.get(n) {
                    let first = first.clone();
                    self.err(
                        &node.name,
                        format!("`{n}` is given twice; an image has one `{n}`: remove this one"),
                    );
                    self.err(&first, format!("`{n}` is first given here"));
                    continue;
                }
                seen.insert(n.to_owned(), node.name.clone());
            }
            if kind == Kind::Fragment && IMAGE_ONLY_NODES.contains(&n) {
                self.err(
                    &node.name,
                    format!(
                        "`{n}` belongs in `image!`, not in `fragment!`: a fragment holds only shared content ({})",
                        suggest::one_of(CONTENT_NODES)
                    ),
                );
                continue;
            }
            match n {
                "metadata" => metadata = self.metadata(node),
                "distro" => {
                    if let Some((tokens, ips)) = self.distro(node) {
                        distro = Some(tokens);
                        family_ips = ips;
                    }
                }
                "architecture" => {
                    architecture = self
                        .one_arg(node, "architecture \"amd64\"")
                        .and_then(|v| self.keyword(&v, &literals::ARCHITECTURE))
                }
                "base" => base = self.spliced(node, "base", "base {my_base_image()}"),
                "build-host" => {
                    build_host = self
                        .one_arg(node, "build-host \"…\"")
                        .and_then(|v| self.text(&v, "build-host"))
                }
                "builder" => builder_vm = self.builder_vm(node),
                "target" => target_nodes.push(node),
                _ if CONTENT_NODES.contains(&n) => self.content_node(node, &mut content),
                _ => self.unknown(
                    &node.name,
                    if kind == Kind::Image {
                        &all
                    } else {
                        CONTENT_NODES
                    },
                    if kind == Kind::Image {
                        "an image"
                    } else {
                        "a fragment"
                    },
                ),
            }
        }
        if content.base_dir.is_none() {
            content.base_dir = Some(base_dir);
        }
        if content.name.is_none() {
            content.name = default_name;
        }
        if base.is_some() && distro.is_none() {
            // The distro comes from the base image, which the macro cannot see.
            family_ips = None;
        }
        let content = content.emit();
        if kind == Kind::Fragment {
            return content;
        }
        let targets = self.targets(&target_nodes, family_ips);
        let metadata = match metadata {
            Some(m) => Some(m),
            None => {
                if !seen.contains_key("metadata") {
                    self.err_at(
                        Span::call_site(),
                        "this image has no `metadata`: add `metadata name=\"my-image\" version=\"1.0.0\"`",
                    );
                }
                None
            }
        };
        let metadata = setter("metadata", metadata);
        let distro = setter("distro", distro);
        let architecture = setter("architecture", architecture);
        let base = setter("base", base);
        let build_host = setter("build_host", build_host);
        let targets = vec_setter("targets", &targets);
        let builder_vm = setter("builder_vm", builder_vm);
        quote! {
            ::forger::model::Image::builder()
                #metadata
                #distro
                #architecture
                #base
                #build_host
                .content(#content)
                #targets
                #builder_vm
                .build()
        }
    }

    fn content_node(&mut self, node: &Node, c: &mut Content) {
        match node.name.text.as_str() {
            "name" => {
                c.name = self
                    .one_arg(node, "name \"common\"")
                    .and_then(|v| self.text(&v, "name"))
            }
            "base-dir" => {
                c.base_dir = self
                    .one_arg(node, "base-dir \"/path/to/dir\"")
                    .and_then(|v| self.text(&v, "base-dir"))
            }
            "include" => {
                if let Some(f) = self.spliced(node, "include", "include {common()}") {
                    c.includes.push(f);
                }
            }
            "incorporation" => {
                c.incorporation = self
                    .one_arg(node, "incorporation \"entire\"")
                    .and_then(|v| self.text(&v, "incorporation"))
            }
            "repositories" => self.repositories(node, c),
            "certificates" => {
                for child in self.block(node, &["ca"], "certificates") {
                    let p = self.props(&child, &["publisher", "certfile"]);
                    self.leaf_args(&child, 0, "ca publisher=\"omnios\" certfile=\"ca.pem\"");
                    let publisher = self.required(&child, &p, "publisher");
                    let certfile = self.required(&child, &p, "certfile");
                    if let (Some(publisher), Some(certfile)) = (publisher, certfile) {
                        c.certificates.push(quote! {
                            ::forger::model::Certificate::builder()
                                .publisher(#publisher)
                                .certfile(#certfile)
                                .build()
                        });
                    }
                }
            }
            "variants" => {
                for child in self.block(node, &["set"], "variants") {
                    let p = self.props(&child, &["name", "value"]);
                    self.leaf_args(&child, 0, "set name=\"opensolaris.zone\" value=\"global\"");
                    let name = self.required(&child, &p, "name");
                    let value = self.required(&child, &p, "value");
                    if let (Some(name), Some(value)) = (name, value) {
                        c.variants
                            .push(quote!(::forger::model::Variant::new(#name, #value)));
                    }
                }
            }
            "facets" => {
                for child in self.block(node, &["set"], "facets") {
                    let p = self.props(&child, &["name", "value"]);
                    self.leaf_args(&child, 0, "set name=\"doc.man\" value=false");
                    let name = self.required(&child, &p, "name");
                    let value = match p.get("value") {
                        Some(v) => self.boolean(v, "value"),
                        None => {
                            self.err(
                                &child.name,
                                "facet `set` needs `value=true` or `value=false`",
                            );
                            None
                        }
                    };
                    if let (Some(name), Some(value)) = (name, value) {
                        c.facets
                            .push(quote!(::forger::model::Facet::new(#name, #value)));
                    }
                }
            }
            "packages" => {
                let p = self.props(node, &["if"]);
                let profile = self.profile(&p);
                let mut names = Vec::new();
                for child in self.block(node, &["package"], "packages") {
                    self.props(&child, &[]);
                    let Some(v) = self.one_arg(&child, "package \"openssh-server\"") else {
                        continue;
                    };
                    if let Some(pkg) = self.package(&v) {
                        names.push(pkg);
                    }
                }
                let packages = vec_setter("packages", &names);
                c.packages.push(quote! {
                    ::forger::model::PackageSet::builder() #profile #packages .build()
                });
            }
            "customization" => {
                let p = self.props(node, &["if"]);
                let profile = self.profile(&p);
                let mut users = Vec::new();
                for child in self.block(node, &["user"], "customization") {
                    if let Some(u) = self.user(&child) {
                        users.push(u);
                    }
                }
                let users = vec_setter("users", &users);
                c.customizations.push(quote! {
                    ::forger::model::Customization::builder() #profile #users .build()
                });
            }
            "overlays" => {
                let p = self.props(node, &["if", "base-dir"]);
                let profile = self.profile(&p);
                let base_dir = p.get("base-dir").and_then(|v| self.text(v, "base-dir"));
                let base_dir = setter("base_dir", base_dir);
                let mut actions = Vec::new();
                let kinds = [
                    "file",
                    "ensure-dir",
                    "ensure-symlink",
                    "remove-files",
                    "shadow",
                    "devfsadm",
                ];
                for child in self.block(node, &kinds, "overlays") {
                    if let Some(a) = self.overlay(&child) {
                        actions.push(a);
                    }
                }
                let actions = vec_setter("actions", &actions);
                c.overlays.push(quote! {
                    ::forger::model::OverlaySet::builder() #profile #base_dir #actions .build()
                });
            }
            other => unreachable!("content node `{other}` is listed in CONTENT_NODES"),
        }
    }

    // ----- node-shape helpers --------------------------------------------------------------

    /// Reports an unknown name with a suggestion.
    fn unknown(&mut self, name: &Name, candidates: &[&str], place: &str) {
        let n = &name.text;
        let msg = match suggest::closest(n, candidates) {
            Some(s) => format!("unknown node `{n}` in {place}: did you mean `{s}`?"),
            None => format!(
                "unknown node `{n}` in {place}; the nodes here are {}",
                suggest::one_of(candidates)
            ),
        };
        self.err(name, msg);
    }

    /// Checks the node's properties against `allowed`.
    fn props<'n>(&mut self, node: &'n Node, allowed: &[&'static str]) -> Props<'n> {
        let mut out = BTreeMap::new();
        for prop in &node.props {
            let p = prop.name.text.as_str();
            let Some(known) = allowed.iter().find(|a| **a == p) else {
                let n = &node.name.text;
                let msg = if p == "if" {
                    format!(
                        "`if` does not apply to `{n}`: only `packages`, `customization` and `overlays` blocks can depend on a profile"
                    )
                } else if allowed.is_empty() {
                    format!("`{n}` takes no properties, but `{p}` is given")
                } else if let Some(s) = suggest::closest(p, allowed) {
                    format!("`{n}` has no property `{p}`: did you mean `{s}`?")
                } else {
                    format!(
                        "`{n}` has no property `{p}`; it takes {}",
                        suggest::one_of(allowed)
                    )
                };
                self.err(&prop.name, msg);
                continue;
            };
            if out.insert(*known, prop).is_some() {
                self.err(&prop.name, format!("property `{p}` is given twice"));
            }
        }
        Props(out)
    }

    /// A required text property; reports its absence at the node name.
    fn required(&mut self, node: &Node, p: &Props<'_>, name: &str) -> Option<TokenStream> {
        match p.get(name) {
            Some(v) => self.text(v, name),
            None => {
                self.err(
                    &node.name,
                    format!("`{}` needs `{name}=\"…\"`", node.name.text),
                );
                None
            }
        }
    }

    /// The positional values of a node without children (a trailing brace group is a value).
    fn leaf_values(&mut self, node: &Node) -> Vec<Value> {
        let mut values = node.args.clone();
        if let Some(g) = &node.trailing {
            values.push(Value::Braced(g.clone()));
        }
        values
    }

    /// Checks that a leaf node has exactly `count` positional values.
    fn leaf_args(&mut self, node: &Node, count: usize, usage: &str) -> Vec<Value> {
        let values = self.leaf_values(node);
        if values.len() != count {
            let n = &node.name.text;
            let what = match count {
                0 => "no positional values".to_owned(),
                1 => "one value".to_owned(),
                k => format!("{k} values"),
            };
            let at = values
                .get(count)
                .map(Value::span)
                .unwrap_or_else(|| first_span(&node.name));
            self.err_at(
                at,
                format!(
                    "`{n}` takes {what} but {} {} given: write `{usage}`",
                    values.len(),
                    if values.len() == 1 { "is" } else { "are" }
                ),
            );
        }
        values
    }

    /// The single positional value of a leaf node.
    fn one_arg(&mut self, node: &Node, usage: &str) -> Option<Value> {
        let values = self.leaf_args(node, 1, usage);
        if values.len() == 1 {
            values.into_iter().next()
        } else {
            None
        }
    }

    /// The child nodes of a block node, each checked against `allowed`. A node without its
    /// block has no children.
    fn block(&mut self, node: &Node, allowed: &[&str], place: &str) -> Vec<Node> {
        let children = self.raw_block(node);
        children
            .into_iter()
            .filter(|c| {
                let ok = allowed.contains(&c.name.text.as_str());
                if !ok {
                    self.unknown(&c.name, allowed, &format!("`{place}`"));
                }
                ok
            })
            .collect()
    }

    /// The children of the node's trailing block, unchecked; positional values are errors.
    fn raw_block(&mut self, node: &Node) -> Vec<Node> {
        let n = &node.name.text;
        for a in &node.args {
            if n != "target" && n != "dataset" && n != "user" {
                self.err_at(
                    a.span(),
                    format!("`{n}` takes no positional values, only a block `{{ … }}`"),
                );
            }
        }
        match &node.trailing {
            None => Vec::new(),
            Some(g) => match syn::parse2::<Nodes>(g.stream()) {
                Ok(Nodes(nodes)) => nodes,
                Err(e) => {
                    self.errors.push(e);
                    Vec::new()
                }
            },
        }
    }

    /// `if = "profile"` as a setter.
    fn profile(&mut self, p: &Props<'_>) -> TokenStream {
        let v = p.get("if").and_then(|v| self.text(v, "if"));
        setter("profile", v)
    }

    /// `base {expr}` / `include {expr}`: a braced Rust value.
    fn spliced(&mut self, node: &Node, what: &str, usage: &str) -> Option<TokenStream> {
        self.props(node, &[]);
        let v = self.one_arg(node, usage)?;
        match &v {
            Value::Braced(g) => self.expr(g),
            Value::Str(s) if what == "base" || what == "include" => {
                self.err(
                    s,
                    format!(
                        "`{what}` takes a Rust value in braces, like `{usage}`; to use the KDL file \"{}\", load it with `kdl_compat` or port it to a `fragment!` function",
                        s.value()
                    ),
                );
                None
            }
            other => {
                self.err_at(
                    other.span(),
                    format!("`{what}` takes a Rust value in braces: `{usage}`"),
                );
                None
            }
        }
    }
}

impl Content {
    fn emit(self) -> TokenStream {
        let repositories = if self.publishers.is_empty() && self.apt_mirrors.is_empty() {
            TokenStream::new()
        } else {
            let p = vec_setter("publishers", &self.publishers);
            let a = vec_setter("apt_mirrors", &self.apt_mirrors);
            quote!(.repositories(::forger::model::Repositories::builder() #p #a .build()))
        };
        let rest = [
            setter("name", self.name),
            setter("base_dir", self.base_dir),
            vec_setter("includes", &self.includes),
            setter("incorporation", self.incorporation),
            repositories,
            vec_setter("certificates", &self.certificates),
            vec_setter("variants", &self.variants),
            vec_setter("facets", &self.facets),
            vec_setter("packages", &self.packages),
            vec_setter("customizations", &self.customizations),
            vec_setter("overlays", &self.overlays),
        ];
        quote!(::forger::model::Fragment::builder() #(#rest)* .build())
    }
}

fn first_span(name: &Name) -> Span {
    name.tokens
        .clone()
        .into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}

#[cfg(test)]
mod tests;
