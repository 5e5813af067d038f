//! The demo HTTP contract of DESIGN.md, checked against every demo binary over real HTTP, plus
//! interop (a cookie minted by one demo works in the others) and start-up behaviour.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use session_testing::servers;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION, SET_COOKIE, VARY};
use serde_json::{Value, json};

const DEMOS: &[(&str, &str)] = &[
    ("axum-demo", env!("CARGO_BIN_EXE_axum-demo")),
    ("actix-demo", env!("CARGO_BIN_EXE_actix-demo")),
    ("rocket-demo", env!("CARGO_BIN_EXE_rocket-demo")),
];

struct Demo {
    name: &'static str,
    base: String,
    child: Child,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

fn start(name: &'static str, binary: &str, keys: &str) -> Demo {
    start_on_any_port(name, binary, keys, "cookie")
}

/// Starts a demo on a free port; tries another port when the one picked was taken meanwhile
/// (another test's server can grab it between the probe and the demo's bind).
fn start_on_any_port(name: &'static str, binary: &str, keys: &str, store: &str) -> Demo {
    for _ in 0..5 {
        if let Some(demo) = try_start(name, binary, keys, store, free_port()) {
            return demo;
        }
    }
    panic!("{name} could not listen on any of five free ports");
}

fn start_with(name: &'static str, binary: &str, keys: &str, store: &str, port: u16) -> Demo {
    try_start(name, binary, keys, store, port)
        .unwrap_or_else(|| panic!("{name} did not listen on {port}"))
}

/// Starts a demo and waits for its own "listening" log line (a successful connect alone could
/// reach another process on the same port); `None` when it exits first.
fn try_start(name: &'static str, binary: &str, keys: &str, store: &str, port: u16) -> Option<Demo> {
    let mut child = Command::new(binary)
        .env("PORT", port.to_string())
        .env("SESSION_KEYS", keys)
        .env("SESSION_STORE", store)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo starts");
    // The demos log to stdout.
    let logs = child.stdout.take().expect("piped");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut ready = Some(ready_tx);
        // Keeps draining after the line, so the demo never blocks on a full pipe.
        for line in BufReader::new(logs).lines().map_while(Result::ok) {
            if line.contains("listening on")
                && let Some(ready) = ready.take()
            {
                let _ = ready.send(());
            }
        }
    });
    match ready_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => Some(Demo {
            name,
            base: format!("http://127.0.0.1:{port}"),
            child,
        }),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    }
}

