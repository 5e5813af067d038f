//! [`Fields`]: the named byte fields of one record, shared instead of copied.

use std::fmt;
use std::sync::Arc;

use super::RecordWrite;

/// The fields of one record: named byte strings, each name at most once, in no particular
/// order.
///
/// A store builds one in [`load`](super::SessionStore::load) with [`insert`](Self::insert)
/// (or by collecting `(name, bytes)` pairs), and a store that keeps records in memory can keep
/// them as `Fields` and apply each [`RecordWrite`] with [`apply`](Self::apply).
///
/// All names sit in one buffer and all values in another, and a clone shares them (it counts
/// a reference instead of copying): a record of any number of fields costs a handful of
/// allocations, and handing a stored record to a request costs none.
///
/// Its `Debug` shows the names and the length of each value, never the values.
///
/// ```
/// use session_core::store::Fields;
///
/// let mut fields = Fields::new();
/// fields.insert("visits", &[7]);
/// fields.insert("@meta", b"...");
/// fields.insert("visits", &[8]);
/// assert_eq!(fields.get("visits"), Some(&[8u8][..]));
/// assert_eq!(fields.len(), 2);
///
/// let same: Fields = [("@meta", &b"..."[..]), ("visits", &[8][..])].into_iter().collect();
/// assert_eq!(fields, same);
/// ```
#[derive(Clone, Default)]
pub struct Fields(Arc<Inner>);

#[derive(Clone, Default)]
struct Inner {
    /// Every name, one after the other.
    names: String,
    /// Every value, one after the other.
    values: Vec<u8>,
    /// Per field, where its name and its value end; each starts where the previous one ends.
    ends: Vec<(usize, usize)>,
}

impl Inner {
    fn with_capacity(fields: usize, name_bytes: usize, value_bytes: usize) -> Self {
        Self {
            names: String::with_capacity(name_bytes),
            values: Vec::with_capacity(value_bytes),
            ends: Vec::with_capacity(fields),
        }
    }

    fn push(&mut self, name: &str, value: &[u8]) {
        self.names.push_str(name);
        self.values.extend_from_slice(value);
        self.ends.push((self.names.len(), self.values.len()));
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.iter().position(|(n, _)| n == name)
    }

    /// Where the value of the field `name` sits in `values`.
    fn value_range(&self, name: &str) -> Option<std::ops::Range<usize>> {
        let at = self.position(name)?;
        let start = at.checked_sub(1).map_or(0, |before| self.ends[before].1);
        Some(start..self.ends[at].1)
    }

    fn iter(&self) -> FieldsIter<'_> {
        FieldsIter {
            inner: self,
            at: 0,
            name_start: 0,
            value_start: 0,
        }
    }
}

impl Fields {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// No fields yet, with room for `fields` fields whose values take `value_bytes` in all.
    pub fn with_capacity(fields: usize, value_bytes: usize) -> Self {
        Self(Arc::new(Inner::with_capacity(
            fields,
            fields * 12,
            value_bytes,
        )))
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.0.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.ends.is_empty()
    }

