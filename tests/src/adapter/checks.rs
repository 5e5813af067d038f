//! The checks. Each is listed once, in [`PER_BACKEND`] (run on every backend), or as
//! [`OUTAGE`] (backends with a server), in [`ONCE`] (once per app) or [`interoperate`]
//! (several apps).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use session_core::time::Duration;

use super::fixture::Fixture;
use super::{Backend, ConformanceApp, TestServer};
use crate::http::Answer;

/// A check: what it proves, and the proof.
pub(super) type Check = (&'static str, fn(&dyn ConformanceApp, Backend));

/// A check run once per app, and the backend it runs on.
pub(super) type OnceCheck = (&'static str, fn(&dyn ConformanceApp, Backend), Backend);

/// A way a browser marks a request as sent from another site: what it is, its headers, and
/// the header the refusal names.
type CrossSite = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// The checks every backend runs.
pub(super) const PER_BACKEND: &[Check] = &[
    ("cookie attributes", cookie_attributes),
    (
        "no cookie on untouched or read requests",
        no_cookie_on_untouched_or_read_requests,
    ),
    ("changed data is re-issued", changed_data_is_reissued),
    (
        "bad cookies become anonymous sessions",
        bad_cookies_become_anonymous_sessions,
    ),
    (
        "the most recently issued valid duplicate wins",
        the_most_recently_issued_valid_duplicate_wins,
    ),
    (
        "a refused cookie is removed, a valid one never",
        a_refused_cookie_is_removed_a_valid_one_never,
    ),
    ("logout removes the cookie", logout_removes_the_cookie),
    (
        "renew re-issues with a fresh issued-at",
        renew_reissues_with_a_fresh_issued_at,
    ),
    (
        "rotation re-issues under the current key",
        rotation_reissues_under_the_current_key,
    ),
    (
        "idle, absolute and field expiry",
        idle_absolute_and_field_expiry,
    ),
    ("a flash is read once", flash_is_read_once),
    ("peek never writes", peek_never_writes),
    ("encrypted mode round-trips", encrypted_mode_round_trips),
    (
        "a response that loaded the session is private",
        a_response_that_loaded_the_session_is_private,
    ),
    (
        "bytes of another cookie never drop the session",
        bytes_of_another_cookie_never_drop_the_session,
    ),
    (
        "a server error drops the handler's changes",
        a_server_error_drops_the_handlers_changes,
    ),
    (
        "a synchronizer token verifies for its session only",
        a_synchronizer_token_verifies_for_its_session_only,
    ),
];

/// Run on backends with a server to kill.
pub(super) const OUTAGE: Check = (
    "a store outage answers 503, then recovers",
    a_store_outage_answers_503_then_recovers,
);

/// Run once per app, on the backend given.
pub(super) const ONCE: &[OnceCheck] = &[
    (
        "a missing middleware names the fix",
        a_missing_middleware_names_the_fix,
        Backend::Cookie,
    ),
    (
        "cross-site state changes are refused before the handler",
        cross_site_state_changes_are_refused_before_the_handler,
        // In store mode a logout that ran would delete the record: the proof that the
        // handler did not run.
        Backend::Memory,
    ),
    (
        "same-origin and non-browser requests are served",
        same_origin_and_non_browser_requests_are_served,
        Backend::Cookie,
    ),
    (
        "trusted origins and exempt paths are served",
        trusted_origins_and_exempt_paths_are_served,
        Backend::Cookie,
    ),
    (
        "a token in the URL is never read",
        a_token_in_the_url_is_never_read,
        Backend::Cookie,
    ),
];

fn get(server: &TestServer, path: &str, cookie: Option<&str>) -> Answer {
    server.get(path, cookie)
}

fn post(server: &TestServer, path: &str, cookie: Option<&str>) -> Answer {
    server.post(path, cookie)
}

fn cookie_attributes(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let answer = get(&server, "/write", None);
    assert_eq!((answer.status, answer.body.as_str()), (200, "1"));
    let header = answer.set_cookie.clone().expect("a write sets the cookie");
    assert!(header.starts_with("session="), "{header}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            header.split("; ").any(|a| a == attribute),
            "{attribute} missing: {header}"
        );
    }
    assert!(
        !header.contains("Max-Age") && !header.contains("Expires"),
        "browser-session cookie: {header}"
    );
    assert_eq!(answer.cache_control.as_deref(), Some("no-store"));
}

fn no_cookie_on_untouched_or_read_requests(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    assert!(get(&server, "/untouched", None).set_cookie.is_none());
    assert!(
        get(&server, "/read", None).set_cookie.is_none(),
        "an empty new session writes nothing"
    );
    let cookie = get(&server, "/write", None).cookie();
    let read = get(&server, "/read", Some(&cookie));
    assert_eq!(read.body, "1");
    assert!(read.set_cookie.is_none(), "a read writes nothing");
    assert!(
        get(&server, "/untouched", Some(&cookie))
            .set_cookie
            .is_none()
    );
}

fn changed_data_is_reissued(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let first = get(&server, "/write", None);
    let second = get(&server, "/write", Some(&first.cookie()));
    assert_eq!(second.body, "2");
    if setup.stored() {
        // The cookie only carries the id: the record changed, the cookie did not.
        assert!(second.set_cookie.is_none(), "{:?}", second.set_cookie);
        assert_eq!(get(&server, "/read", Some(&first.cookie())).body, "2");
    } else {
        assert_ne!(second.token(), first.token());
        assert_eq!(get(&server, "/read", Some(&second.cookie())).body, "2");
    }
}

fn bad_cookies_become_anonymous_sessions(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let token = get(&server, "/write", None).token();
    let mut flipped = token.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let bad = [
        String::from_utf8(flipped).expect("ascii"),
        token[..token.len() - 5].to_owned(),
        "A".repeat(5000),
        "%%%not-a-token%%%".to_owned(),
        String::new(),
        URL_SAFE_NO_PAD.encode(b"\x01\x02k1garbage-garbage-garbage-garbage"),
    ];
    for value in &bad {
        let cookie = format!("session={value}");
        let read = get(&server, "/read", Some(&cookie));
        assert_eq!(
            (read.status, read.body.as_str()),
            (200, "0"),
            "cookie {:.40}",
            value
        );
        let write = get(&server, "/write", Some(&cookie));
        assert_eq!(
            (write.status, write.body.as_str()),
            (200, "1"),
            "cookie {:.40}",
            value
        );
    }
}

fn the_most_recently_issued_valid_duplicate_wins(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    // A valid session of someone else (a sibling subdomain can plant one for the parent
    // domain, and browsers send it first when its path is longer)...
    let planted = get(&server, "/write", None).cookie();
    let second_write = get(&server, "/write", Some(&planted));
    assert_eq!(second_write.body, "2");
    let planted = second_write.cookie_or(&planted);
    // ...issued before the victim's own.
    setup.clock.advance(Duration::seconds(10));
    let own = get(&server, "/write", None).cookie();
    for header in [
        format!("session=garbage; {planted}; {own}"),
        format!("{own}; {planted}"),
    ] {
        let read = get(&server, "/read", Some(&header));
        assert_eq!(
            read.body, "1",
            "{header}: the most recently issued one is read"
        );
    }
}

fn assert_removal(answer: &Answer, what: &str) {
    let header = answer.set_cookie.as_deref().unwrap_or_default();
    assert!(
        header.starts_with("session=;") && header.contains("Max-Age=0"),
        "{what}: the refused cookie is removed: {:?}",
        answer.set_cookie
    );
}

/// A cookie refused for good (tampered, expired, ended) is answered with a removal, so the
/// browser stops sending it; never when another cookie of the request was accepted, and never
/// on a route that only looks.
fn a_refused_cookie_is_removed_a_valid_one_never(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let valid = get(&server, "/write", None).cookie();
    let token = valid
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    let mut flipped = token.into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let tampered = format!("session={}", String::from_utf8(flipped).expect("ascii"));

    let read = get(&server, "/read", Some(&tampered));
    assert_eq!((read.status, read.body.as_str()), (200, "0"));
    assert_removal(&read, "a tampered cookie");
    let peek = get(&server, "/peek", Some(&tampered));
    assert!(
        peek.set_cookie.is_none(),
        "a peek writes nothing: {:?}",
        peek.set_cookie
    );
    let write = get(&server, "/write", Some(&tampered));
    assert_eq!(write.body, "1");
    assert!(
        write
            .set_cookie
            .as_deref()
            .is_some_and(|h| !h.starts_with("session=;")),
        "a new session replaces it: {:?}",
        write.set_cookie
    );
    for header in [
        format!("{tampered}; {valid}"),
        format!("{valid}; {tampered}"),
    ] {
        let read = get(&server, "/read", Some(&header));
        assert_eq!(read.body, "1", "{header}");
        assert!(
            read.set_cookie.is_none(),
            "{header}: the valid one stays: {:?}",
            read.set_cookie
        );
    }
    if setup.stored() {
        let logout = post(&server, "/logout", Some(&valid));
        assert!(logout.set_cookie.is_some());
        assert_removal(
            &get(&server, "/read", Some(&valid)),
            "a cookie copied before logout",
        );
    }
    let expiring = get(&server, "/write", None).cookie();
    setup.clock.advance(Duration::minutes(31));
    assert_removal(&get(&server, "/read", Some(&expiring)), "an expired cookie");
}

fn logout_removes_the_cookie(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/write", None).cookie();
    let logout = post(&server, "/logout", Some(&cookie));
    let header = logout.set_cookie.expect("a removal cookie");
    assert!(header.starts_with("session=;"), "{header}");
    assert!(header.contains("Max-Age=0"), "{header}");
    assert!(
        header.contains("Path=/"),
        "same path as the cookie: {header}"
    );
    if setup.stored() {
        assert_eq!(
            get(&server, "/read", Some(&cookie)).body,
            "0",
            "store mode: a cookie copied before logout is refused"
        );
    }
}

fn renew_reissues_with_a_fresh_issued_at(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let first = get(&server, "/write", None);
    setup.clock.advance(Duration::minutes(10));
    let renewed = post(&server, "/renew", Some(&first.cookie()));
    let inspector = setup.inspector();
    let before = inspector.inspect(&first.token()).expect("valid");
    let after = inspector.inspect(&renewed.token()).expect("valid");
    assert_eq!(after.issued_at - before.issued_at, Duration::minutes(10));
    assert_eq!(
        get(&server, "/read", Some(&renewed.cookie())).body,
        "1",
        "data kept"
    );
    if setup.stored() {
        assert_eq!(
            get(&server, "/read", Some(&first.cookie())).body,
            "0",
            "store mode: the pre-renewal id is dead"
        );
    }
}

fn rotation_reissues_under_the_current_key(app: &dyn ConformanceApp, backend: Backend) {
    let mut setup = Fixture::new(backend);
    let old = app.start(Some(setup.config()));
    let cookie = get(&old, "/write", None).cookie();
    setup
        .keys
        .insert(0, ("k2".to_owned(), session_core::Key::generate()));
    let rotated = app.start(Some(setup.config()));
    let read = get(&rotated, "/read", Some(&cookie));
    assert_eq!(read.body, "1", "older key still verifies");
    let info = setup.inspector().inspect(&read.token()).expect("re-issued");
    assert_eq!(info.key_id, "k2");

    setup.keys.truncate(1);
    let without_old = app.start(Some(setup.config()));
    assert_eq!(
        get(&without_old, "/read", Some(&cookie)).body,
        "0",
        "a removed key is refused"
    );
}

fn idle_absolute_and_field_expiry(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/sudo/set", None).cookie();
    assert_eq!(get(&server, "/sudo", Some(&cookie)).body, "true");
    setup.clock.advance(Duration::minutes(6));
    let after = get(&server, "/sudo", Some(&cookie));
    assert_eq!(after.body, "false", "the field expired");
    setup.clock.advance(Duration::minutes(31));
    assert_eq!(
        get(&server, "/read", Some(&cookie)).body,
        "0",
        "idle timeout"
    );

    let setup = Fixture::new(backend);
    let server = app.start(Some(
        setup
            .config()
            .idle_timeout(None)
            .absolute_timeout(Duration::hours(2)),
    ));
    let cookie = get(&server, "/write", None).cookie();
    setup.clock.advance(Duration::minutes(119));
    assert_eq!(get(&server, "/read", Some(&cookie)).body, "1");
    setup.clock.advance(Duration::minutes(1));
    assert_eq!(
        get(&server, "/read", Some(&cookie)).body,
        "0",
        "absolute lifetime"
    );
}

fn flash_is_read_once(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/flash/set", None).cookie();
    let first = get(&server, "/flash", Some(&cookie));
    assert_eq!(first.body, "hello");
    let second = get(&server, "/flash", Some(&first.cookie_or(&cookie)));
    assert_eq!(second.body, "none");
}

fn peek_never_writes(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/write", None).cookie();
    setup.clock.advance(Duration::minutes(5)); // an idle refresh is due
    let writes = setup.store_writes();
    let peek = get(&server, "/peek", Some(&cookie));
    assert_eq!(peek.body, "1");
    assert!(peek.set_cookie.is_none(), "peek sent {:?}", peek.set_cookie);
    assert_eq!(setup.store_writes(), writes, "peek wrote to the store");
    assert!(
        get(&server, "/read", Some(&cookie)).set_cookie.is_some(),
        "a read refreshes"
    );
}

fn encrypted_mode_round_trips(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config().encrypt(true)));
    let first = get(&server, "/flash/set", None);
    let bytes = URL_SAFE_NO_PAD.decode(first.token()).expect("base64url");
    assert!(
        !bytes.windows(5).any(|w| w == b"hello"),
        "payload is not readable"
    );
    let info = setup.inspector().inspect(&first.token()).expect("valid");
    assert!(info.encrypted);
    assert_eq!(get(&server, "/flash", Some(&first.cookie())).body, "hello");
}