fn keys() -> String {
    format!("k1:{}", session_core::Key::generate().to_base64().as_str())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Reply {
    status: StatusCode,
    set_cookie: Option<String>,
    location: Option<String>,
    cache_control: Option<String>,
    vary: Option<String>,
    body: String,
}

impl Reply {
    /// The cookie this reply set, or `previous` (store mode changes the record, not the
    /// cookie).
    fn cookie_or(&self, previous: &str) -> String {
        match self.set_cookie {
            Some(_) => self.cookie(),
            None => previous.to_owned(),
        }
    }
    fn cookie(&self) -> String {
        self.set_cookie
            .as_deref()
            .expect("Set-Cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

async fn call(
    demo: &Demo,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> Reply {
    call_with(demo, method, path, cookie, form, &[]).await
}

/// [`call`] with more headers (a browser's `Origin` and `Sec-Fetch-Site`).
async fn call_with(
    demo: &Demo,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let url = format!("{}{path}", demo.base);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = client().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(form) = form {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", demo.name));
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().expect("ascii").to_owned())
    };
    let (set_cookie, location) = (header(SET_COOKIE), header(LOCATION));
    let (cache_control, vary) = (header(CACHE_CONTROL), header(VARY));
    Reply {
        status: response.status(),
        set_cookie,
        cache_control,
        vary,
        location,
        body: response.text().await.expect("body"),
    }
}

async fn log_in(demo: &Demo) -> String {
    let reply = call(
        demo,
        "POST",
        "/login",
        None,
        Some("username=alice&password=wonderland"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", demo.name);
    assert_eq!(reply.location.as_deref(), Some("/"), "{}", demo.name);
    reply.cookie()
}

#[tokio::test]
async fn every_demo_follows_the_contract() {
    let keys = keys();
    for (name, binary) in DEMOS {
        contract(&start(name, binary, &keys), false).await;
    }
}

#[tokio::test]
async fn every_demo_follows_the_contract_with_sessions_in_memory_redis_memcached_postgres_and_sqlite()
 {
    let keys = keys();
    let redis = servers::start(servers::Kind::Redis);
    let memcached = servers::start(servers::Kind::Memcached);
    let postgres = servers::start_postgres();
    let sqlite = tempfile::tempdir().expect("a temporary directory");
    let mut stores = vec!["memory".to_owned()];
    stores.extend(redis.as_ref().map(servers::Server::url));
    stores.extend(
        memcached
            .as_ref()
            .map(|m| format!("memcached://{}", m.url())),
    );
    stores.extend(postgres.as_ref().map(servers::Postgres::url));
    stores.push(format!(
        "sqlite://{}",
        sqlite.path().join("sessions.db").display()
    ));
    for store in &stores {
        for (name, binary) in DEMOS {
            contract(&start_on_any_port(name, binary, &keys, store), true).await;
        }
    }
}

/// A session in Redis, PostgreSQL or an SQLite file outlives the demo process: stop it, start
/// it again, still logged in.
#[tokio::test]
async fn a_stored_session_survives_a_restart_of_the_demo() {
    let redis = servers::start(servers::Kind::Redis);
    let postgres = servers::start_postgres();
    let sqlite = tempfile::tempdir().expect("a temporary directory");
    let mut stores: Vec<String> = redis
        .as_ref()
        .map(servers::Server::url)
        .into_iter()
        .collect();
    stores.extend(postgres.as_ref().map(servers::Postgres::url));
    stores.push(format!(
        "sqlite://{}",
        sqlite.path().join("sessions.db").display()
    ));
    let keys = keys();
    for store in &stores {
        for (name, binary) in DEMOS {
            let port = free_port();
            let demo = start_with(name, binary, &keys, store, port);
            let cookie = log_in(&demo).await;
            drop(demo);
            let again = start_with(name, binary, &keys, store, port);
            let me = call(&again, "GET", "/api/me", Some(&cookie), None).await;
            assert_eq!(me.status, StatusCode::OK, "{name} on {store}: {}", me.body);
            assert_eq!(me.json()["user"], "alice", "{name} on {store}");
        }
    }
}

/// The contract of DESIGN.md; `stored`: sessions live in a server-side store.
async fn contract(demo: &Demo, stored: bool) {
    let name = demo.name;
    {
        let home = call(demo, "GET", "/", None, None).await;
        assert_eq!(home.status, StatusCode::OK, "{name}");
        assert!(
            home.body.contains("id=\"login-form\""),
            "{name}: login form"
        );
        assert!(
            home.set_cookie.is_none(),
            "{name}: anonymous page sets no cookie"
        );

        let wrong = call(
            demo,
            "POST",
            "/login",
            None,
            Some("username=alice&password=nope"),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(wrong.body.contains("Wrong user name or password"), "{name}");
        assert!(wrong.set_cookie.is_none(), "{name}: nobody logged in");

        let cookie = log_in(demo).await;
        let first = call(demo, "GET", "/api/me", Some(&cookie), None).await;
        assert_eq!(first.status, StatusCode::OK, "{name}");
        assert_eq!(
            first.json(),
            json!({"user": "alice", "visits": 1, "flash": "Welcome, alice", "sudo": true}),
            "{name}"
        );
        let cookie = first.cookie_or(&cookie);
        let second = call(demo, "GET", "/api/me", Some(&cookie), None).await;
        assert_eq!(
            second.json(),
            json!({"user": "alice", "visits": 2, "flash": null, "sudo": true}),
            "{name}"
        );
        let cookie = second.cookie_or(&cookie);

        let peek = call(demo, "GET", "/api/peek", Some(&cookie), None).await;
        assert_eq!(
            (peek.status, peek.json()),
            (StatusCode::OK, json!({"user": "alice"})),
            "{name}"
        );
        assert!(
            peek.set_cookie.is_none(),
            "{name}: peek sends no Set-Cookie"
        );
        assert_eq!(
            (peek.cache_control.as_deref(), peek.vary.as_deref()),
            (Some("private"), Some("Cookie")),
            "{name}: a personalised answer is private and varies by cookie"
        );

        // HEAD is served like GET (actix-web needs the demo's `get_or_head()` for it).
        let head = call(demo, "HEAD", "/api/peek", Some(&cookie), None).await;
        assert_eq!(head.status, StatusCode::OK, "{name}: HEAD /api/peek");

        let page = call(demo, "GET", "/", Some(&cookie), None).await;
        assert!(
            page.body.contains("Hello, alice") && page.body.contains("id=\"logout\""),
            "{name}"
        );

        for anonymous in [
            None,
            Some(format!("{cookie}x")),
            Some("session=garbage".to_owned()),
        ] {
            let me = call(demo, "GET", "/api/me", anonymous.as_deref(), None).await;
            assert_eq!(
                (me.status, me.json()),
                (StatusCode::UNAUTHORIZED, json!({"user": null})),
                "{name}"
            );
            let peek = call(demo, "GET", "/api/peek", anonymous.as_deref(), None).await;
            assert_eq!(peek.status, StatusCode::UNAUTHORIZED, "{name}");
        }

        // Cross-site posts (login CSRF, forged logout) are refused and change nothing;
        // a browser's same-origin post is served.
        let login = "username=alice&password=wonderland";
        for headers in [
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.example"),
            ][..],
            &[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://sub.evil.example"),
            ],
            &[("origin", "https://evil.example")],
        ] {
            let forged = call_with(demo, "POST", "/login", None, Some(login), headers).await;
            assert_eq!(forged.status, StatusCode::FORBIDDEN, "{name}: {headers:?}");
            assert!(
                forged.body.contains("cross-origin request refused") && forged.set_cookie.is_none(),
                "{name}: {}",
                forged.body
            );
            let forged = call_with(demo, "POST", "/logout", Some(&cookie), None, headers).await;
            assert_eq!(forged.status, StatusCode::FORBIDDEN, "{name}: {headers:?}");
            let alive = call(demo, "GET", "/api/peek", Some(&cookie), None).await;
            assert_eq!(
                alive.status,
                StatusCode::OK,
                "{name}: the forged logout changed nothing"
            );
        }
        let same_origin = [
            ("sec-fetch-site", "same-origin"),
            ("origin", demo.base.as_str()),
        ];
        let browser = call_with(demo, "POST", "/login", None, Some(login), &same_origin).await;
        assert_eq!(
            browser.status,
            StatusCode::SEE_OTHER,
            "{name}: a same-origin login"
        );

        let logout = call(demo, "POST", "/logout", Some(&cookie), None).await;
        assert_eq!(
            (logout.status, logout.location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/")),
            "{name}"
        );
        assert!(
            logout
                .set_cookie
                .as_deref()
                .is_some_and(|c| c.contains("Max-Age=0")),
            "{name}: removal cookie"
        );
        if stored {
            let replay = call(demo, "GET", "/api/me", Some(&cookie), None).await;
            assert_eq!(
                replay.status,
                StatusCode::UNAUTHORIZED,
                "{name}: a cookie copied before logout is refused"
            );
        }
    }
    remember_me(demo).await;
    devices_and_password(demo, stored).await;
}

/// `remember=on` gives a persistent cookie, at most the absolute timeout; without it, a
/// browser-session cookie.
async fn remember_me(demo: &Demo) {
    let name = demo.name;
    let plain = call(
        demo,
        "POST",
        "/login",
        None,
        Some("username=alice&password=wonderland"),
    )
    .await;
    let header = plain.set_cookie.as_deref().expect("a login cookie");
    assert!(
        !header.contains("Max-Age") && !header.contains("Expires"),
        "{name}: a browser-session cookie: {header}"
    );
    let remembered = call(
        demo,
        "POST",
        "/login",
        None,
        Some("username=alice&password=wonderland&remember=on"),
    )
    .await;
    assert_eq!(remembered.status, StatusCode::SEE_OTHER, "{name}");
    let header = remembered.set_cookie.as_deref().expect("a login cookie");
    let max_age: i64 = header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Max-Age="))
        .unwrap_or_else(|| panic!("{name}: a persistent cookie: {header}"))
        .parse()
        .expect("seconds");
    assert!(
        (86_000..=86_400).contains(&max_age),
        "{name}: Max-Age up to the absolute timeout: {header}"
    );
    let me = call(demo, "GET", "/api/me", Some(&remembered.cookie()), None).await;
    assert_eq!(me.status, StatusCode::OK, "{name}");
}

/// `GET /api/sessions`, the devices page, "sign out all other devices" and `POST /password`.
/// Last in the contract: it changes alice's password in the demo process.
async fn devices_and_password(demo: &Demo, stored: bool) {
    let name = demo.name;
    let anonymous = call(demo, "GET", "/api/sessions", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{name}");
    assert_eq!(anonymous.json(), json!({ "user": null }), "{name}");

    let firefox = [(
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
    )];
    let login = |form: &'static str, headers: &'static [(&'static str, &'static str)]| async move {
        let reply = call_with(demo, "POST", "/login", None, Some(form), headers).await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{name}: {}",
            reply.body
        );
        reply.cookie()
    };
    let laptop = {
        let reply = call_with(
            demo,
            "POST",
            "/login",
            None,
            Some("username=alice&password=wonderland"),
            &firefox,
        )
        .await;
        reply.cookie()
    };
    let phone = login("username=alice&password=wonderland", &[]).await;

    let listed = call(demo, "GET", "/api/sessions", Some(&laptop), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{name}: {}", listed.body);
    let body = listed.json();
    let sessions = body["sessions"].as_array().expect("a list");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{name}: one current session: {body}");
    for session in sessions {
        assert!(
            session["created"]
                .as_i64()
                .is_some_and(|t| t > 1_700_000_000),
            "{name}: {body}"
        );
        assert!(
            session["last_active"].as_i64() >= session["created"].as_i64(),
            "{name}: {body}"
        );
    }
    if stored {
        // Every live session of alice's: the contract's earlier logins too.
        assert!(sessions.len() >= 2, "{name}: {body}");
        assert_eq!(
            current[0]["user_agent"], "Firefox on Linux",
            "{name}: {body}"
        );
    } else {
        assert_eq!(
            sessions.len(),
            1,
            "{name}: cookie mode knows only this one: {body}"
        );
        assert_eq!(current[0]["user_agent"], Value::Null, "{name}: {body}");
    }
    let page = call(demo, "GET", "/devices", Some(&laptop), None).await;
    assert_eq!(page.status, StatusCode::OK, "{name}");
    assert!(page.body.contains("Sign out all other devices"), "{name}");

    // "Sign out all other devices" from the laptop: the phone is signed out, the laptop not.
    let ended = call(
        demo,
        "POST",
        "/api/sessions/end-others",
        Some(&laptop),
        None,
    )
    .await;
    assert_eq!(ended.status, StatusCode::OK, "{name}: {}", ended.body);
    let laptop = ended.cookie_or(&laptop);
    if stored {
        assert!(
            ended.json()["ended"].as_u64().is_some_and(|n| n >= 1),
            "{name}: {}",
            ended.body
        );
        let left = call(demo, "GET", "/api/sessions", Some(&laptop), None).await;
        assert_eq!(
            left.json()["sessions"].as_array().map(Vec::len),
            Some(1),
            "{name}"
        );
    } else {
        assert_eq!(ended.json(), json!({ "ended": null }), "{name}");
    }
    let signed_out = call(demo, "GET", "/api/me", Some(&phone), None).await;
    assert_eq!(
        signed_out.status,
        StatusCode::UNAUTHORIZED,
        "{name}: the other device"
    );
    let still = call(demo, "GET", "/api/me", Some(&laptop), None).await;
    assert_eq!(still.status, StatusCode::OK, "{name}: this device goes on");
    let laptop = still.cookie_or(&laptop);

    // A password change: every other session of alice's is refused, this one goes on, and
    // only the new password signs in.
    let tablet = login("username=alice&password=wonderland", &[]).await;
    let changed = call(
        demo,
        "POST",
        "/password",
        Some(&laptop),
        Some("new_password=rabbit-hole"),
    )
    .await;
    assert_eq!(
        (changed.status, changed.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/")),
        "{name}: {}",
        changed.body
    );
    let laptop = changed.cookie_or(&laptop);
    let refused = call(demo, "GET", "/api/me", Some(&tablet), None).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{name}: signed in before the change"
    );
    let goes_on = call(demo, "GET", "/api/me", Some(&laptop), None).await;
    assert_eq!(
        goes_on.status,
        StatusCode::OK,
        "{name}: the session that changed it"
    );
    let old = call(
        demo,
        "POST",
        "/login",
        None,
        Some("username=alice&password=wonderland"),
    )
    .await;
    assert_eq!(
        old.status,
        StatusCode::UNAUTHORIZED,
        "{name}: the old password"
    );
    login("username=alice&password=rabbit-hole", &[]).await;
}

#[tokio::test]
async fn a_cookie_minted_by_one_demo_works_in_the_others() {
    let keys = keys();
    let demos: Vec<Demo> = DEMOS
        .iter()
        .map(|(name, binary)| start(name, binary, &keys))
        .collect();
    for minter in &demos {
        let cookie = log_in(minter).await;
        for reader in &demos {
            let peek = call(reader, "GET", "/api/peek", Some(&cookie), None).await;
            assert_eq!(
                peek.json(),
                json!({"user": "alice"}),
                "{} reads {}'s cookie",
                reader.name,
                minter.name
            );
        }
    }
}

#[test]
fn a_weak_or_malformed_key_stops_start_up_with_a_message() {
    for (name, binary) in DEMOS {
        for bad in ["k1:changeme", "not-a-key-list", "k1:c2hvcnQ"] {
            let output = exits_within(
                Command::new(binary)
                    .env("SESSION_KEYS", bad)
                    .env("PORT", free_port().to_string()),
                name,
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                !output.status.success(),
                "{name} started with SESSION_KEYS={bad}"
            );
            assert!(stderr.contains("SESSION_KEYS"), "{name}: {stderr}");
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        }
    }
}

/// Runs a demo that must refuse to start; a demo that starts anyway is killed after 30 s and
/// fails the test (instead of `.output()` waiting for it forever).
fn exits_within(command: &mut Command, name: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "{name} started instead of refusing: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// A store that cannot be reached stops start-up with a message naming the store and its
/// address, never its password.
#[test]
fn an_unreachable_store_stops_start_up_naming_it() {
    let port = free_port();
    let stores = [
        (format!("redis://:hunter2@127.0.0.1:{port}"), "Redis"),
        (format!("memcached://127.0.0.1:{port}"), "memcached"),
        (
            format!("postgres://app:hunter2@127.0.0.1:{port}/app"),
            "PostgreSQL",
        ),
    ];
    for (name, binary) in DEMOS {
        for (store, kind) in &stores {
            let output = exits_within(
                Command::new(binary)
                    .env("SESSION_KEYS", keys())
                    .env("SESSION_STORE", store)
                    .env("PORT", free_port().to_string()),
                name,
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{name} started with {store}");
            assert!(
                stderr.contains("SESSION_STORE")
                    && stderr.contains(&format!("{kind} session store at"))
                    && stderr.contains(&format!("127.0.0.1:{port}")),
                "{name}: {stderr}"
            );
            assert!(!stderr.contains("hunter2"), "{name}: {stderr}");
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        }
    }
}

#[test]
fn without_keys_the_demos_warn_about_the_ephemeral_key() {
    for (name, binary) in DEMOS {
        let mut child = Command::new(binary)
            .env_remove("SESSION_KEYS")
            .env("PORT", free_port().to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let line = stdout.lines().next().expect("a line").expect("utf8");
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            line.contains("ephemeral") && line.contains("SESSION_KEYS"),
            "{name}: {line}"
        );
    }
}

/// The README's axum program is `examples/examples/readme_axum.rs`, which the build compiles:
/// the README shows exactly that file.
#[test]
fn the_readme_program_is_the_compiled_example() {
    let readme = include_str!("../../README.md");
    let program = include_str!("../examples/readme_axum.rs");
    let first_block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust block in the README");
    assert_eq!(
        first_block, program,
        "README.md's first rust block and examples/examples/readme_axum.rs differ: copy one onto the other"
    );
}

/// `token` with its last byte (of the MAC) changed: it fails the signature.
fn flip_last_byte(token: &str) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = engine.decode(token).expect("base64url");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    engine.encode(bytes)
}

/// `GET /metrics`: the session metrics in Prometheus' text format, moved by what the demo
/// served (a login, a tampered cookie, a logout, and the store calls behind them).
#[tokio::test]
async fn every_demo_serves_its_session_metrics_in_prometheus_text_format() {
    let keys = keys();
    for (name, binary) in DEMOS {
        let demo = start_on_any_port(name, binary, &keys, "memory");
        let cookie = log_in(&demo).await;
        let me = call(&demo, "GET", "/api/me", Some(&cookie), None).await;
        assert_eq!(me.status, StatusCode::OK, "{name}");
        let token = cookie.strip_prefix("session=").expect("the session cookie");
        let tampered = format!("session={}", flip_last_byte(token));
        let refused = call(&demo, "GET", "/api/me", Some(&tampered), None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{name}");
        let logout = call(&demo, "POST", "/logout", Some(&cookie), None).await;
        assert_eq!(logout.status, StatusCode::SEE_OTHER, "{name}");

        let response = client()
            .get(format!("{}/metrics", demo.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ascii").to_owned());
        assert_eq!(
            content_type.as_deref(),
            Some("text/plain; version=0.0.4; charset=utf-8"),
            "{name}"
        );
        assert!(response.headers().get(SET_COOKIE).is_none(), "{name}");
        let body = response.text().await.expect("body");
        let lines: Vec<&str> = body.lines().collect();
        for expected in [
            "# TYPE session_created_total counter",
            "session_created_total 1",
            // `/api/me` and the logout.
            "session_loaded_total 2",
            "session_rejected_total{reason=\"bad_signature\"} 1",
            "session_ended_total{cause=\"logout\"} 1",
            "# TYPE session_store_seconds histogram",
            // The same two: a refused cookie never reaches the store.
            "session_store_seconds_count{op=\"load\"} 2",
            "session_store_seconds_count{op=\"delete\"} 1",
        ] {
            assert!(
                lines.contains(&expected),
                "{name}: no {expected:?} in\n{body}"
            );
        }
        assert!(
            !body.contains("session_store_errors_total"),
            "{name}: the memory store never fails\n{body}"
        );
    }
}
