//! Time sources. Production uses [`SystemClock`]; tests inject a [`ManualClock`] and move it
//! forward instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

/// Where the session layer gets the current time from.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;

    /// The current time as whole seconds since the Unix epoch; what tokens store. Override
    /// it when the clock can answer without building a calendar date.
    fn unix_now(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn unix_now(&self) -> i64 {
        // Half the cost of `now_utc()`, which also computes the calendar date.
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that only moves when told to, for tests. Clones share the same time.
///
/// ```
/// use session_core::{Clock, ManualClock};
/// use time::Duration;
///
/// let clock = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
/// let later = clock.clone();
/// clock.advance(Duration::minutes(5));
/// assert_eq!(later.now(), time::macros::datetime!(2026-01-01 00:05 UTC));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    unix_seconds: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock standing at `start` (whole seconds; sessions keep second precision).
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            unix_seconds: Arc::new(AtomicI64::new(start.unix_timestamp())),
        }
    }

    /// Moves the clock by `by` (backwards when negative), to the whole second.
    pub fn advance(&self, by: Duration) {
        self.unix_seconds
            .fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        self.unix_seconds
            .store(to.unix_timestamp(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.unix_now()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn unix_now(&self) -> i64 {
        self.unix_seconds.load(Ordering::SeqCst)
    }
}
