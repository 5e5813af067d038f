//! Expiry times: a deadline as memcached's whole-second expiry (rounded up, with a margin for
//! its coarse clock, relative up to 30 days and absolute beyond), and deadlines in Unix
//! milliseconds as the head and the index keep them.

use time::OffsetDateTime;

/// Seconds added to every memcached expiry. memcached keeps time in whole seconds on a clock
/// that is updated once a second, so an item can expire up to two seconds before the time it
/// was given (its documentation: "a TTL of 1 will sometimes immediately expire"). The exact
/// deadline is kept in the head and checked on read, so records still end on time.
const CLOCK_MARGIN: i128 = 2;
/// memcached reads an expiry above 30 days as an absolute Unix time.
const MAX_RELATIVE: i128 = 30 * 24 * 60 * 60;
const NANOS: i128 = 1_000_000_000;

/// `n / d` rounded towards positive infinity (`d > 0`).
fn div_ceil(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d > 0 { q + 1 } else { q }
}

pub(crate) fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn unix_ms_ceil(at: OffsetDateTime) -> i64 {
    i64::try_from(div_ceil(at.unix_timestamp_nanos(), 1_000_000)).unwrap_or(i64::MAX)
}

/// memcached's expiry for a deadline `at_ns` (Unix nanoseconds): never before it, at least
/// [`CLOCK_MARGIN`] seconds, relative up to 30 days and absolute beyond.
fn exptime(at_ns: i128, now_ns: i128) -> i64 {
    let left = div_ceil(at_ns.saturating_sub(now_ns), NANOS).max(0) + CLOCK_MARGIN;
    let exptime = if left <= MAX_RELATIVE {
        left
    } else {
        (div_ceil(at_ns, NANOS) + CLOCK_MARGIN).min(i128::from(i32::MAX))
    };
    i64::try_from(exptime).unwrap_or(i64::from(i32::MAX))
}

pub(crate) fn ttl_flag(at: OffsetDateTime, now: OffsetDateTime) -> String {
    format!(
        "T{}",
        exptime(at.unix_timestamp_nanos(), now.unix_timestamp_nanos())
    )
}

pub(crate) fn ttl_flag_ms(at_ms: i64, now: OffsetDateTime) -> String {
    format!(
        "T{}",
        exptime(i128::from(at_ms) * 1_000_000, now.unix_timestamp_nanos())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_rounded_up_with_a_margin_and_absolute_beyond_30_days() {
        let now = 1_700_000_000 * NANOS;
        assert_eq!(exptime(now + NANOS, now), 3);
        assert_eq!(exptime(now + 1, now), 3);
        assert_eq!(exptime(now - 5 * NANOS, now), 2);
        // The largest relative expiry; one second more is sent as a Unix time.
        let last_relative = now + (MAX_RELATIVE - CLOCK_MARGIN) * NANOS;
        assert_eq!(i128::from(exptime(last_relative, now)), MAX_RELATIVE);
        assert_eq!(
            i128::from(exptime(last_relative + 1, now)),
            div_ceil(last_relative + 1, NANOS) + CLOCK_MARGIN
        );
        let far = now + 60 * 24 * 3600 * NANOS + 1;
        assert_eq!(
            i128::from(exptime(far, now)),
            div_ceil(far, NANOS) + CLOCK_MARGIN
        );
        assert_eq!(exptime(i128::MAX / 2, now), i64::from(i32::MAX));
    }
}