fn a_missing_middleware_names_the_fix(app: &dyn ConformanceApp, _backend: Backend) {
    let server = app.start(None);
    let answer = get(&server, "/read", None);
    assert_eq!(
        answer.status, 500,
        "a missing middleware is the application's error, never a panic or a 4xx"
    );
    if let Some(hint) = app.missing_middleware_hint() {
        assert!(
            answer.body.contains(hint),
            "body {:?} should contain {hint:?}",
            answer.body
        );
    }
    assert_eq!(
        get(&server, "/untouched", None).status,
        200,
        "routes without a session still work"
    );
}

/// Every app reads what every other app wrote, with the same keys and store.
pub(super) fn interoperate(apps: &[&dyn ConformanceApp], backend: Backend) {
    let setup = Fixture::new(backend);
    let servers: Vec<_> = apps
        .iter()
        .map(|app| (app.name(), app.start(Some(setup.config()))))
        .collect();
    for (minter, server) in &servers {
        let cookie = get(server, "/write", None).cookie();
        for (reader, other) in &servers {
            let read = get(other, "/read", Some(&cookie));
            assert_eq!(
                read.body, "1",
                "{reader} reads a session written by {minter}"
            );
        }
    }
}

/// Store mode with a server: kill it and requests that need the session answer 503 (never an
/// anonymous session, never a panic); routes without a session keep working; once it is back,
/// requests succeed again.
fn a_store_outage_answers_503_then_recovers(app: &dyn ConformanceApp, backend: Backend) {
    let mut setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/write", None).cookie();
    setup.kill_store();
    for (path, cookie) in [("/read", Some(cookie.as_str())), ("/write", None)] {
        let answer = get(&server, path, cookie);
        assert_eq!(answer.status, 503, "{path}: {}", answer.body);
        assert_ne!(answer.body, "0", "{path}: never an anonymous session");
        assert!(answer.set_cookie.is_none());
    }
    assert_eq!(get(&server, "/untouched", Some(&cookie)).status, 200);
    setup.restart_store();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = get(&server, "/write", None);
        if answer.status == 200 {
            assert_eq!(answer.body, "1");
            break;
        }
        assert_eq!(answer.status, 503);
        assert!(std::time::Instant::now() < deadline, "no recovery");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A response that loaded the session varies by `Cookie` and is `Cache-Control: private`
/// (`no-store` when it sets the cookie), so no shared cache serves one user's page to another;
/// a route that never touched the session gets neither.
fn a_response_that_loaded_the_session_is_private(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let write = get(&server, "/write", None);
    assert_eq!(write.cache_control.as_deref(), Some("no-store"));
    assert!(vary_has_cookie(&write), "write: {:?}", write.vary);
    let cookie = write.cookie();
    for (what, answer) in [
        ("a read", get(&server, "/read", Some(&cookie))),
        ("a read of a new session", get(&server, "/read", None)),
        ("a peek", get(&server, "/peek", Some(&cookie))),
    ] {
        assert!(
            answer.set_cookie.is_none(),
            "{what}: {:?}",
            answer.set_cookie
        );
        assert_eq!(answer.cache_control.as_deref(), Some("private"), "{what}");
        assert!(vary_has_cookie(&answer), "{what}: {:?}", answer.vary);
    }
    let untouched = get(&server, "/untouched", Some(&cookie));
    assert_eq!(untouched.cache_control, None, "the session was not loaded");
    assert!(!vary_has_cookie(&untouched), "{:?}", untouched.vary);
}

fn vary_has_cookie(answer: &Answer) -> bool {
    answer.vary.as_deref().is_some_and(|v| {
        v.split(',')
            .any(|part| part.trim().eq_ignore_ascii_case("cookie"))
    })
}

/// A cookie someone planted with bytes that are not ASCII next to the session's, in the same
/// `Cookie` header, must not log the user out: only the session cookie's own pairs are read.
/// Nor must a second `Cookie` header that is not even UTF-8. (Bytes that are not UTF-8 in the
/// session's own header: Rocket drops such a header before any adapter sees it; the other
/// adapters pass the bytes, and core's property tests cover them.)
fn bytes_of_another_cookie_never_drop_the_session(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/write", None).cookie();
    let mut header = b"other=caf\xc3\xa9; ".to_vec();
    header.extend_from_slice(cookie.as_bytes());
    header.extend_from_slice("; lang=fran\u{e7}ais".as_bytes());
    let planted: &[u8] = b"junk=\xff\xfe";
    let read = crate::http::send_bytes(server.base(), "GET", "/read", &[&header, planted]);
    assert_eq!((read.status, read.body.as_str()), (200, "1"));
}

/// The headers of a browser's cross-site form post, and of old browsers' equivalents.
const CROSS_SITE: &[CrossSite] = &[
    (
        "Sec-Fetch-Site: cross-site",
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        "Sec-Fetch-Site",
    ),
    (
        "Sec-Fetch-Site: same-site",
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://sibling.example"),
        ],
        "Sec-Fetch-Site",
    ),
    (
        "an Origin of another site",
        &[("origin", "https://evil.example")],
        "Origin",
    ),
    ("Origin: null", &[("origin", "null")], "Origin"),
];

