//! The record layout: how a session of `T` sits in a store record, and how it is read back.
//!
//! A record holds `@meta` (schema, field order, issue time, user key), one field per struct
//! field (its postcard encoding), `@deadline:<slot>` per set expiring field, and
//! `@generation` (8 bytes, little-endian) when its user's sessions have a generation (see
//! [`crate::store::SessionStore`], "the per-user index"; absent means 0),
//! and, for a "your devices" page, `@device` (the application's label, when it set one) and
//! `@active` (last activity, written with each push of the idle deadline).
//!
//! Postcard writes a struct as its fields one after the other with no framing, so the
//! concatenation of the field encodings in declaration order is the encoding of the whole
//! struct: [`split`] cuts a session into its fields, and a record is read back by
//! concatenating its fields in the order `@meta` recorded and decoding that like a cookie
//! payload (same schema checks, same migrations).

use serde::Deserialize;
use serde::ser::{self, Impossible, Serialize, SerializeStruct};

use super::{Stored, serialize_error};
use crate::error::SessionError;
use crate::rejection::Rejection;
use crate::schema::{DecodeEffects, FieldDeadlines, SchemaRef, SessionData, decode_payload};
use crate::store::{Fields, RecordKey, SessionId};

/// The name of the field that says what a record is.
pub(super) const META: &str = "@meta";
/// The prefix of the field that holds an expiring field's deadline, followed by its slot.
const DEADLINE: &str = "@deadline:";
/// The field that holds the generation of the user's sessions this session was logged in
/// with.
pub(super) const GENERATION: &str = "@generation";
/// The field that holds the device label the application gave the session
/// ([`SessionHandle::set_device`](crate::SessionHandle::set_device)), UTF-8.
pub(super) const DEVICE: &str = "@device";
/// The field that holds when the session was last active (Unix seconds, 8 bytes,
/// little-endian), written with each push of the idle deadline (at most once per refresh
/// interval); absent: not since it was issued.
pub(super) const ACTIVE: &str = "@active";

/// The longest device label kept, in bytes; a longer one is cut at a character boundary.
pub(super) const MAX_DEVICE_BYTES: usize = 100;

/// When a record's session was last active, if the record says.
pub(super) fn last_active(fields: &Fields) -> Option<i64> {
    let bytes: [u8; 8] = fields.get(ACTIVE)?.try_into().ok()?;
    Some(i64::from_le_bytes(bytes))
}

/// The device label of a record, if it has one.
pub(super) fn device(fields: &Fields) -> Option<&str> {
    std::str::from_utf8(fields.get(DEVICE)?).ok()
}

/// What a record says about itself (`@meta`). The field list comes last, so that a reader of
/// the current schema decodes only [`MetaHead`] (postcard ignores the bytes after it) and takes
/// the field order from the struct itself.
#[derive(Debug, serde::Serialize, Deserialize)]
struct Meta<'a> {
    name: &'a str,
    version: u32,
    fingerprint: u32,
    issued_at: i64,
    #[serde(borrow)]
    user: Option<&'a str>,
    /// The struct's fields in declaration order.
    #[serde(borrow)]
    fields: Vec<&'a str>,
}

/// The start of [`Meta`], read without allocating.
#[derive(Debug, Deserialize)]
pub(super) struct MetaHead<'a> {
    name: &'a str,
    version: u32,
    fingerprint: u32,
    pub(super) issued_at: i64,
    #[serde(borrow)]
    pub(super) user: Option<&'a str>,
}

/// The name of the field that holds the deadline of the expiring field in `slot`.
pub(super) fn deadline_field(slot: u8) -> String {
    format!("{DEADLINE}{slot}")
}

/// The start of a record's `@meta`, if it has a readable one.
pub(super) fn meta_head(fields: &Fields) -> Option<MetaHead<'_>> {
    postcard::from_bytes(fields.get(META)?).ok()
}

