//! [`PostgresStore`]: every write is one statement (data-modifying CTEs) except the per-user
//! index's add, one transaction.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use session_core::store::{
    DEFAULT_MAX_SESSIONS_PER_USER, Fields, RecordKey, RecordWrite, SessionStore, StoreError,
    StoreFuture,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use time::OffsetDateTime;

use crate::names::{InvalidName, Name, Tables};
use crate::{
    DEFAULT_SWEEP_BATCH, Lengths, Sweeper, fields_from_packed, fields_to_set, generation, now_ms,
    record_key, store_error, stored_generation, unix_ms, values_rows,
};

/// Sessions in PostgreSQL: one row per session and one row per session field (see
/// [the crate docs](crate#tables) for the tables), so requests that change different fields
/// never overwrite each other.
///
/// Every operation but one is a single statement: create (upsert the record, delete the
/// fields it no longer has, upsert the ones it has), update (`UPDATE ... WHERE key = $1 AND
/// expires_unix_ms > now`, or, for a write between two refreshes that keeps the expiry, `SELECT
/// ... FOR NO KEY UPDATE`, and only for the row it locked, the field changes), delete
/// (`DELETE ... RETURNING` the deadline, so it answers whether the session was live) and load
/// (the record with its fields packed into one value, only while its deadline has not
/// passed). Each write takes the record's row lock before it touches a field, so writes to one
/// session queue behind each other instead of deadlocking, and an update that finds the record
/// deleted or expired writes nothing. Adding to the per-user index is one transaction that
/// first locks the user's row, so concurrent logins of one user count against the cap one at
/// a time.
///
/// Needs PostgreSQL 9.5 or later (`ON CONFLICT`, `SKIP LOCKED`); tested on 15.
///
/// # The per-user index
/// A row per session of the user with its deadline, and a row per user: the user's
/// generation and a deadline of its own, the latest of the user's session deadlines (and of
/// `keep_until` once a generation is set). Every add first deletes the user's entries whose
/// deadline passed (so they never count towards the cap), then past the cap
/// ([`with_max_sessions_per_user`](Self::with_max_sessions_per_user), default
/// [`DEFAULT_MAX_SESSIONS_PER_USER`]) deletes the records of the oldest sessions (never the one
/// added) and their entries, in the same transaction.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: Option<Name>,
    tables: Tables,
    max_per_user: usize,
    batch: u32,
    sql: Arc<Statements>,
}