fn assert_refused(answer: &Answer, what: &str, reason: &str) {
    assert_eq!(answer.status, 403, "{what}: {answer:?}");
    assert!(
        answer.body.contains("cross-origin request refused") && answer.body.contains(reason),
        "{what}: the body says why: {:?}",
        answer.body
    );
    assert!(answer.set_cookie.is_none(), "{what}: nothing changes");
    assert_eq!(answer.cache_control.as_deref(), Some("no-store"), "{what}");
}

fn cross_site_state_changes_are_refused_before_the_handler(
    app: &dyn ConformanceApp,
    backend: Backend,
) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/write", None).cookie();
    for (what, headers, reason) in CROSS_SITE {
        for (method, path) in [("POST", "/logout"), ("POST", "/renew"), ("POST", "/csrf")] {
            let answer = server.send(method, path, Some(&cookie), headers);
            assert_refused(&answer, &format!("{method} {path} with {what}"), reason);
        }
        // No route takes these methods: a framework that routes before its middleware (salvo)
        // answers 405 and runs nothing; the others refuse first.
        for method in ["PUT", "PATCH", "DELETE"] {
            let answer = server.send(method, "/logout", Some(&cookie), headers);
            if answer.status != 405 {
                assert_refused(&answer, &format!("{method} /logout with {what}"), reason);
            }
        }
        assert_eq!(
            get(&server, "/read", Some(&cookie)).body,
            "1",
            "{what}: the refused logout never ran, the session lives"
        );
    }
    // Safe methods are never refused: a cross-site link or image is how the web works.
    let answer = server.send("GET", "/write", Some(&cookie), CROSS_SITE[0].1);
    assert_eq!((answer.status, answer.body.as_str()), (200, "2"));
}

