//! Rocket bench server: `rocket-bench <none|ours|ours-encrypted|private-cookies> <port>`.
//! Routes: `GET /init`, `GET /write` (counter + 1), `GET /read`. One worker thread.
//! Rocket's private cookies are encrypted (AES-256-GCM), so `ours-encrypted` is the
//! like-for-like comparison.

use bench::Typical;
use rocket::http::{Cookie, CookieJar};
use rocket::{Build, Rocket, get, routes};

mod none {
    use rocket::get;

    #[get("/init")]
    pub(crate) fn init() -> &'static str {
        "ok"
    }
    // The baseline answers like the session handlers, without a session.
    #[get("/write")]
    pub(crate) fn write() -> String {
        1u64.to_string()
    }
    #[get("/read")]
    pub(crate) fn read() -> String {
        String::from("alice")
    }
}

mod ours {
    use bench::Typical;
    use rocket::get;
    use session_rocket::Session;

    #[get("/init")]
    pub(crate) fn init(mut session: Session<Typical>) -> &'static str {
        *session = Typical::sample();
        "ok"
    }
    #[get("/write")]
    pub(crate) fn write(mut session: Session<Typical>) -> String {
        session.counter += 1;
        session.counter.to_string()
    }
    #[get("/read")]
    pub(crate) fn read(session: Session<Typical>) -> String {
        session.name.clone()
    }
}

// Rocket's private cookies take a string and leave the format to the application: JSON here is
// our choice (the run's table says so), not Rocket's.
fn load(jar: &CookieJar<'_>) -> Typical {
    jar.get_private("session")
        .and_then(|c| serde_json::from_str(c.value()).ok())
        .unwrap_or_default()
}
fn store(jar: &CookieJar<'_>, value: &Typical) {
    jar.add_private(
        Cookie::build(("session", serde_json::to_string(value).expect("serializes")))
            .http_only(true)
            .secure(true),
    );
}
#[get("/init")]
fn private_init(jar: &CookieJar<'_>) -> &'static str {
    store(jar, &Typical::sample());
    "ok"
}
#[get("/write")]
fn private_write(jar: &CookieJar<'_>) -> String {
    let mut value = load(jar);
    value.counter += 1;
    store(jar, &value);
    value.counter.to_string()
}
#[get("/read")]
fn private_read(jar: &CookieJar<'_>) -> String {
    load(jar).name
}

fn ours_rocket(config: rocket::Config, encrypt: bool) -> Rocket<Build> {
    let keys = session_core::Keyring::new("k1", session_core::Key::generate()).expect("ring");
    let fairing = session_rocket::SessionFairing::<Typical>::new(
        session_core::SessionConfig::new(keys).encrypt(encrypt),
    )
    .expect("config");
    rocket::custom(config)
        .mount("/", routes![ours::init, ours::write, ours::read])
        .attach(fairing)
}

fn main() {
    let (variant, port) = bench::args(&["none", "ours", "ours-encrypted", "private-cookies"]);
    let config = rocket::Config {
        port,
        workers: 1,
        log_level: rocket::config::LogLevel::Off,
        secret_key: rocket::config::SecretKey::from(&bench::PEER_KEY),
        ..rocket::Config::release_default()
    };
    let app = match variant.as_str() {
        "none" => rocket::custom(config).mount("/", routes![none::init, none::write, none::read]),
        "ours" => ours_rocket(config, false),
        "ours-encrypted" => ours_rocket(config, true),
        _ => rocket::custom(config).mount("/", routes![private_init, private_write, private_read]),
    };
    if let Err(error) = rocket::execute(app.launch()) {
        eprintln!("rocket-bench: {error}");
        std::process::exit(1);
    }
}
