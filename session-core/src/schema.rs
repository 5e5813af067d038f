//! Session schemas: the [`SessionData`] trait and the field types with their own lifetime.
//!
//! A schema is a named, versioned struct. Its [`Schema`] travels in every token, so a token
//! written by another struct (another name, another version without a migration path, or the
//! same name and version but different fields) is refused instead of misread. One change needs
//! no new version: fields appended at the end with `#[session(default)]`. A token of the
//! shorter field list (a [`SchemaPrefix`]) is read by appending the defaults' encodings to its
//! payload.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::rejection::{Rejection, SchemaMismatch};

/// The identity of a session schema: name, version and a fingerprint of its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schema {
    /// The schema name, `[a-z0-9_-]`, shared by every version of the struct.
    pub name: &'static str,
    /// The schema version, from 1.
    pub version: u32,
    /// A stable hash of the field names and types; changes when the struct changes shape.
    pub fingerprint: u32,
}

impl Schema {
    /// The fingerprint as the 8 hexadecimal digits a schema lock pins.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:08x}", self.fingerprint)
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} v{} ({:08x})",
            self.name, self.version, self.fingerprint
        )
    }
}

/// An earlier field list of a schema, with the same name and version, whose tokens and records
/// a struct still reads: the struct then had only its first fields, and the last `appended`
/// fields were added since, each with a default (`#[session(default)]`). See
/// [`SessionData::PREFIXES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SchemaPrefix {
    /// The fingerprint the struct had with only its first fields.
    pub fingerprint: u32,
    /// How many fields were appended after them.
    pub appended: usize,
}

/// The schema a token says it was written with, as read from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaRef<'a> {
    /// The schema name in the token.
    pub name: &'a str,
    /// The schema version in the token.
    pub version: u32,
    /// The fingerprint in the token.
    pub fingerprint: u32,
}

/// What decoding did besides producing a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeEffects {
    /// The token was written by an older schema version and migrated.
    pub migrated: bool,
    /// The token was written by an earlier field list of this version (a [`SchemaPrefix`]);
    /// the appended fields got their defaults.
    pub fields_appended: bool,
    /// At least one field's deadline had passed and its value was dropped.
    pub fields_expired: bool,
}

