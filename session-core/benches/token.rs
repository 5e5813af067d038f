//! Encode+sign and verify+decode of a typical session and a ~3 KB one, signed and encrypted,
//! each beside the floor measured in the same run: HMAC-SHA256 + base64url over the same
//! serialized bytes (what a hand-rolled signed cookie costs).
//!
//! `cargo bench -p session-core --bench token`. Sizes are printed before the timings.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Large, Typical, large, typical};
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use session_core::{Key, Keyring, SessionConfig, SessionData, SessionManager};
use sha2::Sha256;

/// Polls a future once: in cookie mode the manager never waits.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("cookie mode never waits"),
    }
}

/// The floor starts from a pre-keyed HMAC state and clones it per token, as ours does, so the
/// ratio does not credit ours with skipping the two key-schedule SHA-256 blocks.
fn floor_sign(keyed: &Hmac<Sha256>, bytes: &[u8]) -> String {
    let mut mac = keyed.clone();
    mac.update(bytes);
    let tag = mac.finalize().into_bytes();
    let mut out = URL_SAFE_NO_PAD.encode(bytes);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut out);
    out
}

fn floor_verify(keyed: &Hmac<Sha256>, token: &str) -> bool {
    let (body, tag) = token.split_once('.').expect("floor token");
    let bytes = URL_SAFE_NO_PAD.decode(body).expect("b64");
    let tag = URL_SAFE_NO_PAD.decode(tag).expect("b64");
    let mut mac = keyed.clone();
    mac.update(&bytes);
    mac.verify_slice(&tag).is_ok()
}

trait Counter {
    fn counter(&mut self) -> &mut u64;
}
impl Counter for Typical {
    fn counter(&mut self) -> &mut u64 {
        &mut self.counter
    }
}
impl Counter for Large {
    fn counter(&mut self) -> &mut u64 {
        &mut self.base.counter
    }
}
fn bump<T: Counter>(value: &mut T) {
    *value.counter() = value.counter().wrapping_add(1) % 100;
}

/// Distinct tokens for the first-sight bench: sixteen per slot of the verified-token cache.
const FIRST_SIGHT_TOKENS: usize = 65_536;

fn bench_case<T: SessionData + Counter + Clone + PartialEq + std::fmt::Debug>(
    c: &mut Criterion,
    label: &str,
    value: &T,
    encrypt: bool,
) {
    let manager = SessionManager::new(
        SessionConfig::new(Keyring::new("k1", Key::generate()).expect("ring")).encrypt(encrypt),
    )
    .expect("config");
    let mode = if encrypt { "encrypted" } else { "signed" };

    // Encode + sign: a changed session saved to a Set-Cookie value.
    let mut handle = ready(manager.load::<T>([])).expect("cookie mode");
    *handle.data_mut() = value.clone();
    let header = format!(
        "session={}",
        ready(manager.save(&mut handle))
            .expect("save")
            .expect("changed")
            .value()
    );
    println!(
        "size {label}/{mode}: cookie value {} bytes",
        header.len() - "session=".len()
    );

    // A write request: the loaded session's counter goes up and a new token is sealed.
    let mut loaded = ready(manager.load::<T>([header.as_str()])).expect("cookie mode");
    c.bench_function(&format!("token/{label}/{mode}/encode+sign"), |b| {
        b.iter(|| {
            bump(loaded.data_mut());
            ready(manager.save(black_box(&mut loaded)))
                .expect("save")
                .expect("changed")
        })
    });
    c.bench_function(&format!("token/{label}/{mode}/verify+decode"), |b| {
        b.iter(|| {
            let handle =
                ready(manager.load::<T>([black_box(header.as_str())])).expect("cookie mode");
            debug_assert!(!handle.is_new());
            handle
        })
    });
    // The same on a token seen for the first time (a cache miss: base64, MAC check and, when
    // encrypted, decryption all run). Distinct tokens, many more than the verified-token cache
    // has slots, taken in turn: each one's slot has been taken by others since its last turn.
    // Tokens are deterministic (no nonce in signed mode), so each gets its own counter.
    let distinct: Vec<String> = (0..FIRST_SIGHT_TOKENS)
        .map(|i| {
            let mut fresh = ready(manager.load::<T>([])).expect("cookie mode");
            *fresh.data_mut() = value.clone();
            *fresh.data_mut().counter() = i as u64;
            let cookie = ready(manager.save(&mut fresh))
                .expect("save")
                .expect("changed");
            format!("session={}", cookie.value())
        })
        .collect();
    let unique: std::collections::HashSet<&String> = distinct.iter().collect();
    assert_eq!(
        unique.len(),
        distinct.len(),
        "first-sight tokens must all differ"
    );
    let mut turn = 0usize;
    c.bench_function(
        &format!("token/{label}/{mode}/verify+decode-first-sight"),
        |b| {
            b.iter(|| {
                turn = (turn + 1) % distinct.len();
                let handle = ready(manager.load::<T>([black_box(distinct[turn].as_str())]))
                    .expect("cookie mode");
                debug_assert!(!handle.is_new());
                handle
            })
        },
    );

    if !encrypt {
        // The floor over the same serialized bytes.
        let key = Key::generate().to_base64();
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any length");
        let payload = postcard::to_allocvec(value).expect("ser");
        let floor_token = floor_sign(&keyed, &payload);
        println!(
            "size {label}/floor: {} bytes (untruncated tag, no header)",
            floor_token.len()
        );
        c.bench_function(&format!("token/{label}/floor/hmac+base64url-sign"), |b| {
            b.iter(|| floor_sign(&keyed, black_box(&payload)))
        });
        c.bench_function(&format!("token/{label}/floor/base64url+hmac-verify"), |b| {
            b.iter(|| floor_verify(&keyed, black_box(&floor_token)))
        });
        // The serialization alone, for reading the encode ratio.
        c.bench_function(&format!("token/{label}/floor/serialize-only"), |b| {
            b.iter(|| postcard::to_allocvec(black_box(value)).expect("ser"))
        });
    }
}

fn tokens(c: &mut Criterion) {
    for encrypt in [false, true] {
        bench_case(c, "typical", &typical(), encrypt);
        bench_case(c, "1kb", &large(18), encrypt);
        bench_case(c, "3kb", &large(58), encrypt);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(40).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = tokens
}
criterion_main!(benches);
