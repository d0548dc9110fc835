//! The token-level grammar of the DSL: a list of KDL-like nodes read from a proc-macro token
//! stream, before any node is given a meaning.
//!
//! Token streams have no newlines, so node boundaries come from the tokens alone:
//! - a node starts with a name: identifiers joined by `-` (`ensure-dir`, `disk-size`);
//! - then come its entries: literals (`"text"`, `42`, `true`), braced Rust expressions
//!   (`{size}`), and properties `name = value` (a name *followed by `=`*);
//! - a name that is **not** followed by `=` ends the node and starts the next one, as does an
//!   optional `;`;
//! - a brace group is kept raw here: the meaning pass treats the last brace group of a node
//!   that takes children as its child block, and every other one as a Rust expression.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, Token};

/// A dashed node or property name with the tokens it was written as (for spans).
#[derive(Clone)]
pub struct Name {
    /// The name as written, parts joined by `-`.
    pub text: String,
    /// The identifier and `-` tokens, so errors can span all of them.
    pub tokens: TokenStream,
}

impl ToTokens for Name {
    fn to_tokens(&self, out: &mut TokenStream) {
        out.extend(self.tokens.clone());
    }
}

impl Parse for Name {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let first = Ident::parse_any(input)?;
        let mut text = first.to_string();
        let mut tokens = first.to_token_stream();
        while input.peek(Token![-]) && input.peek2(Ident::peek_any) {
            let dash: Token![-] = input.parse()?;
            let part = Ident::parse_any(input)?;
            text.push('-');
            text.push_str(&part.to_string());
            dash.to_tokens(&mut tokens);
            part.to_tokens(&mut tokens);
        }
        Ok(Name { text, tokens })
    }
}

/// One entry value: a literal or a braced group (expression or child block).
#[derive(Clone)]
pub enum Value {
    /// `"text"` (also raw strings).
    Str(syn::LitStr),
    /// `42`.
    Int(syn::LitInt),
    /// `true` / `false`.
    Bool(syn::LitBool),
    /// `{ … }`: a Rust expression, or a child block (decided by the meaning pass).
    Braced(Group),
}

impl Value {
    /// The span of the value for error messages.
    pub fn span(&self) -> Span {
        match self {
            Value::Str(l) => l.span(),
            Value::Int(l) => l.span(),
            Value::Bool(l) => l.span,
            Value::Braced(g) => g.span(),
        }
    }
}

impl ToTokens for Value {
    fn to_tokens(&self, out: &mut TokenStream) {
        match self {
            Value::Str(l) => l.to_tokens(out),
            Value::Int(l) => l.to_tokens(out),
            Value::Bool(l) => l.to_tokens(out),
            Value::Braced(g) => g.to_tokens(out),
        }
    }
}

/// `name = value` on a node.
#[derive(Clone)]
pub struct Prop {
    /// Property name.
    pub name: Name,
    /// Its value.
    pub value: Value,
}

/// A node: name, positional arguments, properties, and possibly a trailing brace group.
#[derive(Clone)]
pub struct Node {
    /// Node name.
    pub name: Name,
    /// Positional arguments in order (brace groups included, except a trailing one).
    pub args: Vec<Value>,
    /// Properties in order.
    pub props: Vec<Prop>,
    /// The trailing brace group, if the node ends with one: a child block or an expression.
    pub trailing: Option<Group>,
}

/// A list of nodes: a macro body or the inside of a child block.
pub struct Nodes(pub Vec<Node>);

impl Parse for Nodes {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut nodes = Vec::new();
        while !input.is_empty() {
            if input.peek(Token![;]) {
                input.parse::<Token![;]>()?;
                continue;
            }
            if !input.peek(Ident::peek_any) {
                return Err(input.error(
                    "expected a node name here (nodes start with a name such as `packages` or `ensure-dir`)",
                ));
            }
            nodes.push(parse_node(input)?);
        }
        Ok(Nodes(nodes))
    }
}

fn parse_node(input: ParseStream<'_>) -> syn::Result<Node> {
    let name: Name = input.parse()?;
    if input.peek(Token![=]) && !input.peek(Token![==]) {
        return Err(syn::Error::new_spanned(
            &name,
            format!(
                "`{0} = …` looks like a property, but there is no node before it; properties follow a node name, as in `metadata {0}=\"…\"`",
                name.text
            ),
        ));
    }
    let mut args = Vec::new();
    let mut props = Vec::new();
    let mut trailing = None;
    loop {
        if input.is_empty() || input.peek(Token![;]) {
            break;
        }
        if input.peek(Ident::peek_any) && !input.peek(syn::LitBool) {
            // A name: a property when `=` follows, else the next node.
            let fork = input.fork();
            let _: Name = fork.parse()?;
            if fork.peek(Token![=]) && !fork.peek(Token![==]) {
                let pname: Name = input.parse()?;
                input.parse::<Token![=]>()?;
                let value = parse_value(input, &pname)?;
                props.push(Prop { name: pname, value });
                continue;
            }
            break;
        }
        if let Some(group) = trailing.take() {
            args.push(Value::Braced(group));
        }
        let value = parse_value(input, &name)?;
        match value {
            Value::Braced(g) => trailing = Some(g),
            other => args.push(other),
        }
    }
    Ok(Node {
        name,
        args,
        props,
        trailing,
    })
}

fn parse_value(input: ParseStream<'_>, owner: &Name) -> syn::Result<Value> {
    if input.peek(syn::token::Brace) {
        let group: Group = input.parse()?;
        debug_assert_eq!(group.delimiter(), Delimiter::Brace);
        return Ok(Value::Braced(group));
    }
    if input.peek(syn::Lit) {
        let lit: Lit = input.parse()?;
        return match lit {
            Lit::Str(s) => Ok(Value::Str(s)),
            Lit::Int(i) => Ok(Value::Int(i)),
            Lit::Bool(b) => Ok(Value::Bool(b)),
            other => Err(syn::Error::new(
                other.span(),
                format!(
                    "`{}` takes strings (\"…\"), integers, `true`/`false` or a Rust expression in braces `{{…}}`",
                    owner.text
                ),
            )),
        };
    }
    Err(input.error(format!(
        "expected a value for `{}`: a string (\"…\"), an integer, `true`/`false` or a Rust expression in braces `{{…}}`",
        owner.text
    )))
}
