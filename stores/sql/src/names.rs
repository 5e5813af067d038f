//! The names of the store's tables (and PostgreSQL schema), checked once and quoted in every
//! statement.

use std::fmt;

/// The longest name accepted: PostgreSQL cuts identifiers at 63 bytes, and the index names
/// add up to 12 bytes to a table's name.
const MAX_NAME: usize = 50;

/// A table or schema name that is not a plain SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` cannot name a session table or schema: use 1 to 50 ASCII letters, digits and underscores, not starting with a digit"
)]
pub struct InvalidName {
    name: String,
}

/// A checked identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name(String);

impl Name {
    pub(crate) fn new(name: &str) -> Result<Self, InvalidName> {
        let plain = !name.is_empty()
            && name.len() <= MAX_NAME
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if plain {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidName {
                name: name.to_owned(),
            })
        }
    }

    #[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Quoted, so reserved words (`user`, `order`) work and case is kept.
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// The names of the four tables a store keeps (see [the crate docs](crate#tables)).
///
/// ```
/// use session_store_sql::Tables;
///
/// let tables = Tables::with_prefix("shop_")?; // shop_session_records, shop_session_fields, ...
/// let custom = Tables::new("web_sessions", "web_session_fields", "web_users", "web_user_sessions")?;
/// # Ok::<(), session_store_sql::InvalidName>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub(crate) records: Name,
    pub(crate) fields: Name,
    pub(crate) users: Name,
    pub(crate) user_sessions: Name,
}

impl Default for Tables {
    /// `session_records`, `session_fields`, `session_users`, `session_user_sessions`.
    fn default() -> Self {
        let name = |name: &str| Name(name.to_owned());
        Self {
            records: name("session_records"),
            fields: name("session_fields"),
            users: name("session_users"),
            user_sessions: name("session_user_sessions"),
        }
    }
}

impl Tables {
    /// Tables of these names: one row per session (`records`), one per session field
    /// (`fields`), one per user of the per-user index (`users`) and one per session of a user
    /// (`user_sessions`).
    ///
    /// # Errors
    /// A name is not 1 to 50 ASCII letters, digits and underscores, or starts with a digit.
    pub fn new(
        records: &str,
        fields: &str,
        users: &str,
        user_sessions: &str,
    ) -> Result<Self, InvalidName> {
        Ok(Self {
            records: Name::new(records)?,
            fields: Name::new(fields)?,
            users: Name::new(users)?,
            user_sessions: Name::new(user_sessions)?,
        })
    }

    /// The default names with `prefix` in front (`prefix` + `session_records`, ...), to keep
    /// the sessions of several applications in one database.
    ///
    /// # Errors
    /// As [`Tables::new`], for the prefixed names.
    pub fn with_prefix(prefix: &str) -> Result<Self, InvalidName> {
        Self::new(
            &format!("{prefix}session_records"),
            &format!("{prefix}session_fields"),
            &format!("{prefix}session_users"),
            &format!("{prefix}session_user_sessions"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_name_tables() {
        for good in ["sessions", "_x", "Web_2", &"a".repeat(50)] {
            assert!(Name::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "2x",
            "a-b",
            "a\"b",
            "x; DROP TABLE y",
            "é",
            &"a".repeat(51),
        ] {
            let error = Name::new(bad).expect_err(bad);
            assert!(
                error.to_string().contains("cannot name a session table"),
                "{error}"
            );
        }
        assert_eq!(Name::new("user").expect("ok").to_string(), "\"user\"");
        assert!(Tables::with_prefix("1").is_err());
        assert_eq!(
            Tables::with_prefix("shop_").expect("ok").records.as_str(),
            "shop_session_records"
        );
    }
}
