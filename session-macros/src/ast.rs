//! The derive input as a tree that keeps the original syntax, for error spans.

use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{self, ContainerAttrs, Ctxt, FieldAttrs};

pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: ContainerAttrs,
    pub(crate) fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: FieldAttrs,
}

impl<'a> Input<'a> {
    /// Reads a struct with named fields; reports any other shape and returns `None`.
    pub(crate) fn from_syn(cx: &Ctxt, node: &'a DeriveInput) -> Option<Self> {
        let fields = match &node.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => &named.named,
                Fields::Unnamed(unnamed) => {
                    cx.error(unnamed, "`SessionData` needs named fields: write `struct Name { field: Type }`, the names are part of the schema");
                    return None;
                }
                Fields::Unit => {
                    cx.error(node, "`SessionData` needs a struct with named fields: a unit struct has nothing to keep in a session");
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error(data.enum_token, "`SessionData` can only be derived for a struct with named fields; wrap the enum in a struct field");
                return None;
            }
            Data::Union(data) => {
                cx.error(
                    data.union_token,
                    "`SessionData` can only be derived for a struct with named fields, not a union",
                );
                return None;
            }
        };
        let attrs = attr::container(cx, &node.attrs);
        let fields = fields
            .iter()
            .filter_map(|field| {
                Some(Field {
                    original: field,
                    ident: field.ident.as_ref()?,
                    ty: &field.ty,
                    attrs: attr::field(cx, &field.attrs),
                })
            })
            .collect();
        Some(Self {
            original: node,
            ident: &node.ident,
            attrs,
            fields,
        })
    }

    /// The schema name: the `name` attribute, or the type name in snake_case.
    pub(crate) fn schema_name(&self) -> String {
        match &self.attrs.name {
            Some(name) => name.value.clone(),
            None => snake_case(&self.ident.to_string()),
        }
    }

    pub(crate) fn version(&self) -> u32 {
        self.attrs.version.as_ref().map_or(1, |v| v.value)
    }
}

impl Field<'_> {
    /// The last path segment of the field's type (`Expiring` for `session_core::Expiring<T>`).
    pub(crate) fn type_name(&self) -> Option<String> {
        match self.ty {
            Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        }
    }
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            previous_lower = false;
        } else {
            out.push(c);
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn snake_case() {
        assert_eq!(super::snake_case("AppSession"), "app_session");
        assert_eq!(super::snake_case("AppSessionV1"), "app_session_v1");
        assert_eq!(super::snake_case("Cart"), "cart");
    }
}
