//! Sessions in PostgreSQL or SQLite for session-core and its adapters, on [sqlx]:
//! [`PostgresStore`] (a database server several application servers share) and
//! [`SqliteStore`] (one machine: sessions that survive a restart without running any server).
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use session_core::{Keyring, SessionConfig};
//! use session_store_sql::PostgresStore;
//!
//! let store = PostgresStore::connect("postgres://app@127.0.0.1/app", Duration::from_secs(3)).await?;
//! store.migrate().await?; // creates the tables if they are missing
//! let _sweeper = store.spawn_sweeper(Duration::from_secs(300)); // keep it while serving
//! let config = SessionConfig::new(Keyring::from_env("SESSION_KEYS")?).store(Arc::new(store));
//! # Ok(()) }
//! ```
//!
//! An application that already has a pool passes it: [`PostgresStore::new`] takes a
//! [`sqlx::PgPool`], [`SqliteStore::new`] a [`sqlx::SqlitePool`].
//!
//! # Feature flags
//! No feature is on by default: turn on the one for your database.
//!
//! | feature | what it adds | cost |
//! |---|---|---|
//! | `postgres` | [`PostgresStore`] | sqlx's PostgreSQL driver (pure Rust; md-5, hmac, sha2 for its authentication) |
//! | `sqlite` | [`SqliteStore`] | sqlx's SQLite driver and SQLite itself, compiled from C (about a minute on two cores) |
//! | `tls-rustls` | TLS for [`PostgresStore::connect`] URLs (`?sslmode=require`) | rustls with `ring` and the webpki roots |
//!
//! A pool the application builds itself uses whatever sqlx features the application turned
//! on (TLS included): Cargo unifies them with these.
//!
//! # One crate, two stores
//! Both stores keep the same tables, the same statements where the dialects allow, the same
//! expiry rules and the same sweeper, so they live in one crate and share that code; each
//! database is a feature, as in sqlx itself (and in tower-sessions' sqlx store), so an
//! application compiles only the driver it uses.
//!
//! # Tables
//! Four tables (the default names below; [`Tables`] changes them, and on PostgreSQL
//! [`PostgresStore::with_schema`] the schema):
//!
//! - `session_records`: one row per session, `key` (the SHA-256 of the session id, never the
//!   id) and `expires_unix_ms`, its deadline in Unix milliseconds;
//! - `session_fields`: one row per session field, `(record, name, value)`: a request writes
//!   only the fields it changed, so concurrent requests that change different fields both
//!   keep their change (the same field: the last write wins);
//! - `session_users`: one row per user of the per-user index ("log out everywhere"), with the
//!   user's generation and the row's own deadline;
//! - `session_user_sessions`: the user's sessions, `(user_key, record, expires_unix_ms)`.
//!
//! [`PostgresStore::migrate`] and [`SqliteStore::migrate`] create what is missing (they can run
//! at every start); [`PostgresStore::migration_sql`] and [`SqliteStore::migration_sql`] print
//! the same statements, with your names, for teams that run migrations themselves. With the
//! default names they are:
//!
//! ```sql
//! -- PostgreSQL
//! CREATE TABLE IF NOT EXISTS "session_records" (
//!     key BYTEA PRIMARY KEY,
//!     expires_unix_ms BIGINT NOT NULL
//! ) WITH (fillfactor = 80);
//! CREATE TABLE IF NOT EXISTS "session_fields" (
//!     record BYTEA NOT NULL,
//!     name TEXT NOT NULL,
//!     value BYTEA NOT NULL,
//!     PRIMARY KEY (record, name)
//! ) WITH (fillfactor = 80);
//! CREATE TABLE IF NOT EXISTS "session_users" (
//!     user_key BYTEA PRIMARY KEY,
//!     generation BIGINT NOT NULL,
//!     expires_unix_ms BIGINT NOT NULL
//! );
//! CREATE INDEX IF NOT EXISTS "session_users_expires" ON "session_users" (expires_unix_ms);
//! CREATE TABLE IF NOT EXISTS "session_user_sessions" (
//!     user_key BYTEA NOT NULL,
//!     record BYTEA NOT NULL,
//!     expires_unix_ms BIGINT NOT NULL,
//!     PRIMARY KEY (user_key, record)
//! );
//! CREATE INDEX IF NOT EXISTS "session_user_sessions_deadline" ON "session_user_sessions" (user_key, expires_unix_ms);
//! CREATE INDEX IF NOT EXISTS "session_user_sessions_expires" ON "session_user_sessions" (expires_unix_ms);
//! ```
//!
//! On PostgreSQL nearly every request moves its session's deadline, so the records table has no
//! index on it and both busy tables leave room on each page (`fillfactor`): an update then
//! stays on its page and touches no index (a "HOT" update), where an indexed deadline would add
//! an entry to every index per request. The sweeper finds expired records by scanning the table
//! instead, a few times per interval.
//!
//! SQLite's are the same with `BLOB` for `BYTEA`, `INTEGER` for `BIGINT`, `WITHOUT ROWID`
//! tables, no `fillfactor`, and an index `session_records_expires` on the records' deadlines.
//!
//! # Expiry
//! Every row carries its deadline, and no statement returns a row past it: a session is gone
//! at its deadline exactly, whether or not anything has deleted it yet. Deadlines are compared
//! with the application's clock (`OffsetDateTime::now_utc()`, passed to each statement), the
//! clock that computed them, so the database's clock does not matter; application servers
//! sharing a database should keep their clocks in sync (NTP), as for any shared store.
//!
//! Expired rows stay until something deletes them:
//! - [`PostgresStore::spawn_sweeper`] / [`SqliteStore::spawn_sweeper`]: a task on the Tokio
//!   runtime that deletes expired rows every interval, in bounded batches (each its own short
//!   statement, so it never holds many locks). Use it in a long-running server: one call at
//!   start-up, keep the handle. With several servers on one database, one sweeper is enough,
//!   but more do no harm.
//! - [`PostgresStore::delete_expired`] / [`SqliteStore::delete_expired`]: one pass now, in the
//!   same batches, answering how many sessions it deleted. Use it from a scheduled job (cron,
//!   a Kubernetes CronJob, `pg_cron` calling your binary) when no server process should do it,
//!   or in tests.
//!
//! # Errors
//! A database that cannot be reached or answers with an error gives
//! [`StoreError::Unavailable`] (adapters answer
//! 503) and the store works again once it is back; rows this store cannot read (a column of
//! another type, a record key that is not 32 bytes) give
//! [`StoreError::Corrupt`]. Nothing panics on what
//! the database returns, and a write that failed is never reported as saved: each write is one
//! statement or one transaction.
//!
//! The [`sqlx`] crate is re-exported, so pools built for [`PostgresStore::new`] and
//! [`SqliteStore::new`] match its version.