/// The `@meta` field of a record of `T`.
pub(super) fn meta_bytes<T: SessionData>(
    issued_at: i64,
    user: Option<&str>,
    fields: &[(&'static str, Vec<u8>)],
) -> Result<Vec<u8>, SessionError> {
    let meta = Meta {
        name: T::SCHEMA.name,
        version: T::SCHEMA.version,
        fingerprint: T::SCHEMA.fingerprint,
        issued_at,
        user,
        fields: fields.iter().map(|(name, _)| *name).collect(),
    };
    postcard::to_allocvec(&meta).map_err(serialize_error)
}

/// Reads a record as `T`: schema checks and migrations as for a cookie payload (a record of an
/// earlier field list gets the appended fields' defaults), then expired fields dropped. Answers
/// what decoding did; a migrated or extended record is marked for a rewrite.
pub(super) fn decode_record<T: SessionData>(
    id: SessionId,
    key: RecordKey,
    fields: Fields,
    now: i64,
) -> Result<(T, Stored, DecodeEffects), Rejection> {
    // A record without `@meta` is the leftover of a write that raced a logout: not a session.
    let meta_bytes = fields.get(META).ok_or(Rejection::UnknownSession)?;
    let head: MetaHead<'_> =
        postcard::from_bytes(meta_bytes).map_err(|_| Rejection::Undecodable)?;
    let ours = T::SCHEMA;
    let current = head.name == ours.name
        && head.version == ours.version
        && head.fingerprint == ours.fingerprint;
    // The field order: the struct's own for the current schema, the recorded one otherwise
    // (then every name of the record is kept, to remove what the new schema lacks).
    let order: Vec<&str> = if current {
        field_order::<T>().map_err(|_| Rejection::Undecodable)?
    } else {
        let meta: Meta<'_> =
            postcard::from_bytes(meta_bytes).map_err(|_| Rejection::Undecodable)?;
        meta.fields
    };
    let stale: Vec<String> = if current {
        Vec::new()
    } else {
        fields
            .iter()
            .filter(|(name, _)| *name != META)
            .map(|(name, _)| name.to_owned())
            .collect()
    };
    let mut deadlines: Vec<(u8, i64)> = Vec::new();
    let mut generation = 0;
    for (name, bytes) in &fields {
        if let Some(slot) = name.strip_prefix(DEADLINE) {
            let slot = slot.parse().map_err(|_| Rejection::Undecodable)?;
            let deadline = postcard::from_bytes(bytes).map_err(|_| Rejection::Undecodable)?;
            deadlines.push((slot, deadline));
        } else if name == GENERATION {
            let bytes: [u8; 8] = bytes.try_into().map_err(|_| Rejection::Undecodable)?;
            generation = u64::from_le_bytes(bytes);
        }
    }
    // The struct fields in order; a missing one makes the record undecodable.
    let mut payload = Vec::with_capacity(fields.iter().map(|(_, bytes)| bytes.len()).sum());
    for name in &order {
        payload.extend_from_slice(fields.get(name).ok_or(Rejection::Undecodable)?);
    }
    let seen = SchemaRef {
        name: head.name,
        version: head.version,
        fingerprint: head.fingerprint,
    };
    let field_deadlines = FieldDeadlines {
        deadlines: &deadlines,
        now,
    };
    let (data, effects) = decode_payload::<T>(seen, &payload, &field_deadlines)?;
    let (issued_at, user) = (head.issued_at, head.user.map(str::to_owned));
    Ok((
        data,
        Stored {
            id,
            key,
            issued_at,
            user,
            generation,
            // The record as loaded (shared with the store's copy, not copied): the baseline
            // that a later update compares with, field by field.
            fields,
            // All deadlines as stored, so the next write removes those of dropped fields.
            deadlines,
            stale,
            rewrite: effects.migrated || effects.fields_appended,
            cookie_due: false,
        },
        effects,
    ))
}

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

struct SplitFields {
    values: bool,
    fields: Vec<(&'static str, Vec<u8>)>,
}

impl SerializeStruct for SplitFields {
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
    type SerializeStruct = SplitFields;
    type SerializeStructVariant = Never;

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<SplitFields, SplitError> {
        Ok(SplitFields {
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
pub(super) fn field_order<T: Serialize + Default>() -> Result<Vec<&'static str>, SplitError> {
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
