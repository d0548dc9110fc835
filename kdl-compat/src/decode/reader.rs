//! Typed, span-keeping access to KDL nodes: the [`Decoder`] reads arguments, properties and
//! children of a node as the spec language expects them and records a [`Problem`] (with the
//! span of the offending name or value) for everything it cannot accept, so decoding goes on
//! and one report lists every mistake in the file.

use std::str::FromStr;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::{Diagnostic, SourceSpan};

use crate::error::Problem;
use crate::suggest::did_you_mean;

/// Collects the problems of one file while its nodes are decoded.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    /// Everything wrong so far, in file order.
    pub(crate) problems: Vec<Problem>,
}

/// The name of a node as written.
pub(crate) fn name(node: &KdlNode) -> &str {
    node.name().value()
}

/// The span of a node's name: where node-level problems point.
pub(crate) fn name_span(node: &KdlNode) -> SourceSpan {
    node.name().span()
}

/// The positional arguments of a node.
pub(crate) fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

/// Every entry of property `key` (repeatable keys, such as `remove-files dir=…`).
pub(crate) fn props<'a>(node: &'a KdlNode, key: &'a str) -> impl Iterator<Item = &'a KdlEntry> {
    node.entries()
        .iter()
        .filter(move |e| e.name().is_some_and(|n| n.value() == key))
}

/// The last entry of property `key` (KDL: the last one wins).
pub(crate) fn prop<'a>(node: &'a KdlNode, key: &str) -> Option<&'a KdlEntry> {
    node.entries()
        .iter()
        .rev()
        .find(|e| e.name().is_some_and(|n| n.value() == key))
}

/// The child nodes of a node (none when it has no block).
pub(crate) fn children(node: &KdlNode) -> &[KdlNode] {
    node.children().map(|d| d.nodes()).unwrap_or(&[])
}

fn type_name(v: &KdlValue) -> &'static str {
    match v {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "null",
    }
}

/// The key of an entry for messages: the property name or `argument N` (1-based).
fn key_of(node: &KdlNode, entry: &KdlEntry) -> String {
    match entry.name() {
        Some(n) => n.value().to_owned(),
        None => {
            let index = args(node)
                .position(|e| std::ptr::eq(e, entry))
                .map_or(1, |i| i + 1);
            format!("argument {index}")
        }
    }
}

impl Decoder {
    /// Records a problem.
    pub(crate) fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Checks that every property of `node` is one of `allowed` and that it has at most
    /// `max_args` positional arguments (`takes` and `usage` phrase the rule for the report).
    pub(crate) fn shape(
        &mut self,
        node: &KdlNode,
        allowed: &[&str],
        max_args: usize,
        takes: &'static str,
        usage: &str,
    ) {
        for entry in node.entries() {
            if let Some(key) = entry.name()
                && !allowed.contains(&key.value())
            {
                let help = if allowed.is_empty() {
                    format!("`{}` takes no properties; write it as {usage}", name(node))
                } else {
                    did_you_mean(key.value(), allowed)
                };
                self.push(Problem::UnknownProperty {
                    node: name(node).to_owned(),
                    name: key.value().to_owned(),
                    span: entry.span(),
                    help,
                });
            }
        }
        for entry in args(node).skip(max_args) {
            self.push(Problem::UnexpectedArgument {
                node: name(node).to_owned(),
                takes,
                span: entry.span(),
                help: format!("write it as {usage}"),
            });
        }
    }

    /// Records a problem when a node that takes no block has one.
    pub(crate) fn leaf(&mut self, node: &KdlNode) {
        if node.children().is_some() {
            self.push(Problem::UnexpectedChildren {
                node: name(node).to_owned(),
                span: name_span(node),
            });
        }
    }