#![deny(missing_docs)]

use session_core::store::{Fields, RecordKey, StoreError};
use time::OffsetDateTime;

/// The `sqlx` crate these stores are built on, re-exported so pools match its version.
pub use sqlx;

mod names;
mod sweeper;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use names::{InvalidName, Tables};
pub use sweeper::Sweeper;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// How many rows one statement of the sweeper (or of `delete_expired`) deletes at most,
/// unless the store is told otherwise.
pub const DEFAULT_SWEEP_BATCH: u32 = 1_000;

/// `n` rows of a `VALUES` list for a write's fields, each written by `row` from the numbers of
/// its name and value parameters, numbered on from `first` (`first`, `first + 1`, then
/// `first + 2`...).
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn values_rows(n: usize, first: usize, row: impl Fn(usize, usize) -> String) -> String {
    (0..n)
        .map(|i| row(first + 2 * i, first + 2 * i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a packed record writes the length of each part.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
#[derive(Clone, Copy, Debug)]
enum Lengths {
    /// 4 bytes, big-endian: PostgreSQL's `int4send`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    BigEndian32,
    /// ASCII decimal digits, then `:`: SQLite's integer as text, which `||` writes.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Decimal,
}

/// The fields of a record from one value: per field, its name's length, the name (UTF-8),
/// its value's length, the value, as the load statement's `||` and aggregate write them.
/// Anything else (a truncated value, a name that is not UTF-8, a length that does not parse)
/// is [`StoreError::Corrupt`].
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn fields_from_packed(mut packed: &[u8], lengths: Lengths) -> Result<Fields, StoreError> {
    let mut fields = Fields::with_capacity(8, packed.len());
    while !packed.is_empty() {
        let name = take_packed(&mut packed, lengths)?;
        let name = std::str::from_utf8(name).map_err(|_| packed_corrupt())?;
        let value = take_packed(&mut packed, lengths)?;
        fields.insert(name, value);
    }
    Ok(fields)
}

/// One length-prefixed part of a packed record, moving `packed` past it.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn take_packed<'a>(packed: &mut &'a [u8], lengths: Lengths) -> Result<&'a [u8], StoreError> {
    let (len, rest) = match lengths {
        Lengths::BigEndian32 => {
            let (len, rest) = packed.split_first_chunk::<4>().ok_or_else(packed_corrupt)?;
            let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| packed_corrupt())?;
            (len, rest)
        }
        Lengths::Decimal => {
            // At most ten digits (a length below 2^32), then the colon.
            let colon = packed
                .iter()
                .take(11)
                .position(|&b| b == b':')
                .ok_or_else(packed_corrupt)?;
            let digits = &packed[..colon];
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(packed_corrupt());
            }
            let len = digits
                .iter()
                .try_fold(0usize, |n, d| {
                    n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
                })
                .ok_or_else(packed_corrupt)?;
            (len, &packed[colon + 1..])
        }
    };
    if rest.len() < len {
        return Err(packed_corrupt());
    }
    let (bytes, rest) = rest.split_at(len);
    *packed = rest;
    Ok(bytes)
}

