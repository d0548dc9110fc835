//! The meaning pass: checks every node of an `image!`/`fragment!` body against the schema of
//! the model and emits the builder calls that construct it. Every problem is collected (with
//! the span of the offending token) and reported together, so one `cargo build` shows all of
//! them. Literal values are parsed here and emitted as constructors (`Size::gib(8)`,
//! `Mode::new(0o755)`): nothing is parsed at run time.

use std::collections::BTreeMap;
use std::fmt::Display;

use proc_macro2::{Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};

use crate::literals::{self, Keyword};
use crate::suggest;
use crate::syntax::{Name, Node, Nodes, Prop, Value};

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

    // ----- values --------------------------------------------------------------------------

    /// A braced Rust expression, parenthesised and spanned at the user's tokens.
    fn expr(&mut self, g: &Group) -> Option<TokenStream> {
        if g.stream().is_empty() {
            self.err_at(
                g.span(),
                "empty braces: put a Rust expression inside, like `{size}`",
            );
            return None;
        }
        match syn::parse2::<syn::Expr>(g.stream()) {
            Ok(e) => Some(quote_spanned!(g.span()=> #e)),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// Text: a string literal, or an expression that converts `Into<String>`.
    fn text(&mut self, v: &Value, what: &str) -> Option<TokenStream> {
        match v {
            Value::Str(s) => Some(s.to_token_stream()),
            Value::Braced(g) => self.expr(g),
            other => {
                self.err_at(
                    other.span(),
                    format!("`{what}` takes a string: write it in quotes, `\"…\"`"),
                );
                None
            }
        }
    }

    /// Text as an owned `String` expression (for list elements and struct fields).
    fn string(&mut self, v: &Value, what: &str) -> Option<TokenStream> {
        let t = self.text(v, what)?;
        Some(quote_spanned!(v.span()=> ::std::string::String::from(#t)))
    }

    fn boolean(&mut self, v: &Value, what: &str) -> Option<TokenStream> {
        match v {
            Value::Bool(b) => Some(b.to_token_stream()),
            Value::Braced(g) => self.expr(g),
            other => {
                self.err_at(
                    other.span(),
                    format!("`{what}` takes `true` or `false` (without quotes)"),
                );
                None
            }
        }
    }

    fn uint(&mut self, v: &Value, what: &str, example: &str) -> Option<TokenStream> {
        match v {
            Value::Int(i) => match i.base10_parse::<u32>() {
                Ok(n) => Some(quote_spanned!(i.span()=> #n)),
                Err(_) => {
                    self.err(
                        i,
                        format!("`{what}` must be a whole number up to 4294967295"),
                    );
                    None
                }
            },
            Value::Braced(g) => self.expr(g),
            other => {
                self.err_at(
                    other.span(),
                    format!("`{what}` is a number: write it without quotes, like `{example}`"),
                );
                None
            }
        }
    }

    fn size(&mut self, v: &Value, what: &str) -> Option<TokenStream> {
        match v {
            Value::Str(s) => match literals::size(&s.value()) {
                Some(bytes) => Some(size_tokens(bytes)),
                None => {
                    self.err(
                        s,
                        format!(
                            "`{}` is not a size: write a number with an optional binary unit, like \"8G\", \"2000M\" or \"512K\"",
                            s.value()
                        ),
                    );
                    None
                }
            },
            Value::Braced(g) => self.expr(g),
            other => {
                self.err_at(
                    other.span(),
                    format!(
                        "`{what}` takes a size in quotes with its unit, like \"8G\" (a bare number would be bytes)"
                    ),
                );
                None
            }
        }
    }

    fn mode(&mut self, v: &Value) -> Option<TokenStream> {
        match v {
            Value::Str(s) => match literals::mode(&s.value()) {
                Some(bits) => {
                    let lit = syn::LitInt::new(&format!("0o{bits:o}"), s.span());
                    Some(quote!(::forger::model::Mode::new(#lit)))
                }
                None => {
                    self.err(
                        s,
                        format!(
                            "`{}` is not an octal file mode: each digit is 0-7 and the value at most 7777, like \"644\" or \"0755\"",
                            s.value()
                        ),
                    );
                    None
                }
            },
            Value::Braced(g) => self.expr(g),
            other => {
                self.err_at(
                    other.span(),
                    "write the mode as an octal string, like mode=\"0755\" (a bare number would be read as decimal)",
                );
                None
            }
        }
    }

    fn keyword(&mut self, v: &Value, k: &Keyword) -> Option<TokenStream> {
        match v {
            Value::Str(s) => match k.variant(&s.value()) {
                Some(variant) => {
                    let ty = syn::Ident::new(k.ty, Span::call_site());
                    let variant = syn::Ident::new(variant, Span::call_site());
                    Some(quote!(::forger::model::#ty::#variant))
                }
                None => {
                    let spellings: Vec<&str> = k.spellings.iter().map(|(s, _)| *s).collect();
                    let hint = match suggest::closest(&s.value(), &spellings) {
                        Some(c) => format!("; did you mean \"{c}\"?"),
                        None => String::new(),
                    };
                    self.err(
                        s,
                        format!(
                            "\"{}\" is not a {}: use {}{hint}",
                            s.value(),
                            k.what,
                            k.shown
                        ),
                    );
                    None
                }
            },
            Value::Braced(g) => self.expr(g),
            other => {
                self.err_at(
                    other.span(),
                    format!("the {} is a string: use {}", k.what, k.shown),
                );
                None
            }
        }
    }

    fn package(&mut self, v: &Value) -> Option<TokenStream> {
        match v {
            Value::Str(s) => {
                let name = s.value();
                if name.is_empty() || name.chars().any(char::is_whitespace) {
                    self.err(
                        s,
                        format!(
                            "\"{name}\" is not a package name: names are non-empty and have no spaces (one `package` node per package)"
                        ),
                    );
                    return None;
                }
                Some(quote!(::forger::model::Package::new(#s)))
            }
            Value::Braced(g) => {
                let e = self.expr(g)?;
                Some(quote_spanned!(g.span()=> ::forger::model::Package::new(#e)))
            }
            other => {
                self.err_at(other.span(), "a package name is a string: package \"curl\"");
                None
            }
        }
    }

    // ----- top-level nodes -----------------------------------------------------------------

    fn metadata(&mut self, node: &Node) -> Option<TokenStream> {
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
    fn distro(&mut self, node: &Node) -> Option<(TokenStream, Option<bool>)> {
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

    fn repositories(&mut self, node: &Node, c: &mut Content) {
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

    fn user(&mut self, node: &Node) -> Option<TokenStream> {
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

    fn overlay(&mut self, node: &Node) -> Option<TokenStream> {
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

    fn builder_vm(&mut self, node: &Node) -> Option<TokenStream> {
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

    // ----- targets -------------------------------------------------------------------------

    fn targets(&mut self, nodes: &[&Node], family_ips: Option<bool>) -> Vec<TokenStream> {
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

    fn target(&mut self, node: &Node, family_ips: Option<bool>) -> Option<TokenStream> {
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

    fn disk(
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

    fn property_list(&mut self, nodes: &[Node]) -> Vec<TokenStream> {
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

    fn pool(&mut self, node: &Node) -> Option<TokenStream> {
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

    fn layout(&mut self, node: &Node) -> Option<TokenStream> {
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

    fn oci(&mut self, children: &[Node], compression: Option<TokenStream>) -> TokenStream {
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
    fn key_value(&mut self, node: &Node, usage: &str) -> Option<TokenStream> {
        let values = self.leaf_args(node, 2, usage);
        let [k, v] = values.as_slice() else {
            return None;
        };
        let (k, v) = (self.text(k, "name"), self.text(v, "value"));
        let (k, v) = (k?, v?);
        Some(quote!((#k, #v)))
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

/// `Size::gib(n)` etc. for the largest unit that divides the size.
fn size_tokens(bytes: u64) -> TokenStream {
    for (shift, ctor) in [(30, "gib"), (20, "mib"), (10, "kib")] {
        if bytes != 0 && bytes.is_multiple_of(1u64 << shift) {
            let n = bytes >> shift;
            let ctor = syn::Ident::new(ctor, Span::call_site());
            return quote!(::forger::model::Size::#ctor(#n));
        }
    }
    quote!(::forger::model::Size::bytes(#bytes))
}

fn valid_port(p: &str) -> bool {
    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    port.parse::<u16>().is_ok_and(|n| n > 0) && matches!(proto, "tcp" | "udp" | "sctp")
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
#[path = "emit_tests.rs"]
mod tests;
