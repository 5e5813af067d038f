//! Splits a session struct into one postcard-encoded value per field.
//!
//! Postcard writes a struct as its fields one after the other with no framing, so the
//! concatenation of the field encodings in declaration order is the encoding of the whole
//! struct: a record is read back by concatenating its fields in the order `@meta` recorded
//! and decoding that like a cookie payload (same schema checks, same migrations).

use serde::ser::{self, Impossible, Serialize, SerializeStruct};

/// Why a value could not be split into fields.
#[derive(Debug)]
pub(crate) struct SplitError(String);

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SplitError {}

impl ser::Error for SplitError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

fn not_a_struct<T>() -> Result<T, SplitError> {
    Err(SplitError(
        "a server-side store needs the session to serialize as a struct with named fields \
         (no #[serde(flatten)], tuple structs or enums at the top level)"
            .to_owned(),
    ))
}

/// The fields of `value`, each encoded with postcard, in declaration order.
pub(crate) fn split<T: Serialize>(value: &T) -> Result<Vec<(&'static str, Vec<u8>)>, SplitError> {
    value.serialize(Splitter { values: true })
}

/// Serializes a struct's fields one by one; with `values: false` it only records the names.
struct Splitter {
    values: bool,
}

struct Fields {
    values: bool,
    fields: Vec<(&'static str, Vec<u8>)>,
}

impl SerializeStruct for Fields {
    type Ok = Vec<(&'static str, Vec<u8>)>;
    type Error = SplitError;

    fn serialize_field<V: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), SplitError> {
        let bytes = if self.values {
            postcard::to_allocvec(value).map_err(|e| SplitError(e.to_string()))?
        } else {
            Vec::new()
        };
        self.fields.push((key, bytes));
        Ok(())
    }

    fn end(self) -> Result<Self::Ok, SplitError> {
        Ok(self.fields)
    }
}

type Never = Impossible<Vec<(&'static str, Vec<u8>)>, SplitError>;

macro_rules! refuse {
    ($($name:ident($($arg:ty),*);)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<Self::Ok, SplitError> { not_a_struct() })*
    };
}

impl ser::Serializer for Splitter {
    type Ok = Vec<(&'static str, Vec<u8>)>;
    type Error = SplitError;
    type SerializeSeq = Never;
    type SerializeTuple = Never;
    type SerializeTupleStruct = Never;
    type SerializeTupleVariant = Never;
    type SerializeMap = Never;
    type SerializeStruct = Fields;
    type SerializeStructVariant = Never;

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Fields, SplitError> {
        Ok(Fields {
            values: self.values,
            fields: Vec::with_capacity(len),
        })
    }

    refuse! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32);
        serialize_u64(u64); serialize_f32(f32); serialize_f64(f64); serialize_char(char);
        serialize_str(&str); serialize_bytes(&[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<V: ?Sized + Serialize>(self, _: &V) -> Result<Self::Ok, SplitError> {
        not_a_struct()
    }
    fn serialize_newtype_struct<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &V,
    ) -> Result<Self::Ok, SplitError> {
        not_a_struct()
    }
    fn serialize_newtype_variant<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<Self::Ok, SplitError> {
        not_a_struct()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Never, SplitError> {
        not_a_struct()
    }
    fn serialize_tuple(self, _: usize) -> Result<Never, SplitError> {
        not_a_struct()
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Never, SplitError> {
        not_a_struct()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Never, SplitError> {
        not_a_struct()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Never, SplitError> {
        not_a_struct()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Never, SplitError> {
        not_a_struct()
    }
}

/// The field names of `T` in the order `T` serializes them (the order of a record's
/// concatenation). Taken from the `Serialize` side on purpose: `Deserialize`'s field list also
/// holds `#[serde(alias)]` names, in another order.
pub(crate) fn field_order<T: Serialize + Default>() -> Result<Vec<&'static str>, SplitError> {
    T::default()
        .serialize(Splitter { values: false })
        .map(|fields| fields.into_iter().map(|(name, _)| name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct S {
        user: Option<String>,
        visits: u64,
        tags: Vec<String>,
    }

    #[test]
    fn fields_concatenate_to_the_whole_encoding() {
        let value = S {
            user: Some("alice".into()),
            visits: 300,
            tags: vec!["a".into(), "b".into()],
        };
        let fields = split(&value).expect("split");
        let names: Vec<_> = fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["user", "visits", "tags"]);
        let whole: Vec<u8> = fields.iter().flat_map(|(_, b)| b.clone()).collect();
        assert_eq!(whole, postcard::to_allocvec(&value).expect("postcard"));
        assert_eq!(postcard::from_bytes::<S>(&whole).expect("decode"), value);
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Renamed {
        zeta: u8,
        #[serde(alias = "old_name", rename = "alpha")]
        beta: u8,
    }

    #[test]
    fn field_order_is_the_serialized_order_without_aliases() {
        assert_eq!(
            field_order::<S>().expect("struct"),
            ["user", "visits", "tags"]
        );
        assert_eq!(field_order::<Renamed>().expect("struct"), ["zeta", "alpha"]);
        assert!(field_order::<u8>().is_err());
    }

    #[test]
    fn only_structs_split() {
        assert!(split(&5u8).is_err());
        assert!(split(&vec![1u8]).is_err());
        assert!(split(&std::collections::BTreeMap::from([("a", 1)])).is_err());
    }
}