fn same_origin_and_non_browser_requests_are_served(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/write", None).cookie();
    let own_origin = server.base().to_owned();
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "Sec-Fetch-Site: same-origin",
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://ignored.example"),
            ],
        ),
        ("Sec-Fetch-Site: none", &[("sec-fetch-site", "none")]),
        ("its own Origin", &[("origin", &own_origin)]),
        ("neither header (curl, a script)", &[]),
    ];
    for (what, headers) in cases {
        let answer = server.send("POST", "/renew", Some(&cookie), headers);
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "renewed"),
            "{what}"
        );
    }
}

fn trusted_origins_and_exempt_paths_are_served(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let protection = session_core::CrossOriginProtection::new()
        .trust_origin("https://partner.example")
        .exempt_path("/renew");
    let server = app.start(Some(setup.config().cross_origin(protection)));
    let cookie = get(&server, "/write", None).cookie();
    let partner = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://partner.example"),
    ];
    let answer = server.send("POST", "/logout", Some(&cookie), &partner);
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "bye"),
        "a trusted origin"
    );
    let evil = CROSS_SITE[0].1;
    let answer = server.send("POST", "/renew", Some(&cookie), evil);
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "renewed"),
        "an exempt path"
    );
    let answer = server.send("POST", "/logout", Some(&cookie), evil);
    assert_refused(&answer, "another origin on another path", "Sec-Fetch-Site");

    let off = app.start(Some(
        setup
            .config()
            .cross_origin(session_core::CrossOriginProtection::disabled()),
    ));
    let answer = off.send("POST", "/logout", Some(&cookie), evil);
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "bye"),
        "protection off"
    );
}

