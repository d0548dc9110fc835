//! The typed decoder: one parsed KDL document → a [`FileSpec`] (what that one file says,
//! with the spans of its `base`/`include` links), plus every problem found on the way.
//! Composition (reading the linked files) is [`crate::compose`]'s job.

mod content;
mod reader;
mod target;

use forger::model::{Architecture, BuilderVm, Distro, Fragment, Metadata, Target};
use kdl::{KdlDocument, KdlNode};
use miette::SourceSpan;

use crate::error::Problem;
pub(crate) use reader::Decoder;
use reader::{name, name_span};

/// A `base` or `include` link as written, with the span of its path.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// The path argument.
    pub(crate) path: String,
    /// Where it is written.
    pub(crate) span: SourceSpan,
}

/// Everything one spec file says, before composition.
#[derive(Debug, Default)]
pub(crate) struct FileSpec {
    /// `metadata`, when given.
    pub(crate) metadata: Option<Metadata>,
    /// `distro`, when given.
    pub(crate) distro: Option<Distro>,
    /// `architecture`, when given.
    pub(crate) architecture: Option<Architecture>,
    /// `build-host`, when given.
    pub(crate) build_host: Option<String>,
    /// `base`, when given.
    pub(crate) base: Option<Link>,
    /// `include`s in order.
    pub(crate) includes: Vec<Link>,
    /// The file's own content (no name, base dir or includes yet).
    pub(crate) content: Fragment,
    /// `target`s in order.
    pub(crate) targets: Vec<Target>,
    /// `builder`, when given.
    pub(crate) builder: Option<BuilderVm>,
}

/// The top-level node names of the language.
pub(crate) const TOP_LEVEL: &[&str] = &[
    "metadata",
    "distro",
    "architecture",
    "base",
    "include",
    "build-host",
    "incorporation",
    "repositories",
    "certificates",
    "variants",
    "facets",
    "packages",
    "customization",
    "overlays",
    "target",
    "builder",
];

/// Nodes that may appear once per file.
const SINGLE: &[&str] = &[
    "metadata",
    "distro",
    "architecture",
    "base",
    "build-host",
    "incorporation",
    "builder",
];

/// Decodes a parsed document; the problems are in file order.
pub(crate) fn decode(doc: &KdlDocument) -> (FileSpec, Vec<Problem>) {
    let mut d = Decoder::default();
    let mut spec = FileSpec::default();
    let mut seen: Vec<(&str, SourceSpan)> = Vec::new();
    let mut target_names: Vec<(String, SourceSpan)> = Vec::new();
    for node in d.filter_known(doc.nodes(), "the top level", TOP_LEVEL) {
        let n = name(node);
        if SINGLE.contains(&n) {
            if let Some((_, first)) = seen.iter().find(|(s, _)| *s == n) {
                d.push(Problem::Duplicate {
                    node: n.to_owned(),
                    span: name_span(node),
                    first: *first,
                    help: format!("keep one `{n}` and merge the values into it"),
                });
                continue;
            }
            seen.push((n, name_span(node)));
        }
        match n {
            "metadata" => spec.metadata = metadata(&mut d, node),
            "distro" => spec.distro = single_value(&mut d, node, "distro \"omnios\""),
            "architecture" => {
                spec.architecture = single_value(&mut d, node, "architecture \"amd64\"")
            }
            "base" | "include" => {
                let usage = format!("{n} \"other.kdl\"");
                d.shape(node, &[], 1, "one argument", &usage);
                d.leaf(node);
                let span = reader::args(node).next().map(|e| e.span());
                if let (Some(path), Some(span)) = (d.required_arg(node, &usage), span) {
                    let link = Link { path, span };
                    if n == "base" {
                        spec.base = Some(link);
                    } else {
                        spec.includes.push(link);
                    }
                }
            }
            "build-host" => {
                d.shape(node, &[], 1, "one argument", "build-host \"<host>\"");
                d.leaf(node);
                spec.build_host = d.required_arg(node, "build-host \"<host>\"");
            }
            "target" => {
                if let Some(t) = target::target(&mut d, node) {
                    if let Some((_, first)) = target_names.iter().find(|(s, _)| *s == t.name) {
                        d.push(Problem::Duplicate {
                            node: format!("target \"{}\"", t.name),
                            span: name_span(node),
                            first: *first,
                            help: "rename one: target names are unique, they name the output files"
                                .to_owned(),
                        });
                    } else {
                        target_names.push((t.name.clone(), name_span(node)));
                        spec.targets.push(t);
                    }
                }
            }
            "builder" => spec.builder = Some(target::builder(&mut d, node)),
            _ => content::content_node(&mut d, node, &mut spec.content),
        }
    }
    (spec, d.problems)
}

fn metadata(d: &mut Decoder, node: &KdlNode) -> Option<Metadata> {
    let usage = "metadata name=\"my-image\" version=\"1.0.0\" description=\"…\"";
    d.shape(
        node,
        &["name", "version", "description"],
        0,
        "no arguments",
        usage,
    );
    d.leaf(node);
    let name = d.required_prop(node, "name", usage);
    let version = d.required_prop(node, "version", usage);
    let description = d.prop_string(node, "description");
    Some(Metadata {
        name: name?,
        version: version?,
        description,
    })
}

/// A node with one string argument parsed by the model (`distro "omnios"`).
fn single_value<T>(d: &mut Decoder, node: &KdlNode, usage: &str) -> Option<T>
where
    T: std::str::FromStr<Err = forger::model::Error>,
{
    d.shape(node, &[], 1, "one argument", usage);
    d.leaf(node);
    match reader::args(node).next() {
        Some(entry) => d.parse(node, entry),
        None => {
            d.missing(node, "an argument".to_owned(), usage);
            None
        }
    }
}