/// The data of a session: a struct that serde can write, with a default for new sessions.
///
/// Implement it with `#[derive(SessionData)]` (see the `session-macros` crate); implementing it
/// by hand is possible and shown here for the record.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use session_core::{Schema, SessionData};
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Cart {
///     items: Vec<u32>,
/// }
///
/// impl SessionData for Cart {
///     const SCHEMA: Schema = Schema { name: "cart", version: 1, fingerprint: 0x0c0ffee1 };
/// }
/// ```
///
/// # Changing the struct
/// Tokens and store records carry the schema's name, version and fingerprint, and are refused
/// when those do not match (the user gets a fresh session), so a change to the fields needs one
/// of two things:
/// - **Fields appended at the end with `#[session(default)]`**: nothing else. The derive
///   lists every earlier field list that is a prefix of today's in
///   [`PREFIXES`](Self::PREFIXES); a token or record of such a list loads with the appended
///   fields taken from `Self::default()`, and is re-issued (rewritten, in store mode) with
///   today's fingerprint.
/// - **Anything else** (a field removed, renamed, reordered, retyped, or added elsewhere than
///   at the end): a new `version` and a migration from the old one (`migrate_from`, or
///   [`migrate`](Self::migrate) by hand).
///
/// Either way the change goes one way only: code that still has the old struct (a rollback,
/// or the old half of a rolling deployment) refuses the new tokens, for appended fields as a
/// fingerprint mismatch, which ends those sessions.
///
/// A hand-written impl lists its prefixes itself: the fingerprint the struct had before, and how
/// many fields were appended since.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use session_core::{Schema, SchemaPrefix, SessionData};
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Cart {
///     items: Vec<u32>,
///     coupon: Option<String>, // appended; `Cart::default()` gives old sessions `None`
/// }
///
/// impl SessionData for Cart {
///     const SCHEMA: Schema = Schema { name: "cart", version: 1, fingerprint: 0x0c0ffee2 };
///     const PREFIXES: &'static [SchemaPrefix] =
///         &[SchemaPrefix { fingerprint: 0x0c0ffee1, appended: 1 }];
/// }
/// ```
pub trait SessionData: Serialize + DeserializeOwned + Default + Send + Sync + 'static {
    /// The schema this type writes.
    const SCHEMA: Schema;

    /// Earlier field lists of this schema's name and version that still decode as `Self`: a
    /// payload of such a list, followed by the encodings of the last
    /// [`appended`](SchemaPrefix::appended) serialized fields of `Self::default()`, is a
    /// payload of `Self`. Longest prefix first. The derive lists one per field marked
    /// `#[session(default)]` at the end of the struct; the default has none.
    const PREFIXES: &'static [SchemaPrefix] = &[];

    /// Shows each [`Expiring`] field to `visitor`, with its slot number (stable within a
    /// version) and lifetime in seconds. The default has no expiring fields.
    fn visit_expiring(&mut self, visitor: &mut dyn FieldVisitor) {
        let _ = visitor;
    }

    /// Decodes a token written by an older version of this schema, when a migration path
    /// exists; `None` when it does not. The derive implements this for `migrate_from`.
    ///
    /// # Errors
    /// The rejection the older version's decoding ended in.
    fn migrate(
        seen: SchemaRef<'_>,
        payload: &[u8],
        deadlines: &FieldDeadlines<'_>,
    ) -> Option<Result<(Self, DecodeEffects), Rejection>> {
        let _ = (seen, payload, deadlines);
        None
    }
}

/// Receives the expiring fields of a session, see [`SessionData::visit_expiring`].
pub trait FieldVisitor {
    /// One expiring field: its slot, its lifetime in seconds, and the field.
    fn expiring(&mut self, slot: u8, lifetime_seconds: i64, field: &mut dyn ExpiringField);
}

/// The view of an [`Expiring`] field the token layer needs, independent of its value type.
pub trait ExpiringField {
    /// Whether the field holds a value.
    fn is_set(&self) -> bool;
    /// Whether the value was written during this request (which restarts its clock).
    fn was_written(&self) -> bool;
    /// The deadline, as Unix seconds, the field's value lives until.
    fn deadline(&self) -> Option<i64>;
    /// Sets the deadline (Unix seconds) and forgets the write mark.
    fn set_deadline(&mut self, deadline: Option<i64>);
    /// Drops the value.
    fn clear(&mut self);
}

/// Per-field deadlines read from a token, with the time of the request.
#[derive(Debug, Clone, Copy)]
pub struct FieldDeadlines<'a> {
    /// `(slot, deadline as Unix seconds)` pairs from the token.
    pub deadlines: &'a [(u8, i64)],
    /// The request time, Unix seconds.
    pub now: i64,
}

impl FieldDeadlines<'_> {
    /// Restores each expiring field's deadline and drops the values whose deadline has passed
    /// (or that have none, which only a damaged token could produce). Returns whether any
    /// value was dropped.
    pub fn apply<T: SessionData>(&self, value: &mut T) -> bool {
        struct Apply<'a> {
            deadlines: &'a [(u8, i64)],
            now: i64,
            expired: bool,
        }
        impl FieldVisitor for Apply<'_> {
            fn expiring(&mut self, slot: u8, _lifetime: i64, field: &mut dyn ExpiringField) {
                if !field.is_set() {
                    return;
                }
                let deadline = self
                    .deadlines
                    .iter()
                    .find(|(s, _)| *s == slot)
                    .map(|(_, deadline)| *deadline);
                match deadline {
                    Some(deadline) if self.now < deadline => field.set_deadline(Some(deadline)),
                    _ => {
                        field.clear();
                        self.expired = true;
                    }
                }
            }
        }
        let mut apply = Apply {
            deadlines: self.deadlines,
            now: self.now,
            expired: false,
        };
        value.visit_expiring(&mut apply);
        apply.expired
    }
}

