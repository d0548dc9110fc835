//! Values of the DSL: literals checked and emitted as constructors (`Size::mib(4000)`,
//! `Mode::new(0o644)`, keyword enums), and braced Rust expressions passed through at their
//! own spans so type errors point at the user's tokens.

use proc_macro2::{Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};

use super::Cx;
use crate::literals::{self, Keyword};
use crate::suggest;
use crate::syntax::Value;

impl Cx {
    // ----- values --------------------------------------------------------------------------

    /// A braced Rust expression, parenthesised and spanned at the user's tokens.
    pub(super) fn expr(&mut self, g: &Group) -> Option<TokenStream> {
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
    pub(super) fn text(&mut self, v: &Value, what: &str) -> Option<TokenStream> {
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
    pub(super) fn string(&mut self, v: &Value, what: &str) -> Option<TokenStream> {
        let t = self.text(v, what)?;
        Some(quote_spanned!(v.span()=> ::std::string::String::from(#t)))
    }

    pub(super) fn boolean(&mut self, v: &Value, what: &str) -> Option<TokenStream> {
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

    pub(super) fn uint(&mut self, v: &Value, what: &str, example: &str) -> Option<TokenStream> {
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

    pub(super) fn size(&mut self, v: &Value, what: &str) -> Option<TokenStream> {
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

    pub(super) fn mode(&mut self, v: &Value) -> Option<TokenStream> {
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

    pub(super) fn keyword(&mut self, v: &Value, k: &Keyword) -> Option<TokenStream> {
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

    pub(super) fn package(&mut self, v: &Value) -> Option<TokenStream> {
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
