//! The session metrics of the `metrics` feature (the table in the crate docs names them): one
//! function per event, called where the event's `tracing` event is written, and
//! [`store_call`] around every store call of store mode.
//!
//! Without the feature every function here is empty and [`store_call`] hands back the store's
//! future as it is: no clock is read, nothing is left in the code path.

use std::future::Future;

use time::OffsetDateTime;

use crate::rejection::Rejection;
use crate::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreError};

/// `session_loaded_total`: an existing session was read (a cookie accepted; in store mode, its
/// record found).
#[cfg(feature = "metrics")]
const LOADED: &str = "session_loaded_total";
/// `session_created_total`: a new session was saved for the first time.
#[cfg(feature = "metrics")]
const CREATED: &str = "session_created_total";
/// `session_renewed_total`: a session was re-issued under a new id / a new token.
#[cfg(feature = "metrics")]
const RENEWED: &str = "session_renewed_total";
/// `session_ended_total{cause}`: sessions ended by logout or revoked by the application.
#[cfg(feature = "metrics")]
const ENDED: &str = "session_ended_total";
/// `session_rejected_total{reason}`: cookies refused, by [`Rejection::code`].
#[cfg(feature = "metrics")]
const REJECTED: &str = "session_rejected_total";
/// `session_store_seconds{op}`: how long each store call took.
#[cfg(feature = "metrics")]
const STORE_SECONDS: &str = "session_store_seconds";
/// `session_store_errors_total{op}`: store calls that failed.
#[cfg(feature = "metrics")]
const STORE_ERRORS: &str = "session_store_errors_total";

/// The `op` label of the store metrics: which [`SessionStore`](crate::store::SessionStore)
/// method ran (`index` for every `index_*` method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreOp {
    Load,
    Save,
    Delete,
    Index,
}

impl StoreOp {
    #[cfg(feature = "metrics")]
    fn label(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Save => "save",
            Self::Delete => "delete",
            Self::Index => "index",
        }
    }
}

/// The `cause` label of `session_ended_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndCause {
    /// The session's own request logged out.
    Logout,
    /// The application ended it from elsewhere: one device signed out, "log out everywhere",
    /// "sign out all other devices".
    Revoked,
}

impl EndCause {
    /// The `cause` field of the "session ended" `tracing` event.
    pub(crate) fn log_cause(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "ended by the application",
        }
    }

    #[cfg(feature = "metrics")]
    fn label(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "revoked",
        }
    }
}

/// Registers each metric's description and unit with the recorder in force (the global one,
/// or a thread's local one), so an exporter can print them (`# HELP` lines). Called when a
/// manager is built; describing again is harmless.
#[inline]
pub(crate) fn describe() {
    #[cfg(feature = "metrics")]
    {
        use ::metrics::{Unit, describe_counter, describe_histogram};
        describe_counter!(
            LOADED,
            Unit::Count,
            "Existing sessions read (a session cookie accepted and, in store mode, its record found)."
        );
        describe_counter!(
            CREATED,
            Unit::Count,
            "New sessions saved for the first time."
        );
        describe_counter!(
            RENEWED,
            Unit::Count,
            "Sessions re-issued under a new id (renew, login)."
        );
        describe_counter!(
            ENDED,
            Unit::Count,
            "Sessions ended, by cause: logout, or revoked by the application."
        );
        describe_counter!(
            REJECTED,
            Unit::Count,
            "Session cookies refused, by reason (Rejection::code)."
        );
        describe_histogram!(
            STORE_SECONDS,
            Unit::Seconds,
            "Duration of session store calls, by operation."
        );
        describe_counter!(
            STORE_ERRORS,
            Unit::Count,
            "Session store calls that failed, by operation."
        );
    }
}

/// An existing session was read.
#[inline]
pub(crate) fn loaded() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(LOADED).increment(1);
}

/// A new session was saved for the first time.
#[inline]
pub(crate) fn created() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(CREATED).increment(1);
}

/// A session was re-issued under a new id.
#[inline]
pub(crate) fn renewed() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(RENEWED).increment(1);
}

