//! A terminal walkthrough of session-core: what a browser and a server would exchange.
//!
//! `cargo run -p session-core --example walkthrough` (uses `SESSION_KEYS` when set, otherwise an
//! ephemeral development key, with a warning).

use serde::{Deserialize, Serialize};
use session_core::{
    Clock as _, Expiring, Flash, Key, Keyring, LoadStatus, ManualClock, SessionConfig, SessionData,
    SessionHandle, SessionManager,
};
use time::Duration;

/// The session of a small app: who is logged in, a flash notice, a 5-minute "sudo" flag.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "app")]
struct AppSession {
    user: Option<String>,
    visits: u64,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(flash)]
    notice: Flash<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .init();
    let keys = match Keyring::from_env("SESSION_KEYS") {
        Ok(keys) => keys,
        Err(session_core::KeyringError::MissingVar { .. }) => Keyring::ephemeral_for_development(),
        Err(other) => return Err(other.into()),
    };
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let config = SessionConfig::new(keys.clone()).clock(clock.clone());
    let server = SessionManager::new(config.clone())?;

    step("1. First visit: no cookie. The handler logs alice in.");
    let mut session: SessionHandle<AppSession> = run(server.load([]))?;
    session.renew();
    let data = session.data_mut();
    data.user = Some("alice".into());
    data.notice.set("Welcome, alice".into());
    data.sudo.set(true);
    let set_cookie = run(server.save(&mut session))?.expect("changed");
    println!("   Set-Cookie: {}", set_cookie.header_value());
    println!("   ({} bytes of cookie value)", set_cookie.value().len());
    let browser = format!("session={}", set_cookie.value());

    step("2. Next request: the browser sends the cookie back; the flash is read once.");
    let mut session: SessionHandle<AppSession> = run(server.load([browser.as_str()]))?;
    let data = session.data_mut();
    data.visits += 1;
    println!(
        "   user={:?} visits={} flash={:?} sudo={:?}",
        data.user,
        data.visits,
        data.notice.take(),
        data.sudo.get()
    );
    let browser = format!(
        "session={}",
        run(server.save(&mut session))?.expect("changed").value()
    );

    step("3. A read-only request sends no Set-Cookie.");
    let mut session: SessionHandle<AppSession> = run(server.load([browser.as_str()]))?;
    let flash = session.data().notice.peek().cloned();
    println!(
        "   flash now: {flash:?}; Set-Cookie: {:?}",
        run(server.save(&mut session))?
    );

    step("4. Someone edits the cookie: refused, logged once, anonymous session.");
    let mut forged = browser.clone();
    let last = forged.pop().expect("non-empty");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let session: SessionHandle<AppSession> = run(server.load([forged.as_str()]))?;
    println!(
        "   status: {:?}, user: {:?}",
        session.status(),
        session.data().user
    );

    step("5. Rotation: a new key signs, the old one still verifies; the cookie is re-issued.");
    let rotated = keys.rotated("k-new", Key::generate(), 1)?;
    let server = SessionManager::new(config.clone().with_keyring(rotated))?;
    let mut session: SessionHandle<AppSession> = run(server.load([browser.as_str()]))?;
    println!("   status: {:?}", session.status());
    let reissued = run(server.save(&mut session))?.expect("re-issued");
    println!(
        "   re-signed by: {}",
        server.inspect(reissued.value())?.key_id
    );
    let browser = format!("session={}", reissued.value());

    step("6. Six minutes later the sudo flag is gone; other data stays.");
    clock.advance(Duration::minutes(6));
    let session: SessionHandle<AppSession> = run(server.load([browser.as_str()]))?;
    println!(
        "   user={:?} sudo={:?}",
        session.data().user,
        session.data().sudo.get()
    );

    step("7. After 31 idle minutes the session is over (idle timeout, from inside the token).");
    clock.advance(Duration::minutes(31));
    let session: SessionHandle<AppSession> = run(server.load([browser.as_str()]))?;
    println!("   status: {:?} at {}", session.status(), clock.now());

    step("8. Logout sends a removal cookie.");
    clock.advance(Duration::minutes(-31));
    let mut session: SessionHandle<AppSession> = run(server.load([browser.as_str()]))?;
    session.logout();
    let removal = run(server.save(&mut session))?.expect("removal");
    println!("   Set-Cookie: {}", removal.header_value());
    assert!(matches!(session.status(), LoadStatus::Loaded { .. }));
    Ok(())
}

fn step(title: &str) {
    println!("\n{title}");
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    pollster::block_on(future)
}
