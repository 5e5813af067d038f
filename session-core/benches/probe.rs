#![allow(missing_docs)]
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use session_core::token::{SealInput, TokenTimes};
use session_core::{Codec, CookieSettings, Key, Keyring, RotationPolicy, Schema};
use sha2::Sha256;
use std::hint::black_box;
fn probe(c: &mut Criterion) {
    let codec = Codec::new(
        &Keyring::new("k1", Key::generate()).unwrap(),
        "cookie=session;app=",
        RotationPolicy::default(),
        false,
    );
    let payload = vec![7u8; 56];
    let schema = Schema {
        name: "app",
        version: 1,
        fingerprint: 5,
    };
    let times = TokenTimes {
        issued_at: 1_800_000_000,
        last_active: 1_800_000_000,
        absolute_deadline: 1_800_086_400,
        field_deadlines: vec![],
    };
    let token = codec
        .seal(&SealInput {
            schema: &schema,
            times: &times,
            payload: &payload,
        })
        .unwrap();
    let header = format!("session={token}");
    c.bench_function("probe/codec-open", |b| {
        b.iter(|| {
            let mut buf = Vec::new();
            codec
                .open(black_box(&token), &mut buf)
                .map(|o| o.payload.len())
                .unwrap()
        })
    });
    let settings = CookieSettings::default();
    c.bench_function("probe/cookie-values-in", |b| {
        b.iter(|| settings.values_in([black_box(header.as_str())]).count())
    });
    let key = [9u8; 32];
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    c.bench_function("probe/hmac-new+81B", |b| {
        b.iter(|| {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
            m.update(black_box(&[1u8; 81]));
            m.finalize()
        })
    });
    c.bench_function("probe/hmac-clone+81B", |b| {
        b.iter(|| {
            let mut m = keyed.clone();
            m.update(black_box(&[1u8; 81]));
            m.finalize()
        })
    });
    c.bench_function("probe/b64-decode-130", |b| {
        b.iter(|| {
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                black_box(&token),
            )
            .unwrap()
        })
    });
    {
        let mut buf = vec![1u8; 60];
        {}
        c.bench_function("probe/getrandom-24B", |b| {
            b.iter(|| {
                let mut n = [0u8; 24];
                getrandom::getrandom(&mut n).unwrap();
                n
            })
        });
    }
    c.bench_function("probe/now_utc", |b| {
        b.iter(|| time::OffsetDateTime::now_utc())
    });
}
criterion_group! { name = benches; config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(200)).measurement_time(std::time::Duration::from_millis(800)); targets = probe }
criterion_main!(benches);