/// `count` sessions ended for `cause`.
#[inline]
pub(crate) fn ended(cause: EndCause, count: usize) {
    #[cfg(feature = "metrics")]
    if count > 0 {
        ::metrics::counter!(ENDED, "cause" => cause.label())
            .increment(u64::try_from(count).unwrap_or(u64::MAX));
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (cause, count);
}

/// A session cookie was refused.
#[inline]
pub(crate) fn rejected(rejection: &Rejection) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(REJECTED, "reason" => rejection.code()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = rejection;
}

/// Awaits one store call, recording its duration in `session_store_seconds{op}` and, when it
/// fails, counting it in `session_store_errors_total{op}`. A call whose future is dropped
/// before it finishes is not recorded.
#[cfg(feature = "metrics")]
pub(crate) async fn store_call<T>(
    op: StoreOp,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let start = std::time::Instant::now();
    let result = call.await;
    record_store_call(op, start, result.is_err());
    result
}

/// [`store_call`] for an optional method whose absence store mode works around (the
/// generations): an answer of [`StoreError::Unsupported`] is how such a store answers, not a
/// failure, and no backend was asked, so it is neither timed nor counted.
#[cfg(feature = "metrics")]
pub(crate) async fn optional_store_call<T>(
    op: StoreOp,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let start = std::time::Instant::now();
    let result = call.await;
    if !matches!(result, Err(StoreError::Unsupported(_))) {
        record_store_call(op, start, result.is_err());
    }
    result
}

#[cfg(feature = "metrics")]
fn record_store_call(op: StoreOp, start: std::time::Instant, failed: bool) {
    let label = op.label();
    ::metrics::histogram!(STORE_SECONDS, "op" => label).record(start.elapsed().as_secs_f64());
    if failed {
        ::metrics::counter!(STORE_ERRORS, "op" => label).increment(1);
    }
}

/// Without the `metrics` feature: the store call itself.
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn store_call<F>(op: StoreOp, call: F) -> F {
    let _ = op;
    call
}

/// Without the `metrics` feature: the store call itself.
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn optional_store_call<F>(op: StoreOp, call: F) -> F {
    let _ = op;
    call
}

/// The store as store mode calls it: each method is the [`SessionStore`] method of the same
/// name inside [`store_call`] (the generations inside [`optional_store_call`]), so every store
/// call of store mode is timed and its failures counted (with the feature), and none can be
/// made around it.
#[derive(Clone, Copy)]
pub(crate) struct MeteredStore<'s>(&'s dyn SessionStore);

impl<'s> MeteredStore<'s> {
    pub(crate) fn new(store: &'s dyn SessionStore) -> Self {
        Self(store)
    }

    pub(crate) fn load<'a>(
        self,
        key: &'a RecordKey,
    ) -> impl Future<Output = Result<Option<Fields>, StoreError>> + Send + 'a
    where
        's: 'a,
    {
        store_call(StoreOp::Load, self.0.load(key))
    }

    pub(crate) fn save<'a>(
        self,
        key: &'a RecordKey,
        write: RecordWrite<'a>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a
    where
        's: 'a,
    {
        store_call(StoreOp::Save, self.0.save(key, write))
    }

    pub(crate) fn delete<'a>(
        self,
        key: &'a RecordKey,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a
    where
        's: 'a,
    {
        store_call(StoreOp::Delete, self.0.delete(key))
    }

    pub(crate) fn index_add<'a>(
        self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a
    where
        's: 'a,
    {
        store_call(StoreOp::Index, self.0.index_add(user, key, expires_at))
    }

    pub(crate) fn index_remove<'a>(
        self,
        user: &'a str,
        key: &'a RecordKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a
    where
        's: 'a,
    {
        store_call(StoreOp::Index, self.0.index_remove(user, key))
    }

    pub(crate) fn index_members<'a>(
        self,
        user: &'a str,
    ) -> impl Future<Output = Result<Vec<RecordKey>, StoreError>> + Send + 'a
    where
        's: 'a,
    {
        store_call(StoreOp::Index, self.0.index_members(user))
    }

    pub(crate) fn index_generation<'a>(
        self,
        user: &'a str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'a
    where
        's: 'a,
    {
        optional_store_call(StoreOp::Index, self.0.index_generation(user))
    }

    pub(crate) fn index_set_generation<'a>(
        self,
        user: &'a str,
        generation: u64,
        keep_until: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a
    where
        's: 'a,
    {
        optional_store_call(
            StoreOp::Index,
            self.0.index_set_generation(user, generation, keep_until),
        )
    }
}
