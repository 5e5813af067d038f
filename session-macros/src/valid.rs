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
    check_defaults(cx, input);
    if expiring > usize::from(u8::MAX) {
        cx.error(
            input.original.ident.to_token_stream(),
            "at most 255 `expires_in` fields are supported",
        );
    }
}

/// `default` fields come after every other field, so an older field list is a prefix of this
/// one; and they are serialized, so the defaults' encodings are what an older payload lacks.
fn check_defaults(cx: &Ctxt, input: &Input<'_>) {
    let last_required = input
        .fields
        .iter()
        .rposition(|field| field.attrs.default.is_none());
    for (index, field) in input.fields.iter().enumerate() {
        let Some(default) = &field.attrs.default else {
            continue;
        };
        if let Some(last) = last_required.filter(|last| index < *last) {
            let after = input.fields[last].ident;
            cx.error(
                default,
                format!(
                    "a `default` field must come after every field without `default`, so that sessions written before it was added are a prefix of this struct: move `{}` after `{after}`, or remove `default` and bump `version` with `migrate_from`",
                    field.ident,
                ),
            );
        }
        if let Some(skip) = serde_skip(field.original) {
            cx.error(
                skip,
                "`default` cannot be combined with a serde `skip`: a skipped field is not in the session payload, so it needs no `default`; remove one of them",
            );
        }
    }
}

/// The first `skip`, `skip_serializing`, `skip_deserializing` or `skip_serializing_if` in the
/// field's `#[serde(...)]` attributes.
fn serde_skip(field: &syn::Field) -> Option<proc_macro2::Ident> {
    const SKIPS: [&str; 4] = [
        "skip",
        "skip_serializing",
        "skip_deserializing",
        "skip_serializing_if",
    ];
    field
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("serde"))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::List(list) => Some(list.tokens.clone()),
            _ => None,
        })
        .flatten()
        .find_map(|token| match token {
            proc_macro2::TokenTree::Ident(ident) if SKIPS.iter().any(|s| ident == s) => Some(ident),
            _ => None,
        })
}