#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn packed_corrupt() -> StoreError {
    StoreError::Corrupt("a packed record's fields do not parse".to_owned())
}

/// A point in time as Unix milliseconds, the unit of every `expires_unix_ms` column.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn unix_ms(at: OffsetDateTime) -> i64 {
    // Every `OffsetDateTime` (years -9999 to 9999) fits.
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Now, in Unix milliseconds.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn now_ms() -> i64 {
    unix_ms(OffsetDateTime::now_utc())
}

/// A record key read back from the database.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn record_key(bytes: &[u8], table: &str) -> Result<RecordKey, StoreError> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "a record key of {} bytes in {table} (this store writes 32)",
            bytes.len()
        ))
    })?;
    Ok(RecordKey::from_bytes(bytes))
}

/// A generation read back from the database.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn generation(stored: i64, table: &str) -> Result<u64, StoreError> {
    u64::try_from(stored)
        .map_err(|_| StoreError::Corrupt(format!("a negative generation {stored} in {table}")))
}

/// A generation to write: the contract keeps them below 2^52, so this never saturates.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn stored_generation(generation: u64) -> i64 {
    i64::try_from(generation).unwrap_or(i64::MAX)
}

/// The store error for a failed statement: rows it cannot read are [`StoreError::Corrupt`],
/// everything else (connection, pool, the database's own errors) [`StoreError::Unavailable`].
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn store_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(format!(
            "a session row does not have this store's layout: {error}"
        )),
        other => StoreError::unavailable(other),
    }
}

