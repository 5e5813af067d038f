//! The `session` binary, run as a user would.

use std::process::{Command, Output};

use serde::{Deserialize, Serialize};
use session_core::{Keyring, Schema, SessionConfig, SessionData, SessionManager};

fn session(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_session"));
    command.args(args).env_remove("SESSION_KEYS");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf8")
}

fn keygen(id: &str) -> String {
    let output = session(&["keygen", "--id", id], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().to_owned()
}

#[test]
fn keygen_prints_an_entry_that_loads() {
    let entry = keygen("k7");
    assert!(entry.starts_with("k7:"), "{entry}");
    let ring = Keyring::parse("keygen", &entry).expect("loads");
    assert_eq!(ring.current_id().as_str(), "k7");
    assert_ne!(keygen("k7"), entry, "fresh randomness every time");
    let long = session(&["keygen", "--bytes", "64"], &[]);
    assert!(long.status.success());
    let short = session(&["keygen", "--bytes", "16"], &[]);
    assert!(!short.status.success());
    assert!(stderr(&short).contains("at least 32"), "{}", stderr(&short));
}

#[test]
fn check_key_accepts_good_keys_and_explains_refusals() {
    let entry = keygen("k1");
    let good = session(&["check-key", &entry], &[]);
    assert!(good.status.success(), "{}", stderr(&good));
    assert!(stdout(&good).contains("ok: 1 key(s)"), "{}", stdout(&good));

    let bare = entry.split_once(':').expect("entry").1;
    let good = session(&["check-key", bare], &[]);
    assert!(
        stdout(&good).contains("ok: a 32-byte key"),
        "{}",
        stdout(&good)
    );

    let bad = session(&["check-key", "changeme"], &[]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("placeholder") && stderr(&bad).contains("session keygen"),
        "{}",
        stderr(&bad)
    );

    let from_env = session(
        &["check-key", "--env", "MY_KEYS"],
        &[("MY_KEYS", "k1:your-very-secret-key")],
    );
    assert_eq!(from_env.status.code(), Some(1));
    assert!(
        stderr(&from_env).contains("MY_KEYS, entry 1"),
        "{}",
        stderr(&from_env)
    );

    let missing = session(&["check-key", "--env", "NOT_SET_ANYWHERE"], &[]);
    assert!(
        stderr(&missing).contains("NOT_SET_ANYWHERE is not set"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn rotate_puts_a_fresh_key_first_and_keeps_old_ones() {
    let keys = format!("{},{}", keygen("k2"), keygen("k1"));
    let output = session(
        &["rotate", "--env", "SESSION_KEYS"],
        &[("SESSION_KEYS", &keys)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let rotated = Keyring::parse("rotate", stdout(&output).trim()).expect("loads");
    let ids: Vec<_> = rotated.ids().map(|id| id.as_str().to_owned()).collect();
    assert_eq!(ids, ["k3", "k2", "k1"]);
    assert!(
        stdout(&output).trim().ends_with(&keys),
        "old keys kept verbatim"
    );

    let output = session(&["rotate", "--keep", "1"], &[("SESSION_KEYS", &keys)]);
    let rotated = Keyring::parse("rotate", stdout(&output).trim()).expect("loads");
    assert_eq!(
        rotated.ids().map(|id| id.as_str()).collect::<Vec<_>>(),
        ["k3", "k2"]
    );

    let missing = session(&["rotate"], &[]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("SESSION_KEYS is not set"),
        "{}",
        stderr(&missing)
    );
}

#[derive(Default, Serialize, Deserialize)]
struct Demo {
    user: String,
    visits: u64,
}
impl SessionData for Demo {
    const SCHEMA: Schema = Schema {
        name: "demo",
        version: 3,
        fingerprint: 0xdead_beef,
    };
}

fn mint(keys: &str) -> String {
    let manager = SessionManager::new(SessionConfig::new(
        Keyring::parse("test", keys).expect("keys"),
    ))
    .expect("config");
    pollster::block_on(async {
        let mut handle = manager
            .load::<Demo>([])
            .await
            .expect("cookie mode never fails");
        handle.data_mut().user = "alice".into();
        manager
            .save(&mut handle)
            .await
            .expect("saves")
            .expect("changed")
            .value()
            .to_owned()
    })
}

#[test]
fn inspect_shows_the_header_and_payload_of_a_valid_token() {
    let keys = keygen("k1");
    let token = mint(&keys);
    let output = session(&["inspect", &token], &[("SESSION_KEYS", &keys)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "signature:         valid",
        "key id:            k1 (current)",
        "demo v3 (fingerprint deadbeef)",
        "alice",
        "absolute deadline:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // A whole cookie pair is accepted too.
    let pair = session(
        &["inspect", &format!("session={token}")],
        &[("SESSION_KEYS", &keys)],
    );
    assert!(pair.status.success());
}

#[test]
fn inspect_names_the_exact_reason_for_a_bad_token() {
    let keys = keygen("k1");
    let token = mint(&keys);
    let mut tampered = token.clone();
    let last = tampered.pop().expect("non-empty");
    tampered.push(if last == 'A' { 'Q' } else { 'A' });
    let output = session(&["inspect", &tampered], &[("SESSION_KEYS", &keys)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("refused (bad_signature)"),
        "{}",
        stderr(&output)
    );

    let other = keygen("k9");
    let output = session(&["inspect", &token], &[("SESSION_KEYS", &other)]);
    assert!(
        stderr(&output).contains("refused (unknown_key)"),
        "{}",
        stderr(&output)
    );

    let output = session(
        &["inspect", "--purpose", "admin", &token],
        &[("SESSION_KEYS", &keys)],
    );
    assert!(
        stderr(&output).contains("refused (wrong_purpose)"),
        "{}",
        stderr(&output)
    );
}

/// `session inspect ... | head -1`: the reader closes the pipe early, which is not an error.
#[test]
fn inspect_into_a_closed_pipe_ends_quietly() {
    let keys = keygen("k1");
    let token = mint(&keys);
    let mut child = Command::new(env!("CARGO_BIN_EXE_session"))
        .args(["inspect", &token])
        .env("SESSION_KEYS", &keys)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take()); // the reader is gone before the first line
    let output = child.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
}
