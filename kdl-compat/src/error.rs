//! Errors of the KDL importer: one [`Error`] per failed load, each a miette report over the
//! file it is about, and the [`Problem`]s it gathers so that every mistake in a file is shown
//! at once (`#[related]`), each with a labelled span and a help line.

use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

/// The source text of a spec file, named for reports.
pub type Source = NamedSource<Arc<String>>;

/// Why a spec could not be loaded.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// The root spec file could not be read.
    #[error("cannot read the spec `{}`", path.display())]
    #[diagnostic(
        code(forger::kdl::read),
        help("check that the path exists and is a readable KDL file")
    )]
    Read {
        /// The path given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid KDL (v2, nor v1).
    #[error("`{}` is not valid KDL", path.display())]
    #[diagnostic(
        code(forger::kdl::syntax),
        help("specs are KDL v2 or v1 documents; fix the marked places")
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Its text.
        #[source_code]
        src: Source,
        /// What the KDL parser found, each with its place.
        #[related]
        problems: Vec<SyntaxProblem>,
    },
    /// The file is KDL but not a valid spec; every problem found is listed.
    #[error("`{}` has {} problem(s)", path.display(), problems.len())]
    #[diagnostic(code(forger::kdl::invalid))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Its text.
        #[source_code]
        src: Source,
        /// Every problem, in file order.
        #[related]
        problems: Vec<Problem>,
    },
}

impl Problem {
    /// Where the problem is in its file (the start of its main span), to list problems in
    /// file order.
    pub fn offset(&self) -> usize {
        match self {
            Problem::UnknownNode { span, .. }
            | Problem::UnknownProperty { span, .. }
            | Problem::Missing { span, .. }
            | Problem::WrongType { span, .. }
            | Problem::BadValue { span, .. }
            | Problem::UnexpectedArgument { span, .. }
            | Problem::UnexpectedChildren { span, .. }
            | Problem::Duplicate { span, .. }
            | Problem::WrongTargetChild { span, .. }
            | Problem::MissingMetadata { span }
            | Problem::NotFound { span, .. }
            | Problem::OutsideTree { span, .. }
            | Problem::Cycle { span, .. }
            | Problem::BaseInInclude { span }
            | Problem::InComposedFile { span, .. } => span.offset(),
        }
    }
}

