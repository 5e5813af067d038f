//! The store contract as an application meets it: every check goes through `SessionManager`
//! in store mode, over the store under test. One module per theme; [`CHECKS`] lists them all.

use session_core::{LoadStatus, Rejection, SessionData, SessionHandle};

mod contents;
mod lifecycle;
mod outages;
mod writes;

pub(super) fn rejection<T: SessionData>(handle: &SessionHandle<T>) -> Option<&Rejection> {
    match handle.status() {
        LoadStatus::Rejected(rejection) => Some(rejection),
        _ => None,
    }
}

/// The checks, each listed once.
pub(super) const CHECKS: &[super::Check] = &[
    (
        "round trip keeps only an id in the cookie",
        writes::round_trip_keeps_only_an_id_in_the_cookie,
    ),
    (
        "only changed fields are written",
        writes::only_changed_fields_are_written,
    ),
    (
        "concurrent requests changing different fields both survive",
        writes::concurrent_requests_changing_different_fields_both_survive,
    ),
    (
        "concurrent requests changing the same field: the last write wins",
        writes::concurrent_requests_changing_the_same_field_last_write_wins,
    ),
    (
        "many requests of one session changing different fields lose nothing",
        writes::many_requests_of_one_session_changing_different_fields_lose_nothing,
    ),
    (
        "renew moves the data and kills the old id",
        lifecycle::renew_moves_the_data_and_kills_the_old_id,
    ),
    (
        "logout deletes the record, so a copied cookie is refused",
        lifecycle::logout_deletes_the_record_so_a_copied_cookie_is_refused,
    ),
    (
        "a write after a concurrent logout does not resurrect the session",
        lifecycle::a_write_after_a_concurrent_logout_does_not_resurrect_the_session,
    ),
    (
        "log out everywhere ends every session of the user",
        lifecycle::log_out_everywhere_ends_every_session_of_the_user,
    ),
    (
        "renewal keeps the user index current",
        lifecycle::renewal_keeps_the_user_index_current,
    ),
    (
        "expiring and flash fields work in the store",
        contents::expiring_and_flash_fields_work_in_the_store,
    ),
    (
        "records from an older schema are migrated",
        contents::records_from_an_older_schema_are_migrated,
    ),
    (
        "records of an earlier field list get the appended defaults",
        contents::records_of_an_earlier_field_list_get_the_appended_defaults,
    ),
    (
        "cookie-mode tokens are not store ids",
        contents::cookie_mode_tokens_are_not_store_ids,
    ),
    (
        "a store outage is an error, never an anonymous session",
        outages::a_store_outage_is_an_error_never_an_anonymous_session,
    ),
    (
        "the idle timeout and the absolute lifetime still apply",
        contents::the_idle_timeout_and_the_absolute_lifetime_still_apply,
    ),
    (
        "a renewal racing a logout does not revive the session",
        lifecycle::a_renewal_racing_a_logout_does_not_revive_the_session,
    ),
    (
        "a user key always comes with a fresh id",
        lifecycle::a_user_key_always_comes_with_a_fresh_id,
    ),
    (
        "log out everywhere between the steps of a renewal ends it",
        lifecycle::log_out_everywhere_between_the_steps_of_a_renewal_ends_it,
    ),
    (
        "renewals racing log out everywhere never leave a live session",
        lifecycle::renewals_racing_log_out_everywhere_never_leave_a_live_session,
    ),
    (
        "ending the other sessions keeps the current one",
        lifecycle::ending_the_other_sessions_keeps_the_current_one,
    ),
    (
        "index entries never leave before their records",
        lifecycle::index_entries_never_leave_before_their_records,
    ),
    (
        "many concurrent clients lose nothing",
        writes::many_concurrent_clients_lose_nothing,
    ),
];