    /// The value of the field `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// The fields as `(name, value)` pairs.
    pub fn iter(&self) -> FieldsIter<'_> {
        self.0.iter()
    }

    /// Sets the field `name` to `value`, replacing its value if it has one.
    pub fn insert(&mut self, name: &str, value: &[u8]) {
        match self.0.position(name) {
            None => Arc::make_mut(&mut self.0).push(name, value),
            Some(_) => self.rebuild(&[(name, value)], &[], false),
        }
    }

    /// Removes the field `name`; answers whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let found = self.0.position(name).is_some();
        if found {
            self.rebuild(&[], &[name], false);
        }
        found
    }

    /// Applies the fields of a write: with `write.create` the fields become exactly
    /// `write.set`; otherwise `write.set` is set and `write.remove` removed (a name in both is
    /// removed). The expiry is the store's to keep.
    pub fn apply(&mut self, write: &RecordWrite<'_>) {
        if write.create || !write.remove.is_empty() || !self.overwrite(write.set) {
            self.rebuild(write.set, write.remove, write.create);
        }
    }

    /// Writes the values of `set` over the old ones where they lie, when nobody else holds
    /// these fields and every name in `set` is a field whose value has the same length (a
    /// counter going from 1 to 2): no allocation and no copy of the other fields. Answers
    /// whether it did; when it answers `false` nothing has changed.
    fn overwrite(&mut self, set: &[(&str, &[u8])]) -> bool {
        let Some(inner) = Arc::get_mut(&mut self.0) else {
            return false;
        };
        let fits = |(name, value): &(&str, &[u8])| {
            inner
                .value_range(name)
                .is_some_and(|range| range.len() == value.len())
        };
        if !set.iter().all(fits) {
            return false;
        }
        // In order, so that of a name set twice the last value stays (as `rebuild` does).
        for (name, value) in set {
            if let Some(range) = inner.value_range(name) {
                inner.values[range].copy_from_slice(value);
            }
        }
        true
    }

    /// One pass: the kept fields (none when `replace`), then `set`.
    fn rebuild(&mut self, set: &[(&str, &[u8])], remove: &[&str], replace: bool) {
        let keep = |name: &str| {
            !replace && !remove.contains(&name) && !set.iter().any(|(n, _)| *n == name)
        };
        let (mut count, mut name_bytes, mut value_bytes) = (0, 0, 0);
        let kept = || self.0.iter().filter(|(name, _)| keep(name));
        for (name, value) in kept().chain(set.iter().copied()) {
            count += 1;
            name_bytes += name.len();
            value_bytes += value.len();
        }
        let mut inner = Inner::with_capacity(count, name_bytes, value_bytes);
        for (name, value) in kept() {
            inner.push(name, value);
        }
        for (i, (name, value)) in set.iter().enumerate() {
            // A name set twice in one write: the last value wins; set and removed: removed.
            if !set[i + 1..].iter().any(|(n, _)| n == name) && !remove.contains(name) {
                inner.push(name, value);
            }
        }
        self.0 = Arc::new(inner);
    }
}

impl PartialEq for Fields {
    /// The same names with the same values, in any order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(name, value)| other.get(name) == Some(value))
    }
}

impl Eq for Fields {}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Len(usize);
        impl fmt::Debug for Len {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} bytes", self.0)
            }
        }
        f.debug_map()
            .entries(self.iter().map(|(name, value)| (name, Len(value.len()))))
            .finish()
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> FromIterator<(N, V)> for Fields {
    /// Collects `(name, value)` pairs; of two pairs with one name the later wins.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut fields = Self::new();
        for (name, value) in iter {
            fields.insert(name.as_ref(), value.as_ref());
        }
        fields
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = FieldsIter<'a>;

    fn into_iter(self) -> FieldsIter<'a> {
        self.iter()
    }
}

/// The `(name, value)` pairs of [`Fields`], from [`Fields::iter`].
#[derive(Clone)]
pub struct FieldsIter<'a> {
    inner: &'a Inner,
    at: usize,
    name_start: usize,
    value_start: usize,
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let &(name_end, value_end) = self.inner.ends.get(self.at)?;
        let name = self.inner.names.get(self.name_start..name_end)?;
        let value = self.inner.values.get(self.value_start..value_end)?;
        self.at += 1;
        self.name_start = name_end;
        self.value_start = value_end;
        Some((name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.inner.ends.len() - self.at;
        (left, Some(left))
    }
}

impl ExactSizeIterator for FieldsIter<'_> {}