impl Error {
    /// The problems of an [`Error::Invalid`] (empty for the other variants).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// One complaint of the KDL parser, re-labelled against the named file.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(forger::kdl::syntax))]
pub struct SyntaxProblem {
    /// The parser's message.
    pub message: String,
    /// Where.
    #[label("{label}")]
    pub span: SourceSpan,
    /// The parser's label (`here` when it gave none).
    pub label: String,
    /// The parser's hint.
    #[help]
    pub help: Option<String>,
}

/// One thing wrong in a spec file, with its place in that file.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Problem {
    /// A node name the context does not know.
    #[error("unknown node `{name}` in {context}")]
    #[diagnostic(code(forger::kdl::unknown_node))]
    UnknownNode {
        /// The name written.
        name: String,
        /// Where it stands (`the top level`, `overlays`, `target "disk" (qcow2)`).
        context: String,
        /// The node name.
        #[label("not known here")]
        span: SourceSpan,
        /// The suggestion or the list of valid names.
        #[help]
        help: String,
    },
    /// A property the node does not take.
    #[error("`{node}` has no property `{name}`")]
    #[diagnostic(code(forger::kdl::unknown_property))]
    UnknownProperty {
        /// The node.
        node: String,
        /// The property written.
        name: String,
        /// The property.
        #[label("unknown property")]
        span: SourceSpan,
        /// The suggestion or the list of valid properties.
        #[help]
        help: String,
    },
    /// A required property or argument is absent.
    #[error("`{node}` needs {what}")]
    #[diagnostic(code(forger::kdl::missing))]
    Missing {
        /// The node.
        node: String,
        /// What is missing (`property \`name\``, `an argument`).
        what: String,
        /// The node name.
        #[label("{what} missing")]
        span: SourceSpan,
        /// How to write it.
        #[help]
        help: String,
    },
    /// A value of the wrong KDL type (an integer where a string belongs, …).
    #[error("`{key}` of `{node}` must be {expected}, found {found}")]
    #[diagnostic(code(forger::kdl::wrong_type))]
    WrongType {
        /// The node.
        node: String,
        /// The property name, or `argument N`.
        key: String,
        /// The expected type.
        expected: &'static str,
        /// The type found.
        found: &'static str,
        /// The value.
        #[label("this is {found}")]
        span: SourceSpan,
        /// How to write it.
        #[help]
        help: String,
    },
    /// A value of the right type that the model rejects (size, mode, distro, keyword, …).
    #[error("bad value for `{key}` of `{node}`: {reason}")]
    #[diagnostic(code(forger::kdl::bad_value))]
    BadValue {
        /// The node.
        node: String,
        /// The property name, or `argument N`.
        key: String,
        /// Why (the model's message).
        reason: String,
        /// The value.
        #[label("invalid")]
        span: SourceSpan,
        /// What is accepted.
        #[help]
        help: String,
    },
    /// More positional arguments than the node takes.
    #[error("`{node}` takes {takes}")]
    #[diagnostic(code(forger::kdl::unexpected_argument))]
    UnexpectedArgument {
        /// The node.
        node: String,
        /// How many it takes (`no arguments`, `one argument`).
        takes: &'static str,
        /// The extra argument.
        #[label("unexpected")]
        span: SourceSpan,
        /// How to write it.
        #[help]
        help: String,
    },
    /// A `{ … }` block on a node that takes none.
    #[error("`{node}` takes no children block")]
    #[diagnostic(
        code(forger::kdl::unexpected_children),
        help("remove the `{{ … }}` block or move its nodes to where they belong")
    )]
    UnexpectedChildren {
        /// The node.
        node: String,
        /// The node name.
        #[label("has a block")]
        span: SourceSpan,
    },
    /// A node that may appear once appears again.
    #[error("`{node}` is given more than once")]
    #[diagnostic(code(forger::kdl::duplicate))]
    Duplicate {
        /// The node.
        node: String,
        /// The repeated node.
        #[label("again here")]
        span: SourceSpan,
        /// The first one.
        #[label("first here")]
        first: SourceSpan,
        /// What to do.
        #[help]
        help: String,
    },
    /// A child that does not fit the kind of its target.
    #[error("`{child}` is not valid in {kind} targets")]
    #[diagnostic(code(forger::kdl::wrong_target_child))]
    WrongTargetChild {
        /// The child node.
        child: String,
        /// The target kind.
        kind: &'static str,
        /// The child.
        #[label("not for {kind}")]
        span: SourceSpan,
        /// Which kinds take it, and what this kind takes.
        #[help]
        help: String,
    },
    /// A spec that is built (the root, or a base) without `metadata`.
    #[error("the spec has no `metadata`")]
    #[diagnostic(
        code(forger::kdl::missing_metadata),
        help(
            "add `metadata name=\"…\" version=\"…\"`; only a file used through `include` may omit it"
        )
    )]
    MissingMetadata {
        /// The start of the file.
        #[label("metadata expected in this file")]
        span: SourceSpan,
    },
    /// An included or base file that does not exist.
    #[error("`{written}` not found: looked for {}", resolved.display())]
    #[diagnostic(code(forger::kdl::not_found))]
    NotFound {
        /// The path as written.
        written: String,
        /// Where it was looked for.
        resolved: PathBuf,
        /// The path argument.
        #[label("no such file")]
        span: SourceSpan,
        /// What to do.
        #[help]
        help: String,
    },
    /// A path that resolves outside the spec's directory tree.
    #[error("`{written}` resolves outside the spec tree ({})", resolved.display())]
    #[diagnostic(code(forger::kdl::outside_tree))]
    OutsideTree {
        /// The path as written.
        written: String,
        /// Where it resolves.
        resolved: PathBuf,
        /// The directory it must stay inside.
        root: PathBuf,
        /// The path.
        #[label("leaves {}", root.display())]
        span: SourceSpan,
        /// What to do.
        #[help]
        help: String,
    },
    /// `base`/`include` leading back to a file already being loaded.
    #[error("composition cycle: {chain}")]
    #[diagnostic(
        code(forger::kdl::cycle),
        help(
            "a spec cannot (indirectly) include or be based on itself; remove one link of the chain"
        )
    )]
    Cycle {
        /// `a.kdl → b.kdl → a.kdl`.
        chain: String,
        /// The link that closes the cycle.
        #[label("closes the cycle")]
        span: SourceSpan,
    },
    /// An included file declares a `base` (only images have bases).
    #[error("an included file cannot have a `base`")]
    #[diagnostic(
        code(forger::kdl::base_in_include),
        help("move the `base` to the spec that includes this file, or include the base file too")
    )]
    BaseInInclude {
        /// The `base` path.
        #[label("base of an included file")]
        span: SourceSpan,
    },
    /// An included (or base) file has errors of its own.
    #[error("in `{}`, {how} here", path.display())]
    #[diagnostic(code(forger::kdl::in_composed_file))]
    InComposedFile {
        /// The composed file.
        path: PathBuf,
        /// `included` or `used as base`.
        how: &'static str,
        /// The `include`/`base` node.
        #[label("{how} here")]
        span: SourceSpan,
        /// The errors of that file, each pointing into it.
        #[related]
        errors: Vec<Error>,
    },
}