/// One write's fields, as the statements bind them: each name once (the last value given
/// wins), and a name both set and removed only removed.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn fields_to_set<'a>(
    set: &[(&'a str, &'a [u8])],
    remove: &[&str],
) -> (Vec<&'a str>, Vec<&'a [u8]>) {
    let mut names: Vec<&'a str> = Vec::with_capacity(set.len());
    let mut values: Vec<&'a [u8]> = Vec::with_capacity(set.len());
    for (name, value) in set {
        if remove.contains(name) {
            continue;
        }
        match names.iter().position(|known| known == name) {
            Some(at) => values[at] = value,
            None => {
                names.push(name);
                values.push(value);
            }
        }
    }
    (names, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(fields: &[(&[u8], &[u8])], lengths: Lengths) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in fields {
            for part in [*name, *value] {
                match lengths {
                    Lengths::BigEndian32 => out.extend_from_slice(
                        &u32::try_from(part.len()).expect("short").to_be_bytes(),
                    ),
                    Lengths::Decimal => {
                        out.extend_from_slice(format!("{}:", part.len()).as_bytes())
                    }
                }
                out.extend_from_slice(part);
            }
        }
        out
    }

    #[test]
    fn packed_fields_parse_and_anything_else_is_corrupt() {
        for lengths in [Lengths::BigEndian32, Lengths::Decimal] {
            let parse = |bytes: &[u8]| fields_from_packed(bytes, lengths);
            let long = vec![b':'; 300];
            let bytes = packed(
                &[
                    (b"@meta", b"\x01\x02"),
                    (b"visits", b""),
                    (b"", b"x"),
                    (b"long", &long),
                ],
                lengths,
            );
            let fields = parse(&bytes).expect("parses");
            assert_eq!(fields.len(), 4, "{lengths:?}");
            assert_eq!(fields.get("@meta"), Some(&b"\x01\x02"[..]));
            assert_eq!(fields.get("visits"), Some(&b""[..]));
            assert_eq!(fields.get(""), Some(&b"x"[..]));
            assert_eq!(fields.get("long"), Some(long.as_slice()));
            assert!(parse(&[]).expect("empty").is_empty());
            for cut in 1..bytes.len() {
                let truncated = &bytes[..cut];
                // Cut at a field boundary it is a shorter record; anywhere else, corrupt.
                match parse(truncated) {
                    Ok(fields) => assert!(fields.len() < 4, "{lengths:?} {cut}"),
                    Err(error) => {
                        assert!(matches!(error, StoreError::Corrupt(_)), "{lengths:?} {cut}");
                    }
                }
            }
            let not_utf8 = packed(&[(b"\xff", b"1")], lengths);
            assert!(matches!(parse(&not_utf8), Err(StoreError::Corrupt(_))));
        }
        let huge = [0xff, 0xff, 0xff, 0xff, b'a'];
        assert!(matches!(
            fields_from_packed(&huge, Lengths::BigEndian32),
            Err(StoreError::Corrupt(_))
        ));
        for bad in [
            &b"99999999999:a"[..],
            b":a",
            b"-1:a",
            b"1a:b",
            b"4294967296",
            b"3:ab",
        ] {
            assert!(
                matches!(
                    fields_from_packed(bad, Lengths::Decimal),
                    Err(StoreError::Corrupt(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_write_sets_each_name_once_and_removal_wins() {
        let set: &[(&str, &[u8])] = &[("a", b"1"), ("b", b"2"), ("a", b"3"), ("c", b"4")];
        let (names, values) = fields_to_set(set, &["c"]);
        assert_eq!(names, ["a", "b"]);
        assert_eq!(values, [b"3".as_slice(), b"2"]);
    }

    #[test]
    fn deadlines_are_unix_milliseconds() {
        assert_eq!(unix_ms(OffsetDateTime::UNIX_EPOCH), 0);
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(1_700_000_000_123);
        assert_eq!(unix_ms(at), 1_700_000_000_123);
    }

    #[test]
    fn stored_data_that_is_not_ours_is_corrupt() {
        assert!(matches!(
            record_key(&[1; 31], "t"),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            record_key(&[7; 32], "t").ok(),
            Some(RecordKey::from_bytes([7; 32]))
        );
        assert!(matches!(generation(-1, "t"), Err(StoreError::Corrupt(_))));
        assert_eq!(generation(5, "t").ok(), Some(5));
    }
}
