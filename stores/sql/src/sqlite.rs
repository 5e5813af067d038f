//! [`SqliteStore`]: every write that touches more than one row is one `BEGIN IMMEDIATE`
//! transaction.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use session_core::store::{
    DEFAULT_MAX_SESSIONS_PER_USER, Fields, RecordKey, RecordWrite, SessionStore, StoreError,
    StoreFuture,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use time::OffsetDateTime;

use crate::names::{Name, Tables};
use crate::{
    DEFAULT_SWEEP_BATCH, Lengths, Sweeper, fields_from_packed, fields_to_set, generation, now_ms,
    record_key, store_error, stored_generation, unix_ms, values_rows,
};

/// How a write transaction starts: with the database's write lock taken at once, so two
/// writers queue on SQLite's busy timeout instead of one failing when it upgrades a read lock.
const BEGIN: &str = "BEGIN IMMEDIATE";

/// At most this many fields are written by one statement (a multi-row `INSERT`): a write sets
/// one or two fields between logins, about ten at a login; more take one statement per this
/// many, inside the write's transaction.
const ROWS_PER_STATEMENT: usize = 16;

/// Sessions in SQLite: the embedded, persistent store for one machine. Sessions survive a
/// restart of the application and no server runs; several processes on the machine may share
/// the file. The same tables as the PostgreSQL store (see [the crate docs](crate#tables)),
/// one row per session field.
///
/// A load is one statement answering one row, the record's fields packed into one value. The
/// write nearly every request makes (fields set between two pushes of the idle deadline) is
/// one statement too: `INSERT ... SELECT ... WHERE EXISTS (the live record) ON CONFLICT DO
/// UPDATE`, atomic on its own, so it never revives a deleted or expired session. Every other
/// write that touches more than one row is one transaction begun with `BEGIN IMMEDIATE`
/// (SQLite has one writer at a time; the others wait up to the busy timeout): an update first
/// runs `UPDATE ... WHERE key = ? AND expires_unix_ms > now` and changes fields only when that
/// found the live record; a delete answers from the deadline of the row it deleted
/// (`DELETE ... RETURNING`). The per-user index works as on PostgreSQL, in one transaction per
/// add.
///
/// Use a file database (`sqlite://sessions.db`) in write-ahead-log mode (what
/// [`connect`](Self::connect) sets up), so loads do not wait for writes. `sqlite::memory:`
/// works too, for tests: one connection, gone with the store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    tables: Tables,
    max_per_user: usize,
    batch: u32,
    sql: Arc<Statements>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("records", &self.sql.records)
            .field("max_sessions_per_user", &self.max_per_user)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// A store over the application's own pool, with the default table names. Run
    /// [`migrate`](Self::migrate) once, or create the tables yourself
    /// ([`migration_sql`](Self::migration_sql)). A pool for a file database should use
    /// `journal_mode = WAL` and a busy timeout (sqlx's default is five seconds).
    pub fn new(pool: SqlitePool) -> Self {
        let tables = Tables::default();
        let sql = Arc::new(Statements::new(&tables));
        Self {
            pool,
            tables,
            max_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
            batch: DEFAULT_SWEEP_BATCH,
            sql,
        }
    }

    /// Opens the database at `url` with a pool of its own: `sqlite://path/to/sessions.db`
    /// (created if missing, in write-ahead-log mode) or `sqlite::memory:` (one connection,
    /// kept open for as long as the store). A request waits at most `timeout` for a
    /// connection and for SQLite's write lock.
    ///
    /// # Errors
    /// [`StoreError::Connect`], naming SQLite and the URL: it does not parse, or the file
    /// cannot be opened or created (a missing directory, no permission).
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let failed = |error| StoreError::connect("SQLite", url, error);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(failed)?
            .busy_timeout(timeout);
        // No ping before each use: the database is in this process, so a pooled connection
        // cannot have been dropped by a network or a server restart, and the ping would be one
        // more round trip to the connection's worker thread per statement.
        let mut pool = SqlitePoolOptions::new()
            .acquire_timeout(timeout)
            .test_before_acquire(false);
        if in_memory {
            // Each connection to `:memory:` is a database of its own: keep exactly one.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
        }
        let pool = pool.connect_with(options).await.map_err(failed)?;
        Ok(Self::new(pool))
    }

    /// Uses these table names instead of the defaults.
    #[must_use]
    pub fn with_tables(mut self, tables: Tables) -> Self {
        self.sql = Arc::new(Statements::new(&tables));
        self.tables = tables;
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
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The statements [`migrate`](Self::migrate) runs, with this store's names: for teams
    /// that run migrations themselves.
    pub fn migration_sql(&self) -> String {
        self.sql.migration.clone()
    }

    /// Creates the tables and their indexes, where missing, in one transaction. Safe to run
    /// at every start.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]: the database refused a statement (read-only file, say).
    pub fn migrate(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut transaction = self.pool.begin_with(BEGIN).await.map_err(store_error)?;
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
    /// deadline has passed, at most [`with_sweep_batch`](Self::with_sweep_batch) rows per
    /// transaction (so other writers wait at most one batch); answers how many sessions it
    /// deleted. One pass now: for a scheduled job. A server can instead
    /// [`spawn_sweeper`](Self::spawn_sweeper).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]: a statement failed; the batches before it stay deleted.
    pub fn delete_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let now = now_ms();
            let batch = i64::from(self.batch);
            let full = u64::from(self.batch);
            let mut sessions = 0;
            loop {
                let mut transaction = self.pool.begin_with(BEGIN).await.map_err(store_error)?;
                sqlx::query(&self.sql.sweep_fields)
                    .bind(now)
                    .bind(batch)
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
                let deleted = sqlx::query(&self.sql.sweep_records)
                    .bind(now)
                    .bind(batch)
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                transaction.commit().await.map_err(store_error)?;
                sessions += deleted;
                if deleted < full {
                    break;
                }
            }
            for sql in [&self.sql.sweep_entries, &self.sql.sweep_users] {
                loop {
                    let deleted = sqlx::query(sql)
                        .bind(now)
                        .bind(batch)
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    if deleted < full {
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
        Sweeper::spawn("SQLite", every, move || {
            let store = store.clone();
            async move { store.delete_expired().await }
        })
    }
}

/// Every statement, with the store's names in.
struct Statements {
    records: String,
    users: String,
    user_sessions: String,
    migration: String,
    load: String,
    upsert_record: String,
    clear_fields: String,
    /// `set_fields[n - 1]` sets `n` fields.
    set_fields: Vec<String>,
    /// `set_live[n - 1]` sets `n` fields of a live record, in one statement.
    set_live: Vec<String>,
    remove_field: String,
    touch: String,
    delete_record: String,
    lock_user: String,
    prune_entries: String,
    add_entry: String,
    over_cap: String,
    remove_entry: String,
    members: String,
    generation: String,
    set_generation: String,
    sweep_fields: String,
    sweep_records: String,
    sweep_entries: String,
    sweep_users: String,
}

impl Statements {
    fn new(tables: &Tables) -> Self {
        let index = |table: &Name, suffix: &str| format!("\"{}_{suffix}\"", table.as_str());
        let (r, f, u, s) = (
            tables.records.to_string(),
            tables.fields.to_string(),
            tables.users.to_string(),
            tables.user_sessions.to_string(),
        );
        let migration = format!(
            "CREATE TABLE IF NOT EXISTS {r} (
    key BLOB NOT NULL PRIMARY KEY,
    expires_unix_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {r_expires} ON {r} (expires_unix_ms);
CREATE TABLE IF NOT EXISTS {f} (
    record BLOB NOT NULL,
    name TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (record, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {u} (
    user_key BLOB NOT NULL PRIMARY KEY,
    generation INTEGER NOT NULL,
    expires_unix_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {u_expires} ON {u} (expires_unix_ms);
CREATE TABLE IF NOT EXISTS {s} (
    user_key BLOB NOT NULL,
    record BLOB NOT NULL,
    expires_unix_ms INTEGER NOT NULL,
    PRIMARY KEY (user_key, record)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {s_deadline} ON {s} (user_key, expires_unix_ms);
CREATE INDEX IF NOT EXISTS {s_expires} ON {s} (expires_unix_ms);
",
            r_expires = index(&tables.records, "expires"),
            u_expires = index(&tables.users, "expires"),
            s_deadline = index(&tables.user_sessions, "deadline"),
            s_expires = index(&tables.user_sessions, "expires"),
        );
        // The same rows each time within a transaction: ordered down to the primary key.
        let due = |table: &str, columns: &str| {
            format!(
                "SELECT {columns} FROM {table} WHERE expires_unix_ms <= ?1 \
                 ORDER BY expires_unix_ms, {columns} LIMIT ?2"
            )
        };
        Self {
            // ?1 key, ?2 now. No row: no live record; one row, NULL: a live, empty one. Else
            // one value: per field, the byte lengths in decimal and a colon before the name
            // and before the value (`||` writes the integer as text and keeps blob bytes).
            load: format!(
                "SELECT (SELECT CAST(group_concat(length(CAST(name AS BLOB)) || ':' || name \
                 || length(CAST(value AS BLOB)) || ':' || value, '') AS BLOB) \
                 FROM {f} WHERE record = r.key) \
                 FROM {r} AS r WHERE r.key = ?1 AND r.expires_unix_ms > ?2"
            ),
            // ?1 key, ?2 deadline.
            upsert_record: format!(
                "INSERT INTO {r} (key, expires_unix_ms) VALUES (?1, ?2) ON CONFLICT (key) \
                 DO UPDATE SET expires_unix_ms = excluded.expires_unix_ms"
            ),
            // ?1 key.
            clear_fields: format!("DELETE FROM {f} WHERE record = ?1"),
            // ?1 key, then name and value of each field: ?2, ?3, ?4, ?5...
            set_fields: (1..=ROWS_PER_STATEMENT)
                .map(|n| {
                    let rows = values_rows(n, 2, |name, value| format!("(?1, ?{name}, ?{value})"));
                    format!(
                        "INSERT INTO {f} (record, name, value) VALUES {rows} \
                         ON CONFLICT (record, name) DO UPDATE SET value = excluded.value"
                    )
                })
                .collect(),
            // ?1 key, ?2 now, then name and value of each field: ?3, ?4, ?5, ?6... Writes
            // nothing unless the record is live, in the same statement (so atomically).
            set_live: (1..=ROWS_PER_STATEMENT)
                .map(|n| {
                    let rows = values_rows(n, 3, |name, value| format!("(?{name}, ?{value})"));
                    format!(
                        "INSERT INTO {f} (record, name, value) \
                         SELECT ?1, column1, column2 FROM (VALUES {rows}) \
                         WHERE EXISTS (SELECT 1 FROM {r} WHERE key = ?1 AND expires_unix_ms > ?2) \
                         ON CONFLICT (record, name) DO UPDATE SET value = excluded.value"
                    )
                })
                .collect(),
            // ?1 key, ?2 name.
            remove_field: format!("DELETE FROM {f} WHERE record = ?1 AND name = ?2"),
            // ?1 key, ?2 deadline, ?3 now: the existence (and liveness) check of an update.
            touch: format!(
                "UPDATE {r} SET expires_unix_ms = ?2 WHERE key = ?1 AND expires_unix_ms > ?3"
            ),
            // ?1 key.
            delete_record: format!("DELETE FROM {r} WHERE key = ?1 RETURNING expires_unix_ms"),
            // ?1 user, ?2 entry deadline, ?3 now. A row past its deadline starts again.
            lock_user: format!(
                "INSERT INTO {u} (user_key, generation, expires_unix_ms) VALUES (?1, 0, ?2)
ON CONFLICT (user_key) DO UPDATE SET
    generation = CASE WHEN expires_unix_ms > ?3 THEN generation ELSE 0 END,
    expires_unix_ms = CASE WHEN expires_unix_ms > ?3
        THEN max(expires_unix_ms, excluded.expires_unix_ms)
        ELSE excluded.expires_unix_ms END"
            ),
            // ?1 user, ?2 key, ?3 now: the user's ended entries, not this one.
            prune_entries: format!(
                "DELETE FROM {s} WHERE user_key = ?1 AND expires_unix_ms <= ?3 AND record <> ?2"
            ),
            // ?1 user, ?2 key, ?3 deadline: an entry added again keeps the later deadline.
            add_entry: format!(
                "INSERT INTO {s} (user_key, record, expires_unix_ms) VALUES (?1, ?2, ?3)
ON CONFLICT (user_key, record) DO UPDATE
    SET expires_unix_ms = max(expires_unix_ms, excluded.expires_unix_ms)"
            ),
            // ?1 user, ?2 key just added, ?3 cap. The oldest others beyond the cap.
            over_cap: format!(
                "SELECT record FROM (
    SELECT record, count(*) OVER () AS others,
        row_number() OVER (ORDER BY expires_unix_ms, record) AS position
    FROM {s} WHERE user_key = ?1 AND record <> ?2
) WHERE position <= others + 1 - ?3 ORDER BY position"
            ),
            // ?1 user, ?2 key.
            remove_entry: format!("DELETE FROM {s} WHERE user_key = ?1 AND record = ?2"),
            // ?1 user, ?2 now.
            members: format!(
                "SELECT record FROM {s} WHERE user_key = ?1 AND expires_unix_ms > ?2 \
                 ORDER BY expires_unix_ms, record"
            ),
            // ?1 user, ?2 now.
            generation: format!(
                "SELECT generation FROM {u} WHERE user_key = ?1 AND expires_unix_ms > ?2"
            ),
            // ?1 user, ?2 generation, ?3 keep until, ?4 now.
            set_generation: format!(
                "INSERT INTO {u} (user_key, generation, expires_unix_ms)
VALUES (?1, ?2, max(?3, coalesce(
    (SELECT max(expires_unix_ms) FROM {s} WHERE user_key = ?1 AND expires_unix_ms > ?4), ?3)))
ON CONFLICT (user_key) DO UPDATE SET
    generation = excluded.generation,
    expires_unix_ms = CASE WHEN generation <> 0 AND expires_unix_ms > ?4
        THEN max(expires_unix_ms, excluded.expires_unix_ms)
        ELSE excluded.expires_unix_ms END"
            ),
            // ?1 now, ?2 batch; in one transaction, fields first, then the same records.
            sweep_fields: format!("DELETE FROM {f} WHERE record IN ({})", due(&r, "key")),
            sweep_records: format!("DELETE FROM {r} WHERE key IN ({})", due(&r, "key")),
            sweep_entries: format!(
                "DELETE FROM {s} WHERE (user_key, record) IN ({})",
                due(&s, "user_key, record")
            ),
            sweep_users: format!(
                "DELETE FROM {u} WHERE user_key IN ({})",
                due(&u, "user_key")
            ),
            records: r,
            users: u,
            user_sessions: s,
            migration,
        }
    }
}

impl SqliteStore {
    /// Deletes a record and its fields inside `transaction`; answers the record's deadline.
    async fn delete_in(
        &self,
        transaction: &mut sqlx::SqliteConnection,
        key: &[u8],
    ) -> Result<Option<i64>, StoreError> {
        let deadline: Option<i64> = sqlx::query_scalar(&self.sql.delete_record)
            .bind(key)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(store_error)?;
        sqlx::query(&self.sql.clear_fields)
            .bind(key)
            .execute(&mut *transaction)
            .await
            .map_err(store_error)?;
        Ok(deadline)
    }
}

impl SessionStore for SqliteStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(async move {
            let packed: Option<Option<Vec<u8>>> = sqlx::query_scalar(&self.sql.load)
                .bind(key.as_bytes().as_slice())
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
            match packed {
                None => Ok(None),
                Some(packed) => {
                    fields_from_packed(packed.as_deref().unwrap_or_default(), Lengths::Decimal)
                        .map(Some)
                }
            }
        })
    }

    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = key.as_bytes().as_slice();
            let expires = unix_ms(write.expires_at);
            if !write.create && write.set.is_empty() && write.remove.is_empty() {
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
            if !write.create
                && !write.push_expiry
                && write.remove.is_empty()
                && names.len() <= ROWS_PER_STATEMENT
            {
                // Fields only, the expiry kept: one statement, no transaction around it.
                let mut statement = sqlx::query(&self.sql.set_live[names.len() - 1])
                    .bind(key)
                    .bind(now_ms());
                for (name, value) in names.into_iter().zip(values) {
                    statement = statement.bind(name).bind(value);
                }
                let written = statement.execute(&self.pool).await.map_err(store_error)?;
                return Ok(written.rows_affected() > 0);
            }
            let mut transaction = self.pool.begin_with(BEGIN).await.map_err(store_error)?;
            if write.create {
                sqlx::query(&self.sql.upsert_record)
                    .bind(key)
                    .bind(expires)
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
                sqlx::query(&self.sql.clear_fields)
                    .bind(key)
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
            } else {
                let live = sqlx::query(&self.sql.touch)
                    .bind(key)
                    .bind(expires)
                    .bind(now_ms())
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
                if live.rows_affected() != 1 {
                    // Gone or expired: nothing written (the transaction rolls back).
                    return Ok(false);
                }
                for name in write.remove {
                    sqlx::query(&self.sql.remove_field)
                        .bind(key)
                        .bind(*name)
                        .execute(&mut *transaction)
                        .await
                        .map_err(store_error)?;
                }
            }
            for (names, values) in names
                .chunks(ROWS_PER_STATEMENT)
                .zip(values.chunks(ROWS_PER_STATEMENT))
            {
                let mut statement = sqlx::query(&self.sql.set_fields[names.len() - 1]).bind(key);
                for (name, value) in names.iter().zip(values) {
                    statement = statement.bind(*name).bind(*value);
                }
                statement
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
            }
            transaction.commit().await.map_err(store_error)?;
            Ok(true)
        })
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut transaction = self.pool.begin_with(BEGIN).await.map_err(store_error)?;
            let deadline = self
                .delete_in(&mut transaction, key.as_bytes().as_slice())
                .await?;
            transaction.commit().await.map_err(store_error)?;
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
            let mut transaction = self.pool.begin_with(BEGIN).await.map_err(store_error)?;
            sqlx::query(&self.sql.lock_user)
                .bind(user)
                .bind(deadline)
                .bind(now)
                .execute(&mut *transaction)
                .await
                .map_err(store_error)?;
            sqlx::query(&self.sql.prune_entries)
                .bind(user)
                .bind(key)
                .bind(now)
                .execute(&mut *transaction)
                .await
                .map_err(store_error)?;
            sqlx::query(&self.sql.add_entry)
                .bind(user)
                .bind(key)
                .bind(deadline)
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
            for ended in &over {
                self.delete_in(&mut transaction, ended).await?;
                sqlx::query(&self.sql.remove_entry)
                    .bind(user)
                    .bind(ended.as_slice())
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