/// At most this many fields are bound one by one in a write between refreshes (more go as
/// two arrays): most such writes set one or two.
const ROWS_PER_STATEMENT: usize = 4;

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("records", &self.sql.records)
            .field("max_sessions_per_user", &self.max_per_user)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// A store over the application's own pool, with the default table names in the pool's
    /// `search_path` (usually `public`). Run [`migrate`](Self::migrate) once, or create the
    /// tables yourself ([`migration_sql`](Self::migration_sql)).
    pub fn new(pool: PgPool) -> Self {
        let tables = Tables::default();
        let sql = Arc::new(Statements::new(None, &tables));
        Self {
            pool,
            schema: None,
            tables,
            max_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
            batch: DEFAULT_SWEEP_BATCH,
            sql,
        }
    }

    /// Connects to PostgreSQL at `url` (`postgres://user:password@host:5432/database`, every
    /// option sqlx's [`PgConnectOptions`] reads) with a pool of its own. A request waits at
    /// most `timeout` for a connection (while the database is unreachable, requests answer
    /// 503 after it) and each statement runs at most `timeout` in the server
    /// (`statement_timeout`).
    ///
    /// # Errors
    /// [`StoreError::Connect`], naming PostgreSQL and the URL without its password: the URL
    /// does not parse, or no connection can be made now.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let failed = |error| StoreError::connect("PostgreSQL", url, error);
        let options: PgConnectOptions = url.parse().map_err(failed)?;
        let options = options.options([(
            "statement_timeout",
            format!("{}ms", timeout.as_millis().max(1)),
        )]);
        let pool = PgPoolOptions::new()
            .acquire_timeout(timeout)
            .connect_with(options)
            .await
            .map_err(failed)?;
        Ok(Self::new(pool))
    }

    /// Keeps the tables in `schema` instead of the connection's `search_path`;
    /// [`migrate`](Self::migrate) creates the schema if it is missing.
    ///
    /// # Errors
    /// `schema` is not 1 to 50 ASCII letters, digits and underscores, or starts with a digit.
    pub fn with_schema(mut self, schema: &str) -> Result<Self, InvalidName> {
        self.schema = Some(Name::new(schema)?);
        self.sql = Arc::new(Statements::new(self.schema.as_ref(), &self.tables));
        Ok(self)
    }

    /// Uses these table names instead of the defaults.
    #[must_use]
    pub fn with_tables(mut self, tables: Tables) -> Self {
        self.tables = tables;
        self.sql = Arc::new(Statements::new(self.schema.as_ref(), &self.tables));
        self
    }

    /// Keeps at most `max` live sessions per user in the per-user index (default
    /// [`DEFAULT_MAX_SESSIONS_PER_USER`], at least 1): a login past it ends the user's oldest
    /// session (deletes its record).
    #[must_use]
    pub fn with_max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_per_user = max.max(1);
        self
    }

    /// Deletes at most `rows` rows per statement when sweeping (default
    /// [`DEFAULT_SWEEP_BATCH`](crate::DEFAULT_SWEEP_BATCH), at least 1).
    #[must_use]
    pub fn with_sweep_batch(mut self, rows: u32) -> Self {
        self.batch = rows.max(1);
        self
    }

    /// The pool this store runs its statements on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The statements [`migrate`](Self::migrate) runs, with this store's names: for teams
    /// that run migrations themselves.
    pub fn migration_sql(&self) -> String {
        self.sql.migration.clone()
    }

    /// Creates the schema (if one is set), the tables and their indexes, where missing. Safe
    /// to run at every start, also from several servers at once (they take turns on an
    /// advisory lock).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]: the database is unreachable, or refused a statement (the
    /// user may not create tables: run [`migration_sql`](Self::migration_sql) as one who may).
    pub fn migrate(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut transaction = self.pool.begin().await.map_err(store_error)?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock_id(&self.sql.records))
                .execute(&mut *transaction)
                .await
                .map_err(store_error)?;
            // One statement at a time: `raw_sql` would take them all at once, but its future
            // is not `Send` in every context (a Rocket launch, say).
            for statement in self.sql.migration.split(';').map(str::trim) {
                if !statement.is_empty() {
                    sqlx::query(statement)
                        .execute(&mut *transaction)
                        .await
                        .map_err(store_error)?;
                }
            }
            transaction.commit().await.map_err(store_error)
        })
    }

    /// Deletes the sessions whose deadline has passed, and the per-user index rows whose
    /// deadline has passed, in batches of at most [`with_sweep_batch`](Self::with_sweep_batch)
    /// rows per statement; answers how many sessions it deleted. One pass now: for a
    /// scheduled job. A server can instead [`spawn_sweeper`](Self::spawn_sweeper).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]: a statement failed; the batches before it stay deleted.
    pub fn delete_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let now = now_ms();
            let batch = i64::from(self.batch);
            let mut sessions = 0;
            for (sql, counts) in [
                (&self.sql.sweep_records, true),
                (&self.sql.sweep_entries, false),
                (&self.sql.sweep_users, false),
            ] {
                loop {
                    let deleted: i64 = sqlx::query_scalar(sql)
                        .bind(now)
                        .bind(batch)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(store_error)?;
                    let deleted = u64::try_from(deleted).unwrap_or(0);
                    if counts {
                        sessions += deleted;
                    }
                    if deleted < u64::from(self.batch) {
                        break;
                    }
                }
            }
            Ok(sessions)
        })
    }

    /// Starts a task on the current Tokio runtime that runs
    /// [`delete_expired`](Self::delete_expired) now and then every `every` (five minutes is
    /// plenty: expired rows are never read, only kept), until the handle is dropped.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn spawn_sweeper(&self, every: Duration) -> Sweeper {
        let store = self.clone();
        Sweeper::spawn("PostgreSQL", every, move || {
            let store = store.clone();
            async move { store.delete_expired().await }
        })
    }
}