    /// The children of `node` whose names are in `known`; the others are recorded as
    /// unknown, with a suggestion. `context` names the block for the report.
    pub(crate) fn known_children<'a>(
        &mut self,
        node: &'a KdlNode,
        context: &str,
        known: &[&str],
    ) -> Vec<&'a KdlNode> {
        self.filter_known(children(node), context, known)
    }

    /// `nodes` whose names are in `known`; the others are recorded as unknown.
    pub(crate) fn filter_known<'a>(
        &mut self,
        nodes: &'a [KdlNode],
        context: &str,
        known: &[&str],
    ) -> Vec<&'a KdlNode> {
        let mut out = Vec::new();
        for child in nodes {
            if known.contains(&name(child)) {
                out.push(child);
            } else {
                self.push(Problem::UnknownNode {
                    name: name(child).to_owned(),
                    context: context.to_owned(),
                    span: name_span(child),
                    help: did_you_mean(name(child), known),
                });
            }
        }
        out
    }

    /// The string value of `entry`, or a wrong-type problem.
    pub(crate) fn string(&mut self, node: &KdlNode, entry: &KdlEntry) -> Option<String> {
        match entry.value() {
            KdlValue::String(s) => Some(s.clone()),
            other => {
                let key = key_of(node, entry);
                self.push(Problem::WrongType {
                    node: name(node).to_owned(),
                    help: format!("quote the value: {}", quoted_example(&key, other)),
                    key,
                    expected: "a string",
                    found: type_name(other),
                    span: entry.span(),
                });
                None
            }
        }
    }

    /// The optional string property `key`.
    pub(crate) fn prop_string(&mut self, node: &KdlNode, key: &str) -> Option<String> {
        let entry = prop(node, key)?;
        self.string(node, entry)
    }

    /// The required string property `key`; a missing-property problem shows `example`.
    pub(crate) fn required_prop(
        &mut self,
        node: &KdlNode,
        key: &str,
        example: &str,
    ) -> Option<String> {
        match prop(node, key) {
            Some(entry) => self.string(node, entry),
            None => {
                self.missing(node, format!("property `{key}`"), example);
                None
            }
        }
    }

    /// The first positional argument as a string, required; `example` shows the form.
    pub(crate) fn required_arg(&mut self, node: &KdlNode, example: &str) -> Option<String> {
        match args(node).next() {
            Some(entry) => self.string(node, entry),
            None => {
                self.missing(node, "an argument".to_owned(), example);
                None
            }
        }
    }

    /// Every positional argument as a string.
    pub(crate) fn arg_strings(&mut self, node: &KdlNode) -> Vec<String> {
        args(node)
            .filter_map(|entry| self.string(node, entry))
            .collect()
    }

    /// Records that `node` lacks `what`.
    pub(crate) fn missing(&mut self, node: &KdlNode, what: String, example: &str) {
        self.push(Problem::Missing {
            node: name(node).to_owned(),
            what,
            span: name_span(node),
            help: format!("write it as {example}"),
        });
    }

    /// A string entry parsed with the model's `FromStr`; its error becomes a bad-value
    /// problem carrying the model's message and help.
    pub(crate) fn parse<T>(&mut self, node: &KdlNode, entry: &KdlEntry) -> Option<T>
    where
        T: FromStr<Err = forger::model::Error>,
    {
        let text = self.string(node, entry)?;
        match text.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                let help = e
                    .help()
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "see the spec language reference".to_owned());
                self.push(Problem::BadValue {
                    node: name(node).to_owned(),
                    key: key_of(node, entry),
                    reason: e.to_string(),
                    span: entry.span(),
                    help,
                });
                None
            }
        }
    }

    /// An unsigned 32-bit integer entry.
    pub(crate) fn uint(&mut self, node: &KdlNode, entry: &KdlEntry) -> Option<u32> {
        match entry.value() {
            KdlValue::Integer(i) => match u32::try_from(*i) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.push(Problem::BadValue {
                        node: name(node).to_owned(),
                        key: key_of(node, entry),
                        reason: format!("{i} is out of range"),
                        span: entry.span(),
                        help: "use a whole number from 0 to 4294967295".to_owned(),
                    });
                    None
                }
            },
            other => {
                let key = key_of(node, entry);
                self.push(Problem::WrongType {
                    node: name(node).to_owned(),
                    help: format!("write a bare whole number, e.g. `{} 4`", name(node)),
                    key,
                    expected: "an integer",
                    found: type_name(other),
                    span: entry.span(),
                });
                None
            }
        }
    }

    /// A boolean entry (`#true`/`#false`, v1 `true`/`false`).
    pub(crate) fn boolean(&mut self, node: &KdlNode, entry: &KdlEntry) -> Option<bool> {
        match entry.value() {
            KdlValue::Bool(b) => Some(*b),
            other => {
                let key = key_of(node, entry);
                self.push(Problem::WrongType {
                    node: name(node).to_owned(),
                    help: format!("write `{key}=#true` or `{key}=#false`"),
                    key,
                    expected: "a boolean",
                    found: type_name(other),
                    span: entry.span(),
                });
                None
            }
        }
    }

    /// The optional property `key` parsed with the model's `FromStr`.
    pub(crate) fn prop_parse<T>(&mut self, node: &KdlNode, key: &str) -> Option<T>
    where
        T: FromStr<Err = forger::model::Error>,
    {
        let entry = prop(node, key)?;
        self.parse(node, entry)
    }

    /// The optional integer property `key`.
    pub(crate) fn prop_uint(&mut self, node: &KdlNode, key: &str) -> Option<u32> {
        let entry = prop(node, key)?;
        self.uint(node, entry)
    }
}

fn quoted_example(key: &str, value: &KdlValue) -> String {
    let shown = match value {
        KdlValue::String(s) => s.clone(),
        KdlValue::Integer(i) => i.to_string(),
        KdlValue::Float(f) => f.to_string(),
        KdlValue::Bool(b) => b.to_string(),
        KdlValue::Null => String::new(),
    };
    if key.starts_with("argument") {
        format!("\"{shown}\"")
    } else {
        format!("{key}=\"{shown}\"")
    }
}
