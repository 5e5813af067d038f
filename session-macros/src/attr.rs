//! Attribute parsing: `#[session(...)]` on the container and on fields. Every problem is
//! collected in a [`Ctxt`], so one compile reports all of them.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::ParseStream;
use syn::{Attribute, LitInt, LitStr, Token};

/// The attribute's name.
pub(crate) const SESSION: &str = "session";

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(version);
    syn::custom_keyword!(migrate_from);
    syn::custom_keyword!(expires_in);
    syn::custom_keyword!(flash);
    syn::custom_keyword!(default);
}

/// Collects errors; combined into one `compile_error!` set at the end.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    pub(crate) fn error(&self, tokens: impl ToTokens, message: impl Display) {
        self.errors
            .borrow_mut()
            .push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        let mut errors = self.errors.into_inner().into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            first.combine(error);
        }
        Err(first)
    }
}

/// A value with the tokens it came from, for error spans.
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) tokens: TokenStream,
}

/// `#[session(...)]` on the struct.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) version: Option<Spanned<u32>>,
    pub(crate) migrate_from: Option<syn::Type>,
    pub(crate) krate: Option<syn::Path>,
}

/// `#[session(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) expires_in: Option<Spanned<u64>>,
    /// An `expires_in` was written but did not parse (already reported).
    pub(crate) expires_in_invalid: bool,
    pub(crate) flash: Option<TokenStream>,
    /// `default`: appended with a default, so sessions of the shorter field list still load.
    pub(crate) default: Option<TokenStream>,
}

fn duplicate(cx: &Ctxt, tokens: impl ToTokens, key: &str) {
    cx.error(tokens, format!("duplicate `{key}`: give it once"));
}

pub(crate) fn container(cx: &Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(SESSION)) {
        let result = attr.parse_args_with(|input: ParseStream<'_>| {
            while !input.is_empty() {
                let lookahead = input.lookahead1();
                if lookahead.peek(kw::name) {
                    let key: kw::name = input.parse()?;
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    if out.name.is_some() {
                        duplicate(cx, key, "name");
                    }
                    out.name = Some(Spanned { value: lit.value(), tokens: lit.to_token_stream() });
                } else if lookahead.peek(kw::version) {
                    let key: kw::version = input.parse()?;
                    input.parse::<Token![=]>()?;
                    let expr: syn::Expr = input.parse()?;
                    if out.version.is_some() {
                        duplicate(cx, key, "version");
                    }
                    out.version = parse_version(cx, &expr).map(|v| Spanned { value: v, tokens: expr.to_token_stream() });
                } else if lookahead.peek(kw::migrate_from) {
                    let key: kw::migrate_from = input.parse()?;
                    input.parse::<Token![=]>()?;
                    let ty: syn::Type = input.parse()?;
                    if out.migrate_from.is_some() {
                        duplicate(cx, key, "migrate_from");
                    }
                    out.migrate_from = Some(ty);
                } else if lookahead.peek(Token![crate]) {
                    let key: Token![crate] = input.parse()?;
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    if out.krate.is_some() {
                        duplicate(cx, key, "crate");
                    }
                    match lit.parse::<syn::Path>() {
                        Ok(path) => out.krate = Some(path),
                        Err(_) => cx.error(&lit, "`crate` must be a path like \"my_app::session_core\""),
                    }
                } else {
                    let unknown: TokenStream = input.parse::<proc_macro2::TokenTree>()?.into();
                    cx.error(
                        unknown,
                        "unknown `session` attribute on a struct: expected `name = \"...\"`, `version = N`, `migrate_from = Type` or `crate = \"...\"`",
                    );
                    skip_value(input)?;
                }
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.push(error);
        }
    }
    out
}

pub(crate) fn field(cx: &Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(SESSION)) {
        let result = attr.parse_args_with(|input: ParseStream<'_>| {
            while !input.is_empty() {
                let lookahead = input.lookahead1();
                if lookahead.peek(kw::expires_in) {
                    let key: kw::expires_in = input.parse()?;
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    if out.expires_in.is_some() {
                        duplicate(cx, key, "expires_in");
                    }
                    match parse_duration(&lit.value()) {
                        Ok(seconds) => out.expires_in = Some(Spanned { value: seconds, tokens: key.to_token_stream() }),
                        Err(why) => {
                            out.expires_in_invalid = true;
                            cx.error(
                                &lit,
                                format!("`expires_in` must be a duration like \"15m\", \"2h\" or \"1h30m\" (units s, m, h, d): {why}"),
                            );
                        }
                    }
                } else if lookahead.peek(kw::flash) {
                    let key: kw::flash = input.parse()?;
                    if out.flash.is_some() {
                        duplicate(cx, key, "flash");
                    }
                    out.flash = Some(key.to_token_stream());
                } else if lookahead.peek(kw::default) {
                    let key: kw::default = input.parse()?;
                    if out.default.is_some() {
                        duplicate(cx, key, "default");
                    }
                    out.default = Some(key.to_token_stream());
                } else {
                    let unknown: TokenStream = input.parse::<proc_macro2::TokenTree>()?.into();
                    cx.error(unknown, "unknown `session` attribute on a field: expected `expires_in = \"5m\"`, `flash` or `default`");
                    skip_value(input)?;
                }
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.push(error);
        }
    }
    out
}

/// Skips `= value` after an unknown key so the rest of the list is still checked.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        while !input.is_empty() && !input.peek(Token![,]) {
            input.parse::<proc_macro2::TokenTree>()?;
        }
    }
    Ok(())
}

fn parse_version(cx: &Ctxt, expr: &syn::Expr) -> Option<u32> {
    const HINT: &str = "`version` must be a whole number from 1, like `version = 2`";
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Int(int),
        ..
    }) = expr
    else {
        cx.error(expr, HINT);
        return None;
    };
    match parse_u32(int) {
        Some(0) => {
            cx.error(
                int,
                "`version` starts at 1: write `version = 1` for the first version",
            );
            None
        }
        Some(version) => Some(version),
        None => {
            cx.error(int, HINT);
            None
        }
    }
}

fn parse_u32(int: &LitInt) -> Option<u32> {
    if !int.suffix().is_empty() && int.suffix() != "u32" {
        return None;
    }
    int.base10_parse::<u32>().ok()
}

/// The longest accepted lifetime: ten years.
const MAX_SECONDS: u64 = 10 * 365 * 86_400;

/// Parses `"1h30m"`-style durations into seconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err("it is empty".into());
    }
    if text.starts_with('-') {
        return Err("it is negative".into());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            ' ' => return Err("it has a space".into()),
            other => return Err(format!("`{other}` is not a unit")),
        };
        if digits.is_empty() {
            return Err(format!("`{c}` has no number before it"));
        }
        let amount: u64 = digits
            .parse()
            .map_err(|_| "the number is too large".to_owned())?;
        total = amount
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .filter(|s| *s <= MAX_SECONDS)
            .ok_or_else(|| "it is longer than ten years".to_owned())?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!("`{digits}` has no unit"));
    }
    if total == 0 {
        return Err("it is zero".into());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h30m"), Ok(5_400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        for bad in [
            "",
            "0s",
            "-5m",
            "10x",
            "15 minutes",
            "99999999999999d",
            "m",
            "5",
            "11000d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
