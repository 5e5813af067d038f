//! Checks on the parsed input, all reported in one compile.

use quote::ToTokens;

use crate::ast::Input;
use crate::attr::Ctxt;

pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    let generics = &input.original.generics;
    if !generics.params.is_empty() {
        cx.error(
            generics,
            "`SessionData` cannot be derived for a generic struct: a schema has one concrete shape; use concrete field types",
        );
    }
    if let Some(name) = &input.attrs.name {
        let valid = !name.value.is_empty()
            && name.value.len() <= 64
            && name
                .value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            cx.error(
                &name.tokens,
                "`name` may only use lowercase letters, digits, `_` and `-` (1 to 64 characters), like `name = \"app\"`",
            );
        }
    }
    let mut expiring = 0usize;
    for field in &input.fields {
        let type_name = field.type_name();
        let is_expiring = type_name.as_deref() == Some("Expiring");
        let is_flash = type_name.as_deref() == Some("Flash");
        match (&field.attrs.expires_in, &field.attrs.flash) {
            (Some(expires), Some(_)) => cx.error(
                &expires.tokens,
                "`flash` and `expires_in` cannot be combined: a flash field lives until it is read; use one or the other",
            ),
            (Some(_), None) if !is_expiring => cx.error(
                field.ty,
                "`expires_in` needs a field of type `Expiring<T>`: write `Expiring<T>` so reading after the deadline gives nothing",
            ),
            (None, Some(_)) if !is_flash => {
                cx.error(field.ty, "`flash` needs a field of type `Flash<T>`: write `Flash<T>` so the value is read once")
            }
            (None, None) if is_expiring && !field.attrs.expires_in_invalid => cx.error(
                field.ty,
                "an `Expiring<T>` field needs its lifetime: add `#[session(expires_in = \"5m\")]`",
            ),
            (None, None) if is_flash => {
                cx.error(field.ty, "a `Flash<T>` field needs `#[session(flash)]`")
            }
            _ => {}
        }
        if field.attrs.expires_in.is_some() {
            expiring += 1;
        }
    }
    if expiring > usize::from(u8::MAX) {
        cx.error(
            input.original.ident.to_token_stream(),
            "at most 255 `expires_in` fields are supported",
        );
    }
}