/// The advisory lock `migrate` takes: FNV-1a of the records table's qualified name.
fn lock_id(records: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in records.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Every statement, with the store's names in.
struct Statements {
    records: String,
    users: String,
    user_sessions: String,
    migration: String,
    load: String,
    create: String,
    update: String,
    update_set: String,
    update_in_place: String,
    /// `update_in_place_rows[n - 1]`: the same for `n` fields bound one by one.
    update_in_place_rows: Vec<String>,
    touch: String,
    delete: String,
    lock_user: String,
    add_entry: String,
    over_cap: String,
    end_sessions: String,
    remove_entry: String,
    members: String,
    generation: String,
    set_generation: String,
    sweep_records: String,
    sweep_entries: String,
    sweep_users: String,
}

impl Statements {
    fn new(schema: Option<&Name>, tables: &Tables) -> Self {
        let qualified = |table: &Name| match schema {
            Some(schema) => format!("{schema}.{table}"),
            None => table.to_string(),
        };
        let index = |table: &Name, suffix: &str| format!("\"{}_{suffix}\"", table.as_str());
        let (r, f, u, s) = (
            qualified(&tables.records),
            qualified(&tables.fields),
            qualified(&tables.users),
            qualified(&tables.user_sessions),
        );
        let create_schema = schema
            .map(|schema| format!("CREATE SCHEMA IF NOT EXISTS {schema};\n"))
            .unwrap_or_default();
        let migration = format!(
            "{create_schema}CREATE TABLE IF NOT EXISTS {r} (
    key BYTEA PRIMARY KEY,
    expires_unix_ms BIGINT NOT NULL
) WITH (fillfactor = 80);
CREATE TABLE IF NOT EXISTS {f} (
    record BYTEA NOT NULL,
    name TEXT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (record, name)
) WITH (fillfactor = 80);
CREATE TABLE IF NOT EXISTS {u} (
    user_key BYTEA PRIMARY KEY,
    generation BIGINT NOT NULL,
    expires_unix_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS {u_expires} ON {u} (expires_unix_ms);
CREATE TABLE IF NOT EXISTS {s} (
    user_key BYTEA NOT NULL,
    record BYTEA NOT NULL,
    expires_unix_ms BIGINT NOT NULL,
    PRIMARY KEY (user_key, record)
);
CREATE INDEX IF NOT EXISTS {s_deadline} ON {s} (user_key, expires_unix_ms);
CREATE INDEX IF NOT EXISTS {s_expires} ON {s} (expires_unix_ms);
",
            u_expires = index(&tables.users, "expires"),
            s_deadline = index(&tables.user_sessions, "deadline"),
            s_expires = index(&tables.user_sessions, "expires"),
        );
        // An update of the fields `source` yields (`name`, `value`), only while the record
        // is live at `now`, the record row locked (see `update_in_place`).
        let in_place = |now: &str, source: &str| {
            format!(
                "WITH r AS (
    SELECT key FROM {r} WHERE key = $1 AND expires_unix_ms > {now} FOR NO KEY UPDATE
), written AS (
    INSERT INTO {f} (record, name, value)
    SELECT r.key, n.name, n.value FROM r, {source} AS n (name, value)
    ON CONFLICT (record, name) DO UPDATE SET value = EXCLUDED.value
)
SELECT count(*) FROM r"
            )
        };
        Self {
            // $1 key, $2 now. No row: no live record; one row, NULL: a live, empty one. Else
            // one value: per field, the byte lengths (`int4send`) before the name and the value.
            load: format!(
                "SELECT (SELECT string_agg(int4send(length(convert_to(name, 'UTF8'))) \
                 || convert_to(name, 'UTF8') || int4send(length(value)) || value, ''::bytea) \
                 FROM {f} WHERE record = r.key) \
                 FROM {r} AS r WHERE r.key = $1 AND r.expires_unix_ms > $2"
            ),
            // $1 key, $2 deadline, $3 names, $4 values. The record row first (the join on
            // `r` orders every field change after it); the fields it no longer has and the
            // ones it has are disjoint, so no row is changed twice.
            create: format!(
                "WITH r AS (
    INSERT INTO {r} (key, expires_unix_ms) VALUES ($1, $2)
    ON CONFLICT (key) DO UPDATE SET expires_unix_ms = EXCLUDED.expires_unix_ms
    RETURNING key
), dropped AS (
    DELETE FROM {f} WHERE record IN (SELECT key FROM r) AND name <> ALL($3::text[])
), written AS (
    INSERT INTO {f} (record, name, value)
    SELECT r.key, n.name, n.value FROM r, UNNEST($3::text[], $4::bytea[]) AS n (name, value)
    ON CONFLICT (record, name) DO UPDATE SET value = EXCLUDED.value
)
SELECT count(*) FROM r"
            ),
            // $1 key, $2 deadline, $3 names, $4 values, $5 now: `update` without removals
            // (what nearly every request writes).
            update_set: format!(
                "WITH r AS (
    UPDATE {r} SET expires_unix_ms = $2 WHERE key = $1 AND expires_unix_ms > $5
    RETURNING key
), written AS (
    INSERT INTO {f} (record, name, value)
    SELECT r.key, n.name, n.value FROM r, UNNEST($3::text[], $4::bytea[]) AS n (name, value)
    ON CONFLICT (record, name) DO UPDATE SET value = EXCLUDED.value
)
SELECT count(*) FROM r"
            ),
            // $1 key, $2 names, $3 values, $4 now: `update` without removals that keeps the
            // expiry (between two refreshes: what nearly every request writes). The record
            // row is locked instead of rewritten (no new row version, no index entry), as the
            // `UPDATE` above locks it: writes to one session queue, and a concurrent delete
            // waits for this write or this write sees the record gone.
            update_in_place: in_place("$4", "UNNEST($2::text[], $3::bytea[])"),
            // $1 key, $2 now, then name and value of each field ($3, $4, $5, $6...): the same
            // for the one to four fields most writes set, without the arrays to decode and
            // unnest.
            update_in_place_rows: (1..=ROWS_PER_STATEMENT)
                .map(|n| {
                    let rows = values_rows(n, 3, |name, value| {
                        format!("(${name}::text, ${value}::bytea)")
                    });
                    in_place("$2", &format!("(VALUES {rows})"))
                })
                .collect(),
            // $1 key, $2 deadline, $3 names, $4 values, $5 removed names, $6 now. Only the
            // row the UPDATE locked (live: its deadline not passed) gets field changes.
            update: format!(
                "WITH r AS (
    UPDATE {r} SET expires_unix_ms = $2 WHERE key = $1 AND expires_unix_ms > $6
    RETURNING key
), dropped AS (
    DELETE FROM {f} WHERE record IN (SELECT key FROM r) AND name = ANY($5::text[])
), written AS (
    INSERT INTO {f} (record, name, value)
    SELECT r.key, n.name, n.value FROM r, UNNEST($3::text[], $4::bytea[]) AS n (name, value)
    ON CONFLICT (record, name) DO UPDATE SET value = EXCLUDED.value
)
SELECT count(*) FROM r"
            ),
            // $1 key, $2 deadline, $3 now.
            touch: format!(
                "UPDATE {r} SET expires_unix_ms = $2 WHERE key = $1 AND expires_unix_ms > $3"
            ),
            // $1 key. Answers the deadline of the record it deleted, if any.
            delete: format!(
                "WITH r AS (DELETE FROM {r} WHERE key = $1 RETURNING key, expires_unix_ms),
dropped AS (DELETE FROM {f} WHERE record IN (SELECT key FROM r))
SELECT expires_unix_ms FROM r"
            ),
            // $1 user, $2 entry deadline, $3 now. Locks the user's row for the transaction;
            // a row past its deadline starts again (its generation was gone with it).
            lock_user: format!(
                "INSERT INTO {u} AS u (user_key, generation, expires_unix_ms) VALUES ($1, 0, $2)
ON CONFLICT (user_key) DO UPDATE SET
    generation = CASE WHEN u.expires_unix_ms > $3 THEN u.generation ELSE 0 END,
    expires_unix_ms = CASE WHEN u.expires_unix_ms > $3
        THEN GREATEST(u.expires_unix_ms, EXCLUDED.expires_unix_ms)
        ELSE EXCLUDED.expires_unix_ms END"
            ),
            // $1 user, $2 key, $3 deadline, $4 now. Prunes the user's ended entries (not
            // this one: an entry added again keeps the later of its deadlines).
            add_entry: format!(
                "WITH pruned AS (
    DELETE FROM {s} WHERE user_key = $1 AND expires_unix_ms <= $4 AND record <> $2
)
INSERT INTO {s} AS s (user_key, record, expires_unix_ms) VALUES ($1, $2, $3)
ON CONFLICT (user_key, record) DO UPDATE
    SET expires_unix_ms = GREATEST(s.expires_unix_ms, EXCLUDED.expires_unix_ms)"
            ),
            // $1 user, $2 key just added, $3 cap. The oldest others beyond the cap.
            over_cap: format!(
                "SELECT record FROM (
    SELECT record, count(*) OVER () AS others,
        row_number() OVER (ORDER BY expires_unix_ms, record) AS position
    FROM {s} WHERE user_key = $1 AND record <> $2
) AS listed WHERE position <= others + 1 - $3 ORDER BY position"
            ),
            // $1 user, $2 keys. Records first, then their fields, then the entries.
            end_sessions: format!(
                "WITH ended AS (DELETE FROM {r} WHERE key = ANY($2::bytea[]) RETURNING key),
dropped AS (DELETE FROM {f} WHERE record IN (SELECT key FROM ended))
DELETE FROM {s} WHERE user_key = $1 AND record = ANY($2::bytea[])"
            ),
            // $1 user, $2 key.
            remove_entry: format!("DELETE FROM {s} WHERE user_key = $1 AND record = $2"),
            // $1 user, $2 now.
            members: format!(
                "SELECT record FROM {s} WHERE user_key = $1 AND expires_unix_ms > $2 \
                 ORDER BY expires_unix_ms, record"
            ),
            // $1 user, $2 now.
            generation: format!(
                "SELECT generation FROM {u} WHERE user_key = $1 AND expires_unix_ms > $2"
            ),
            // $1 user, $2 generation, $3 keep until, $4 now. The row lives at least until
            // `keep_until` and the latest live entry, and never shorter than a generation
            // already set made it.
            set_generation: format!(
                "INSERT INTO {u} AS u (user_key, generation, expires_unix_ms)
VALUES ($1, $2, GREATEST($3, COALESCE(
    (SELECT max(expires_unix_ms) FROM {s} WHERE user_key = $1 AND expires_unix_ms > $4), $3)))
ON CONFLICT (user_key) DO UPDATE SET
    generation = EXCLUDED.generation,
    expires_unix_ms = CASE WHEN u.generation <> 0 AND u.expires_unix_ms > $4
        THEN GREATEST(u.expires_unix_ms, EXCLUDED.expires_unix_ms)
        ELSE EXCLUDED.expires_unix_ms END"
            ),
            // $1 now, $2 batch. `SKIP LOCKED`: rows a request is writing are left for the
            // next pass; the deadline is checked again on the locked row.
            sweep_records: format!(
                "WITH due AS (
    SELECT key FROM {r} WHERE expires_unix_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED
), ended AS (
    DELETE FROM {r} WHERE key IN (SELECT key FROM due) AND expires_unix_ms <= $1 RETURNING key
), dropped AS (
    DELETE FROM {f} WHERE record IN (SELECT key FROM ended)
)
SELECT count(*) FROM ended"
            ),
            sweep_entries: format!(
                "WITH due AS (
    SELECT user_key, record FROM {s} WHERE expires_unix_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED
), ended AS (
    DELETE FROM {s} WHERE (user_key, record) IN (SELECT user_key, record FROM due)
        AND expires_unix_ms <= $1 RETURNING 1
)
SELECT count(*) FROM ended"
            ),
            sweep_users: format!(
                "WITH due AS (
    SELECT user_key FROM {u} WHERE expires_unix_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED
), ended AS (
    DELETE FROM {u} WHERE user_key IN (SELECT user_key FROM due)
        AND expires_unix_ms <= $1 RETURNING 1
)
SELECT count(*) FROM ended"
            ),
            records: r,
            users: u,
            user_sessions: s,
            migration,
        }
    }
}