fn a_synchronizer_token_verifies_for_its_session_only(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let first = get(&server, "/csrf", None);
    assert_eq!(first.status, 200);
    let cookie = first.cookie();
    let token = first.body.clone();
    let again = get(&server, "/csrf", Some(&cookie));
    assert_ne!(again.body, token, "masked afresh for every response");
    assert!(
        again.set_cookie.is_none(),
        "the secret is made once: issuing again changes nothing"
    );
    let verify = |cookie: Option<&str>, token: Option<&str>| {
        let headers: Vec<(&str, &str)> = token.map(|t| ("x-csrf-token", t)).into_iter().collect();
        server.send("POST", "/csrf", cookie, &headers)
    };
    for valid in [&token, &again.body] {
        let answer = verify(Some(&cookie), Some(valid));
        assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
    }
    let other = get(&server, "/csrf", None);
    let mut flipped = token.clone().into_bytes();
    flipped[40] = if flipped[40] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    for (what, cookie, token) in [
        ("no token", Some(cookie.as_str()), None),
        (
            "another session's token",
            Some(cookie.as_str()),
            Some(other.body.as_str()),
        ),
        (
            "a changed token",
            Some(cookie.as_str()),
            Some(flipped.as_str()),
        ),
        ("garbage", Some(cookie.as_str()), Some("not-a-token")),
        ("no session", None, Some(token.as_str())),
    ] {
        assert_eq!(verify(cookie, token).status, 403, "{what}");
    }
}