/// Collects the deadlines of the set expiring fields for a token written at `now`: a field
/// written during this request (or never stamped) gets `now + lifetime`; others keep theirs.
pub(crate) fn collect_deadlines<T: SessionData>(value: &mut T, now: i64) -> Vec<(u8, i64)> {
    struct Collect {
        now: i64,
        out: Vec<(u8, i64)>,
    }
    impl FieldVisitor for Collect {
        fn expiring(&mut self, slot: u8, lifetime: i64, field: &mut dyn ExpiringField) {
            if !field.is_set() {
                return;
            }
            let deadline = match field.deadline() {
                Some(deadline) if !field.was_written() => deadline,
                _ => self.now.saturating_add(lifetime),
            };
            field.set_deadline(Some(deadline));
            self.out.push((slot, deadline));
        }
    }
    let mut collect = Collect {
        now,
        out: Vec::new(),
    };
    value.visit_expiring(&mut collect);
    collect.out
}

/// The schema version of store-mode tokens, whose payload is a session id rather than data.
/// Real schemas start at version 1.
pub(crate) const STORE_ID_VERSION: u32 = 0;

/// Refuses a token written for another schema name.
pub(crate) fn check_name<T: SessionData>(seen: SchemaRef<'_>) -> Result<(), Rejection> {
    let ours = T::SCHEMA;
    if seen.name == ours.name {
        return Ok(());
    }
    Err(Rejection::SchemaMismatch(SchemaMismatch::Name {
        expected: ours.name,
        seen: seen.name.chars().take(64).collect(),
    }))
}

/// Decodes a payload written under `seen` as `T`, following `migrate_from` chains for older
/// versions and appending the defaults of the fields added since an earlier field list of this
/// version ([`SessionData::PREFIXES`]), and drops expired fields.
///
/// # Errors
/// [`Rejection::SchemaMismatch`] for another name, an unknown version or a fingerprint that is
/// neither `T`'s nor one of its prefixes'; [`Rejection::Undecodable`] when the bytes do not fit
/// the schema.
pub fn decode_payload<T: SessionData>(
    seen: SchemaRef<'_>,
    payload: &[u8],
    deadlines: &FieldDeadlines<'_>,
) -> Result<(T, DecodeEffects), Rejection> {
    check_name::<T>(seen)?;
    let ours = T::SCHEMA;
    if seen.version == STORE_ID_VERSION {
        return Err(Rejection::SchemaMismatch(SchemaMismatch::SessionMode {
            name: ours.name,
            token_is_store_id: true,
        }));
    }
    if seen.version == ours.version {
        let mut value: T = if seen.fingerprint == ours.fingerprint {
            postcard::from_bytes(payload).map_err(|_| Rejection::Undecodable)?
        } else if let Some(prefix) = T::PREFIXES
            .iter()
            .find(|prefix| prefix.fingerprint == seen.fingerprint)
        {
            let extended = with_defaults_appended::<T>(payload, prefix.appended)?;
            postcard::from_bytes(&extended).map_err(|_| Rejection::Undecodable)?
        } else {
            return Err(Rejection::SchemaMismatch(SchemaMismatch::Fingerprint {
                name: ours.name,
                version: ours.version,
                expected: ours.fingerprint,
                seen: seen.fingerprint,
            }));
        };
        let fields_expired = deadlines.apply(&mut value);
        return Ok((
            value,
            DecodeEffects {
                migrated: false,
                fields_appended: seen.fingerprint != ours.fingerprint,
                fields_expired,
            },
        ));
    }
    if seen.version < ours.version
        && let Some(result) = T::migrate(seen, payload, deadlines)
    {
        return result.map(|(value, effects)| {
            (
                value,
                DecodeEffects {
                    migrated: true,
                    ..effects
                },
            )
        });
    }
    Err(Rejection::SchemaMismatch(SchemaMismatch::Version {
        name: ours.name,
        expected: ours.version,
        seen: seen.version,
    }))
}

