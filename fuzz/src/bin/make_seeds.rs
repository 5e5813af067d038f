//! Writes the seed corpora under `fuzz/seeds/<target>/`: valid tokens, cookie headers, key
//! lists and store records made by this version of session-core, in each target's input
//! encoding. Run by `fuzz/run.sh seeds`; the output is committed and kept small.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use session_core::store::Fields;
use session_core::{SessionConfig, SessionManager};
use session_fuzz::reader::Writer;
use session_fuzz::{
    AppV1, Fixture, FuzzStore, KEY_K1, KEY_K2, NOW, block_on, bytes_of, clock, key_bytes, keyring,
    mint, sample_v1, sample_v2,
};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("seed dir");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

fn record_input(action: u8, fields: &Fields) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(action);
    for (name, value) in fields {
        w.bytes(name.as_bytes()).bytes(value);
    }
    w.out
}

fn main() {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let f = Fixture::get();

    // token
    let plain = f.cookie_token.clone();
    let encrypted = mint(&f.encrypted, sample_v2());
    let v1 = mint(&f.plain, sample_v1());
    let mut old_key = f.forge.split(&plain).expect("splits");
    old_key.key = 1;
    let old_key = f.forge.token(&old_key);
    for (name, token) in [
        ("text-v2", &plain),
        ("text-encrypted", &encrypted),
        ("text-v1", &v1),
        ("text-older-key", &old_key),
        ("text-store-id", &f.store_cookie),
    ] {
        write(&dir, "token", name, &[&[0u8], token.as_bytes()].concat());
    }
    for (name, token) in [
        ("signed-v2", &plain),
        ("signed-v1", &v1),
        ("signed-encrypted", &encrypted),
    ] {
        let parts = f.forge.split(token).expect("splits");
        let mut w = Writer::default();
        w.u8(if parts.nonce.is_some() { 2 } else { 1 })
            .u8(parts.key as u8)
            .bytes(&parts.header);
        if let Some(nonce) = parts.nonce {
            w.raw(&nonce);
        }
        w.raw(&parts.payload);
        write(&dir, "token", name, &w.out);
    }
    let raw = URL_SAFE_NO_PAD.decode(&plain).expect("base64");
    write(
        &dir,
        "token",
        "bytes-v2",
        &[&[3u8], raw.as_slice()].concat(),
    );

    // derive_decode: flags, version, noise, back, last-active, absolute/4, deadlines, payload
    let seed = |flags: u8, version: u8, back: u16, deadlines: &[(u8, u16)], payload: &[u8]| {
        let mut w = Writer::default();
        w.u8(flags)
            .u8(version)
            .u16(0)
            .u16(back)
            .u16(back)
            .u16(21_600);
        w.u8(deadlines.len() as u8);
        for (slot, offset) in deadlines {
            w.u8(*slot).u16(*offset);
        }
        w.raw(payload);
        w.out
    };
    let v2 = bytes_of(&sample_v2());
    let v1_payload = bytes_of(&sample_v1());
    for (name, input) in [
        ("v2", seed(0, 2, 0, &[(0, 300), (1, 3600)], &v2)),
        (
            "v2-encrypted-older-key",
            seed(3, 2, 0, &[(0, 300), (1, 3600)], &v2),
        ),
        (
            "v2-sudo-expired",
            seed(0, 2, 400, &[(0, 300), (1, 3600)], &v2),
        ),
        ("v1-migrates", seed(0, 1, 10, &[], &v1_payload)),
    ] {
        write(&dir, "derive_decode", name, &input);
    }

    // cookie_header: header values separated by `\n`
    let headers: [(&str, Vec<u8>); 5] = [
        (
            "one-header",
            format!("a=1; session={plain}; b=2").into_bytes(),
        ),
        (
            "non-utf8-neighbour",
            [b"other=caf\xe9\xff; session=".as_slice(), plain.as_bytes()].concat(),
        ),
        (
            "store-id",
            format!("session={}", f.store_cookie).into_bytes(),
        ),
        (
            "refused-then-valid",
            format!("session=garbage\nx=y; session={v1}").into_bytes(),
        ),
        ("no-session", b"theme=dark; lang=en".to_vec()),
    ];
    for (name, bytes) in headers {
        write(&dir, "cookie_header", name, &bytes);
    }

    // keyring
    let raw_key = key_bytes()[0].clone();
    for (name, bytes) in [
        ("two-keys", format!("k2:{KEY_K2},k1:{KEY_K1}").into_bytes()),
        (
            "file-with-comments",
            format!("# current first\nk2:{KEY_K2}\n  k1:{KEY_K1}  # retired\n").into_bytes(),
        ),
        (
            "standard-padded",
            format!("k2:{}", STANDARD.encode(&raw_key)).into_bytes(),
        ),
        ("placeholder", b"k1:changeme".to_vec()),
        ("one-key-text", KEY_K2.as_bytes().to_vec()),
        ("raw-bytes", raw_key),
    ] {
        write(&dir, "keyring", name, &bytes);
    }

    // store_record: the v2 record of the fixture, a v1 record (migrated), an expired field
    let v2_record = f.store_record.clone();
    let v1_store = Arc::new(FuzzStore::default());
    let v1_manager = SessionManager::new(
        SessionConfig::new(keyring())
            .clock(clock())
            .store(v1_store.clone()),
    )
    .expect("config");
    let mut handle = block_on(v1_manager.load::<AppV1>([])).expect("loads");
    *handle.data_mut() = sample_v1();
    block_on(v1_manager.save(&mut handle)).expect("saved");
    let v1_record = v1_store.record().expect("written");
    let mut expired = v2_record.clone();
    if expired.get("@deadline:0").is_some() {
        expired.insert(
            "@deadline:0",
            &postcard::to_allocvec(&(NOW - 1)).expect("i64"),
        );
    }
    for (name, input) in [
        ("v2", record_input(0, &v2_record)),
        ("v2-renew-user-flash", record_input(1 | 2 | 8, &v2_record)),
        ("v2-logout", record_input(4, &v2_record)),
        ("v2-sudo-expired", record_input(0, &expired)),
        ("v1-migrates", record_input(0, &v1_record)),
    ] {
        write(&dir, "store_record", name, &input);
    }
    println!("seeds written to {}", dir.display());
}