fn a_server_error_drops_the_handlers_changes(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let cookie = get(&server, "/write", None).cookie();
    let writes = setup.store_writes();
    let failed = get(&server, "/fail", Some(&cookie));
    assert_eq!(failed.status, 500);
    assert!(failed.set_cookie.is_none(), "{:?}", failed.set_cookie);
    assert!(
        vary_has_cookie(&failed),
        "it loaded the session: {:?}",
        failed.vary
    );
    assert_eq!(setup.store_writes(), writes, "nothing written to the store");
    assert_eq!(get(&server, "/read", Some(&cookie)).body, "1");
    let fresh = get(&server, "/fail", None);
    assert!(
        fresh.set_cookie.is_none(),
        "no session is created by a failed request"
    );
}

/// ASVS 3.1.1: session tokens travel in the cookie only, never in the URL.
fn a_token_in_the_url_is_never_read(app: &dyn ConformanceApp, backend: Backend) {
    let setup = Fixture::new(backend);
    let server = app.start(Some(setup.config()));
    let written = get(&server, "/write", None);
    let (cookie, token) = (written.cookie(), written.token());
    for path in [format!("/read?session={token}"), format!("/read?{cookie}")] {
        let answer = get(&server, &path, None);
        assert_eq!(
            answer.body, "0",
            "{path}: a fresh session, the URL is not a cookie"
        );
    }
}