impl SessionStore for PostgresStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(async move {
            // One row, one value: the record's fields packed by the statement (see
            // `fields_from_packed`), instead of a row per field.
            let packed: Option<Option<Vec<u8>>> = sqlx::query_scalar(&self.sql.load)
                .bind(key.as_bytes().as_slice())
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
            match packed {
                None => Ok(None),
                Some(packed) => {
                    fields_from_packed(packed.as_deref().unwrap_or_default(), Lengths::BigEndian32)
                        .map(Some)
                }
            }
        })
    }

    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = key.as_bytes().as_slice();
            let expires = unix_ms(write.expires_at);
            if write.create {
                let (names, values) = fields_to_set(write.set, &[]);
                sqlx::query_scalar::<_, i64>(&self.sql.create)
                    .bind(key)
                    .bind(expires)
                    .bind(names)
                    .bind(values)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_error)?;
                return Ok(true);
            }
            if write.set.is_empty() && write.remove.is_empty() {
                let touched = sqlx::query(&self.sql.touch)
                    .bind(key)
                    .bind(expires)
                    .bind(now_ms())
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                return Ok(touched.rows_affected() == 1);
            }
            let (names, values) = fields_to_set(write.set, write.remove);
            let in_place = write.remove.is_empty() && !write.push_expiry;
            let updated: i64 = if in_place && names.len() <= ROWS_PER_STATEMENT {
                let mut statement =
                    sqlx::query_scalar(&self.sql.update_in_place_rows[names.len() - 1])
                        .bind(key)
                        .bind(now_ms());
                for (name, value) in names.into_iter().zip(values) {
                    statement = statement.bind(name).bind(value);
                }
                statement.fetch_one(&self.pool).await
            } else if in_place {
                sqlx::query_scalar(&self.sql.update_in_place)
                    .bind(key)
                    .bind(names)
                    .bind(values)
                    .bind(now_ms())
                    .fetch_one(&self.pool)
                    .await
            } else if write.remove.is_empty() {
                sqlx::query_scalar(&self.sql.update_set)
                    .bind(key)
                    .bind(expires)
                    .bind(names)
                    .bind(values)
                    .bind(now_ms())
                    .fetch_one(&self.pool)
                    .await
            } else {
                sqlx::query_scalar(&self.sql.update)
                    .bind(key)
                    .bind(expires)
                    .bind(names)
                    .bind(values)
                    .bind(write.remove)
                    .bind(now_ms())
                    .fetch_one(&self.pool)
                    .await
            }
            .map_err(store_error)?;
            Ok(updated == 1)
        })
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let deadline: Option<i64> = sqlx::query_scalar(&self.sql.delete)
                .bind(key.as_bytes().as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
            Ok(deadline.is_some_and(|deadline| deadline > now_ms()))
        })
    }

    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let (user, key) = (user.as_bytes(), key.as_bytes().as_slice());
            let (deadline, now) = (unix_ms(expires_at), now_ms());
            let mut transaction = self.pool.begin().await.map_err(store_error)?;
            sqlx::query(&self.sql.lock_user)
                .bind(user)
                .bind(deadline)
                .bind(now)
                .execute(&mut *transaction)
                .await
                .map_err(store_error)?;
            sqlx::query(&self.sql.add_entry)
                .bind(user)
                .bind(key)
                .bind(deadline)
                .bind(now)
                .execute(&mut *transaction)
                .await
                .map_err(store_error)?;
            let over: Vec<Vec<u8>> = sqlx::query_scalar(&self.sql.over_cap)
                .bind(user)
                .bind(key)
                .bind(i64::try_from(self.max_per_user).unwrap_or(i64::MAX))
                .fetch_all(&mut *transaction)
                .await
                .map_err(store_error)?;
            if !over.is_empty() {
                sqlx::query(&self.sql.end_sessions)
                    .bind(user)
                    .bind(over)
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
            }
            transaction.commit().await.map_err(store_error)
        })
    }

    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(&self.sql.remove_entry)
                .bind(user.as_bytes())
                .bind(key.as_bytes().as_slice())
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }

    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        Box::pin(async move {
            let members: Vec<Vec<u8>> = sqlx::query_scalar(&self.sql.members)
                .bind(user.as_bytes())
                .bind(now_ms())
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
            members
                .iter()
                .map(|bytes| record_key(bytes, &self.sql.user_sessions))
                .collect()
        })
    }

    fn index_generation<'a>(&'a self, user: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let stored: Option<i64> = sqlx::query_scalar(&self.sql.generation)
                .bind(user.as_bytes())
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
            stored.map_or(Ok(0), |stored| generation(stored, &self.sql.users))
        })
    }

    fn index_set_generation<'a>(
        &'a self,
        user: &'a str,
        generation: u64,
        keep_until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(&self.sql.set_generation)
                .bind(user.as_bytes())
                .bind(stored_generation(generation))
                .bind(unix_ms(keep_until))
                .bind(now_ms())
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }
}
