//! Chooses the payload serializer: size and speed of candidate serde formats on the typical
//! session and a ~2 KB one, measured in one run. `cargo bench -p session-core --bench serializer`
//! prints the sizes first, then criterion's timings.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use common::{large, typical};
use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

type Enc<T> = fn(&T) -> Vec<u8>;
type Dec<T> = fn(&[u8]) -> T;

fn formats<T: Serialize + for<'de> Deserialize<'de>>() -> Vec<(&'static str, Enc<T>, Dec<T>)> {
    use bincode::Options as _;
    vec![
        (
            "postcard",
            |v| postcard::to_allocvec(v).expect("ser"),
            |b| postcard::from_bytes(b).expect("de"),
        ),
        (
            "rmp-serde",
            |v| rmp_serde::to_vec(v).expect("ser"),
            |b| rmp_serde::from_slice(b).expect("de"),
        ),
        (
            "bincode-varint",
            |v| bincode::DefaultOptions::new().serialize(v).expect("ser"),
            |b| bincode::DefaultOptions::new().deserialize(b).expect("de"),
        ),
        (
            "serde_json",
            |v| serde_json::to_vec(v).expect("ser"),
            |b| serde_json::from_slice(b).expect("de"),
        ),
    ]
}

fn bench_one<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
    c: &mut Criterion,
    label: &str,
    value: &T,
) {
    for (name, enc, dec) in formats::<T>() {
        let bytes = enc(value);
        assert_eq!(&dec(&bytes), value, "{name} round trip");
        println!("size {label} {name}: {} bytes", bytes.len());
        c.bench_function(&format!("serializer/{label}/{name}/encode"), |b| {
            b.iter(|| enc(black_box(value)))
        });
        c.bench_function(&format!("serializer/{label}/{name}/decode"), |b| {
            b.iter(|| dec(black_box(&bytes)))
        });
    }
}

fn serializers(c: &mut Criterion) {
    bench_one(c, "typical", &typical());
    bench_one(c, "large", &large(50));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = serializers
}
criterion_main!(benches);