impl fmt::Debug for FieldsIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldsIter")
            .field("left", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn pairs(fields: &Fields) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<_> = fields
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect();
        out.sort();
        out
    }

    fn write<'a>(
        create: bool,
        set: &'a [(&'a str, &'a [u8])],
        remove: &'a [&'a str],
    ) -> RecordWrite<'a> {
        RecordWrite {
            create,
            set,
            remove,
            expires_at: OffsetDateTime::UNIX_EPOCH,
            push_expiry: true,
        }
    }

    #[test]
    fn insert_replaces_and_remove_removes() {
        let mut fields = Fields::with_capacity(2, 8);
        assert!(fields.is_empty());
        fields.insert("a", b"1");
        fields.insert("bb", b"22");
        fields.insert("a", b"333");
        assert_eq!(fields.len(), 2);
        assert_eq!(fields.get("a"), Some(&b"333"[..]));
        assert_eq!(fields.get("bb"), Some(&b"22"[..]));
        assert_eq!(fields.get("b"), None);
        assert!(fields.remove("a"));
        assert!(!fields.remove("a"));
        assert_eq!(pairs(&fields), [("bb".to_owned(), b"22".to_vec())]);
        // Empty names and values are fields like any other.
        fields.insert("", b"");
        assert_eq!(fields.get(""), Some(&b""[..]));
        assert_eq!(fields.iter().len(), 2);
    }

    #[test]
    fn a_clone_is_shared_until_either_changes() {
        let mut fields: Fields = [("a", b"1"), ("b", b"2")].into_iter().collect();
        let copy = fields.clone();
        assert!(Arc::ptr_eq(&fields.0, &copy.0));
        fields.insert("c", b"3");
        fields.insert("a", b"9");
        assert_eq!(copy.get("a"), Some(&b"1"[..]));
        assert_eq!(copy.len(), 2);
        assert_eq!(fields.get("a"), Some(&b"9"[..]));
        assert_eq!(fields.len(), 3);
    }

    #[test]
    fn writes_apply_like_the_store_contract_says() {
        let mut fields: Fields = [("a", &b"1"[..]), ("b", b"2"), ("c", b"3")]
            .into_iter()
            .collect();
        fields.apply(&write(false, &[("b", b"x"), ("d", b"4")], &["c", "zz"]));
        assert_eq!(
            pairs(&fields),
            [
                ("a".to_owned(), b"1".to_vec()),
                ("b".to_owned(), b"x".to_vec()),
                ("d".to_owned(), b"4".to_vec()),
            ]
        );
        // A name both set and removed is removed; a name set twice keeps the last value.
        fields.apply(&write(
            false,
            &[("a", b"5"), ("a", b"6"), ("b", b"y")],
            &["b"],
        ));
        assert_eq!(fields.get("a"), Some(&b"6"[..]));
        assert_eq!(fields.get("b"), None);
        fields.apply(&write(true, &[("z", b"0")], &[]));
        assert_eq!(pairs(&fields), [("z".to_owned(), b"0".to_vec())]);
    }

    #[test]
    fn a_write_of_values_of_the_same_length_lands_in_place_unless_shared() {
        let mut fields: Fields = [("a", &b"1"[..]), ("bb", b"22"), ("c", b"3")]
            .into_iter()
            .collect();
        let before = Arc::as_ptr(&fields.0);
        // Same lengths, a name set twice (the last value stays): written where they lie.
        fields.apply(&write(
            false,
            &[("bb", b"xy"), ("c", b"8"), ("c", b"9")],
            &[],
        ));
        assert_eq!(Arc::as_ptr(&fields.0), before);
        assert_eq!(
            pairs(&fields),
            [
                ("a".to_owned(), b"1".to_vec()),
                ("bb".to_owned(), b"xy".to_vec()),
                ("c".to_owned(), b"9".to_vec()),
            ]
        );
        // A clone keeps what it had: the write goes to a copy.
        let copy = fields.clone();
        fields.apply(&write(false, &[("a", b"5")], &[]));
        assert_eq!(copy.get("a"), Some(&b"1"[..]));
        assert_eq!(fields.get("a"), Some(&b"5"[..]));
        assert!(!Arc::ptr_eq(&fields.0, &copy.0));
        // A longer value, a new name, or a removal anywhere in the write: rebuilt, and
        // nothing of the write is lost or half-applied.
        for (set, remove) in [
            (&[("a", &b"5"[..]), ("bb", b"long")][..], &[][..]),
            (&[("a", &b"6"[..]), ("new", b"n")][..], &[][..]),
            (&[("a", &b"7"[..])][..], &["c"][..]),
        ] {
            let mut fields: Fields = [("a", &b"1"[..]), ("bb", b"22"), ("c", b"3")]
                .into_iter()
                .collect();
            let mut expected = pairs(&fields);
            expected.retain(|(name, _)| {
                !remove.contains(&name.as_str()) && !set.iter().any(|(n, _)| n == name)
            });
            expected.extend(set.iter().map(|(n, v)| ((*n).to_owned(), v.to_vec())));
            expected.sort();
            fields.apply(&write(false, set, remove));
            assert_eq!(pairs(&fields), expected);
        }
    }

    #[test]
    fn equality_ignores_order_and_debug_hides_values() {
        let one: Fields = [("a", &b"secret"[..]), ("b", b"")].into_iter().collect();
        let two: Fields = [("b", &b""[..]), ("a", b"secret")].into_iter().collect();
        assert_eq!(one, two);
        let three: Fields = [("a", &b"secret"[..])].into_iter().collect();
        assert_ne!(one, three);
        let shown = format!("{one:?}");
        assert_eq!(shown, r#"{"a": 6 bytes, "b": 0 bytes}"#);
    }
}