/// `payload` (of an earlier field list) followed by the encodings of the last `appended`
/// serialized fields of `T::default()`: postcard writes a struct as its fields one after the
/// other with no framing, so that is a payload of `T`.
///
/// # Errors
/// [`Rejection::Undecodable`] when `T` does not serialize as a struct with at least `appended`
/// fields (a hand-written [`SessionData::PREFIXES`] that does not fit the struct).
fn with_defaults_appended<T: SessionData>(
    payload: &[u8],
    appended: usize,
) -> Result<Vec<u8>, Rejection> {
    let defaults =
        crate::session::split_fields(&T::default()).map_err(|_| Rejection::Undecodable)?;
    let first = defaults
        .len()
        .checked_sub(appended)
        .ok_or(Rejection::Undecodable)?;
    let tail = &defaults[first..];
    let mut out =
        Vec::with_capacity(payload.len() + tail.iter().map(|(_, b)| b.len()).sum::<usize>());
    out.extend_from_slice(payload);
    for (_, bytes) in tail {
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// A session field that disappears a fixed time after it was written, for example a
/// "recently re-authenticated" flag. Declare its lifetime with
/// `#[session(expires_in = "5m")]`.
///
/// Reading after the deadline is impossible to get wrong: the value is simply absent.
/// Writing with [`Expiring::set`] starts (or restarts) the clock.
///
/// ```
/// use session_core::Expiring;
///
/// let mut sudo = Expiring::<bool>::default();
/// assert_eq!(sudo.get(), None);
/// sudo.set(true);
/// assert_eq!(sudo.get(), Some(&true));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Expiring<T> {
    value: Option<T>,
    deadline: Option<i64>,
    written: bool,
}

impl<T> Default for Expiring<T> {
    fn default() -> Self {
        Self {
            value: None,
            deadline: None,
            written: false,
        }
    }
}

impl<T> Expiring<T> {
    /// An empty field.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The value, if it was set and its deadline has not passed.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// Whether a live value is present.
    pub fn is_set(&self) -> bool {
        self.value.is_some()
    }

    /// Sets the value and restarts its clock: it lives for the declared lifetime from the
    /// moment the session is saved.
    pub fn set(&mut self, value: T) {
        self.value = Some(value);
        self.written = true;
    }

    /// Removes and returns the value.
    pub fn take(&mut self) -> Option<T> {
        self.deadline = None;
        self.value.take()
    }

    /// Removes the value.
    pub fn clear(&mut self) {
        self.value = None;
        self.deadline = None;
    }

    /// When the value disappears, once the session has been loaded or saved.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.value.as_ref()?;
        OffsetDateTime::from_unix_timestamp(self.deadline?).ok()
    }
}

impl<T> ExpiringField for Expiring<T> {
    fn is_set(&self) -> bool {
        self.value.is_some()
    }
    fn was_written(&self) -> bool {
        self.written
    }
    fn deadline(&self) -> Option<i64> {
        self.deadline
    }
    fn set_deadline(&mut self, deadline: Option<i64>) {
        self.deadline = deadline;
        self.written = false;
    }
    fn clear(&mut self) {
        Expiring::clear(self);
    }
}

impl<T: fmt::Debug> fmt::Debug for Expiring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expiring")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at())
            .finish()
    }
}

impl<T: Serialize> Serialize for Expiring<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Expiring<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            value: Option::deserialize(deserializer)?,
            deadline: None,
            written: false,
        })
    }
}

/// A value that is read once, then gone: the classic "flash" message shown after a redirect.
/// Declare it with `#[session(flash)]`.
///
/// [`Flash::take`] reads and removes it, so showing it twice is impossible; [`Flash::peek`]
/// looks without consuming.
///
/// ```
/// use session_core::Flash;
///
/// let mut notice = Flash::default();
/// notice.set("Welcome, alice".to_string());
/// assert_eq!(notice.take().as_deref(), Some("Welcome, alice"));
/// assert_eq!(notice.take(), None);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Flash<T>(Option<T>);

impl<T> Default for Flash<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> Flash<T> {
    /// Sets the value to show on a later request.
    pub fn set(&mut self, value: T) {
        self.0 = Some(value);
    }

    /// Reads and removes the value.
    pub fn take(&mut self) -> Option<T> {
        self.0.take()
    }

    /// Looks at the value without consuming it.
    pub fn peek(&self) -> Option<&T> {
        self.0.as_ref()
    }

    /// Whether a value is waiting to be read.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

impl<T: fmt::Debug> fmt::Debug for Flash<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Flash").field(&self.0).finish()
    }
}

impl<T: Serialize> Serialize for Flash<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Flash<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::deserialize(deserializer).map(Self)
    }
}
