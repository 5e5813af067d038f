//! Code generation. Generated code reaches session-core only through `<crate>::__private`, with
//! fully qualified paths, so user names (`Option`, `Result`, `core`, `std`) cannot interfere.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, LitStr};

use crate::ast::{Field, Input};
use crate::attr::Ctxt;
use crate::{fallback, valid};

pub(crate) fn derive(node: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let input = Input::from_syn(&cx, node);
    if let Some(input) = &input {
        valid::check(&cx, input);
    }
    let krate = input
        .as_ref()
        .and_then(|i| i.attrs.krate.clone())
        .unwrap_or_else(default_crate);
    match (cx.finish(), input) {
        (Ok(()), Some(input)) => impl_session_data(&input, &krate),
        (Err(errors), _) => {
            let errors = errors.to_compile_error();
            let fallback = fallback::expand(node, &krate);
            quote! { #errors #fallback }
        }
        (Ok(()), None) => unreachable!("a rejected shape always reports an error"),
    }
}

/// Where session-core is for the crate being compiled: itself when it depends on it (under any
/// name), otherwise through the hidden re-export of the adapter it depends on, so users need
/// only one dependency. See [`crate::manifest`].
fn default_crate() -> syn::Path {
    match crate::manifest::find_runtime() {
        Some(crate::manifest::Runtime::Core(name)) => {
            let name = syn::Ident::new(&name, proc_macro2::Span::call_site());
            syn::parse_quote!(::#name)
        }
        Some(crate::manifest::Runtime::Adapter(name)) => {
            let name = syn::Ident::new(&name, proc_macro2::Span::call_site());
            syn::parse_quote!(::#name::__session_core)
        }
        None => syn::parse_quote!(::session_core),
    }
}

fn impl_session_data(input: &Input<'_>, krate: &syn::Path) -> TokenStream {
    let ident = input.ident;
    let private = quote!(#krate::__private);
    let name = LitStr::new(&input.schema_name(), ident.span());
    let version = input.version();
    let fingerprint = fingerprint(input, &input.fields);
    let prefixes = prefixes(input, &private);

    let mut slot: u8 = 0;
    let mut visits = Vec::new();
    let mut flash_checks = Vec::new();
    for field in &input.fields {
        let member = field.ident;
        if let Some(expires) = &field.attrs.expires_in {
            let seconds = i64::try_from(expires.value).unwrap_or(i64::MAX);
            visits.push(quote_spanned! {field.ty.span()=>
                #private::FieldVisitor::expiring(visitor, #slot, #seconds, &mut self.#member);
            });
            slot += 1;
        }
        if field.attrs.flash.is_some() {
            flash_checks.push(quote_spanned! {field.ty.span()=>
                #private::assert_flash(&value.#member);
            });
        }
    }
    let visit = (!visits.is_empty()).then(|| {
        quote! {
            fn visit_expiring(&mut self, visitor: &mut dyn #private::FieldVisitor) {
                #(#visits)*
            }
        }
    });
    let (migrate, migrate_checks) = match &input.attrs.migrate_from {
        None => (None, None),
        Some(old) => {
            let span = old.span();
            // One generic call carries both bounds (`Old: SessionData`, `Self: From<Old>`), so
            // a wrong `migrate_from` is reported once, at the user's type.
            let call = quote_spanned! {span=>
                #private::migrate::<Self, #old>(seen, payload, deadlines)
            };
            let migrate = quote! {
                fn migrate(
                    seen: #private::SchemaRef<'_>,
                    payload: &[u8],
                    deadlines: &#private::FieldDeadlines<'_>,
                ) -> #private::Option<#private::Result<(Self, #private::DecodeEffects), #private::Rejection>> {
                    #call
                }
            };
            let checks = quote_spanned! {span=>
                const _: () = #private::check_migration(
                    <#old as #private::SessionData>::SCHEMA,
                    #name,
                    #version,
                );
            };
            (Some(migrate), Some(checks))
        }
    };
    let flash = (!flash_checks.is_empty()).then(|| {
        quote! {
            const _: () = {
                fn __session_flash_fields(value: &#ident) {
                    #(#flash_checks)*
                }
            };
        }
    });
    quote! {
        #[automatically_derived]
        impl #private::SessionData for #ident {
            const SCHEMA: #private::Schema = #private::Schema {
                name: #name,
                version: #version,
                fingerprint: #fingerprint,
            };
            #prefixes
            #visit
            #migrate
        }
        #migrate_checks
        #flash
    }
}

/// `SessionData::PREFIXES`: for each field marked `default` (all at the end, see
/// [`valid`]), the fingerprint of the fields before it and how many fields follow them,
/// longest prefix first. Nothing when no field is marked.
fn prefixes(input: &Input<'_>, private: &TokenStream) -> Option<TokenStream> {
    let fields = &input.fields;
    let first_default = fields
        .iter()
        .rposition(|field| field.attrs.default.is_none())
        .map_or(0, |last_required| last_required + 1);
    let entries: Vec<TokenStream> = (first_default..fields.len())
        .rev()
        .map(|kept| {
            let fingerprint = fingerprint(input, &fields[..kept]);
            let appended = fields.len() - kept;
            quote! {
                #private::SchemaPrefix { fingerprint: #fingerprint, appended: #appended }
            }
        })
        .collect();
    (!entries.is_empty()).then(|| {
        quote! {
            const PREFIXES: &'static [#private::SchemaPrefix] = &[#(#entries),*];
        }
    })
}

/// FNV-1a (32-bit) over each field's name, type and session/serde attributes, with all
/// whitespace removed so the value does not depend on how the compiler spaces tokens; then the
/// struct's serde attributes. `fields` is the whole struct, or its first fields for the
/// fingerprint the struct had before the later ones were appended (`default` is not part of
/// the text, so marking a field `default` keeps the fingerprint).
fn fingerprint(input: &Input<'_>, fields: &[Field<'_>]) -> u32 {
    let mut text = String::new();
    for field in fields {
        text.push_str(&field.ident.to_string());
        text.push(':');
        text.push_str(&squash(field.ty.to_token_stream()));
        if field.attrs.expires_in.is_some() {
            text.push_str("@expiring");
        }
        if field.attrs.flash.is_some() {
            text.push_str("@flash");
        }
        for attr in field
            .original
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("serde"))
        {
            text.push_str(&squash(attr.to_token_stream()));
        }
        text.push(';');
    }
    for attr in input
        .original
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
    {
        text.push_str(&squash(attr.to_token_stream()));
    }
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

fn squash(tokens: TokenStream) -> String {
    tokens
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}
