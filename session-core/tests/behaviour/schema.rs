//! Schema identity in the token: other names, unknown versions and changed fingerprints are
//! refused; a migration path upgrades older tokens.

use serde::{Deserialize, Serialize};
use session_core::__private::{DecodeEffects, FieldDeadlines, SchemaRef, decode_payload};
use session_core::rejection::SchemaMismatch;
use session_core::session::Reissue;
use session_core::{LoadStatus, Rejection, Schema, SchemaPrefix, SessionConfig, SessionData};

use crate::support::*;

#[derive(Debug, Default, Serialize, Deserialize)]
struct CartV1 {
    items: Vec<u32>,
}
impl SessionData for CartV1 {
    const SCHEMA: Schema = Schema {
        name: "cart",
        version: 1,
        fingerprint: 0x0000_0001,
    };
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct CartV2 {
    items: Vec<u32>,
    coupon: Option<String>,
}
impl SessionData for CartV2 {
    const SCHEMA: Schema = Schema {
        name: "cart",
        version: 2,
        fingerprint: 0x0000_0002,
    };
    fn migrate(
        seen: SchemaRef<'_>,
        payload: &[u8],
        deadlines: &FieldDeadlines<'_>,
    ) -> Option<Result<(Self, DecodeEffects), Rejection>> {
        Some(
            decode_payload::<CartV1>(seen, payload, deadlines).map(|(old, effects)| {
                (
                    CartV2 {
                        items: old.items,
                        coupon: None,
                    },
                    effects,
                )
            }),
        )
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CartV2Reshaped {
    items: Vec<u64>,
}
impl SessionData for CartV2Reshaped {
    const SCHEMA: Schema = Schema {
        name: "cart",
        version: 2,
        fingerprint: 0x0000_00ff,
    };
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CartV3NoPath {
    items: Vec<u32>,
}
impl SessionData for CartV3NoPath {
    const SCHEMA: Schema = Schema {
        name: "cart",
        version: 3,
        fingerprint: 0x0000_0003,
    };
}

fn status<T: SessionData>(manager: &session_core::SessionManager, token: &str) -> LoadStatus {
    load::<T>(manager, &format!("session={token}"))
        .status()
        .clone()
}

#[test]
fn older_versions_migrate_and_are_reissued() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, CartV1 { items: vec![3, 4] });
    let mut handle = load::<CartV2>(&manager, &format!("session={token}"));
    assert_eq!(
        handle.data(),
        &CartV2 {
            items: vec![3, 4],
            coupon: None
        }
    );
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::Migrated)
        }
    );
    let set_cookie = save(&manager, &mut handle).expect("re-issued under v2");
    let info = manager.inspect(set_cookie.value()).expect("valid");
    assert_eq!(
        (info.schema_name.as_str(), info.schema_version),
        ("cart", 2)
    );
}

#[test]
fn versions_without_a_path_are_refused_with_the_version_seen() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, CartV1 { items: vec![1] });
    assert_eq!(
        status::<CartV3NoPath>(&manager, &token),
        LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Version {
            name: "cart",
            expected: 3,
            seen: 1
        }))
    );
    // A newer token meeting older code (a rolled-back deploy) is refused the same way.
    let newer = mint(
        &manager,
        CartV2 {
            items: vec![9],
            coupon: None,
        },
    );
    assert!(matches!(
        status::<CartV1>(&manager, &newer),
        LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Version {
            seen: 2,
            ..
        }))
    ));
}

#[test]
fn a_changed_struct_with_the_same_version_is_refused() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(
        &manager,
        CartV2 {
            items: vec![1],
            coupon: None,
        },
    );
    assert_eq!(
        status::<CartV2Reshaped>(&manager, &token),
        LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Fingerprint {
            name: "cart",
            version: 2,
            expected: 0xff,
            seen: 2
        }))
    );
}

#[test]
fn another_schema_name_is_refused() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, CartV1 { items: vec![9] });
    assert!(matches!(
        status::<Typical>(&manager, &token),
        LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Name {
            expected: "app",
            ..
        }))
    ));
}

/// `CartV2` with a field appended, implemented by hand: the same name and version, and
/// `CartV2`'s fingerprint listed as a prefix one field shorter.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct CartV2Appended {
    items: Vec<u32>,
    coupon: Option<String>,
    currency: String,
}
impl Default for CartV2Appended {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            coupon: None,
            currency: "EUR".into(),
        }
    }
}
impl SessionData for CartV2Appended {
    const SCHEMA: Schema = Schema {
        name: "cart",
        version: 2,
        fingerprint: 0x0000_0022,
    };
    const PREFIXES: &'static [SchemaPrefix] = &[SchemaPrefix {
        fingerprint: CartV2::SCHEMA.fingerprint,
        appended: 1,
    }];
}

/// A prefix list that claims more appended fields than the struct has.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CartV2BadPrefix {
    items: Vec<u32>,
    coupon: Option<String>,
}
impl SessionData for CartV2BadPrefix {
    const SCHEMA: Schema = Schema {
        name: "cart",
        version: 2,
        fingerprint: 0x0000_0023,
    };
    const PREFIXES: &'static [SchemaPrefix] = &[SchemaPrefix {
        fingerprint: CartV2::SCHEMA.fingerprint,
        appended: 3,
    }];
}

#[test]
fn a_token_of_a_listed_prefix_loads_with_the_appended_defaults_and_is_reissued() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(
        &manager,
        CartV2 {
            items: vec![5],
            coupon: Some("WINTER".into()),
        },
    );
    let mut handle = load::<CartV2Appended>(&manager, &format!("session={token}"));
    assert_eq!(
        handle.data(),
        &CartV2Appended {
            items: vec![5],
            coupon: Some("WINTER".into()),
            currency: "EUR".into(),
        },
        "the appended field comes from Default::default()"
    );
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::FieldsAppended)
        }
    );
    let set_cookie = save(&manager, &mut handle).expect("re-issued with the new fingerprint");
    let info = manager.inspect(set_cookie.value()).expect("valid");
    assert_eq!(info.fingerprint, CartV2Appended::SCHEMA.fingerprint);
    assert_eq!(
        load::<CartV2Appended>(&manager, &cookie_header(&set_cookie)).status(),
        &LoadStatus::Loaded { reissue: None }
    );
}

#[test]
fn a_prefix_that_does_not_fit_the_struct_is_undecodable_and_unlisted_ones_mismatch() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(
        &manager,
        CartV2 {
            items: vec![1],
            coupon: None,
        },
    );
    assert_eq!(
        status::<CartV2BadPrefix>(&manager, &token),
        LoadStatus::Rejected(Rejection::Undecodable)
    );
    // A rollback: the shorter struct does not know the longer one's fingerprint.
    let longer = mint(
        &manager,
        CartV2Appended {
            items: vec![1],
            ..CartV2Appended::default()
        },
    );
    assert_eq!(
        status::<CartV2>(&manager, &longer),
        LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Fingerprint {
            name: "cart",
            version: 2,
            expected: 0x02,
            seen: 0x22
        }))
    );
}

#[test]
fn decode_payload_appends_defaults_only_for_the_same_version() {
    let payload = postcard::to_allocvec(&CartV2 {
        items: vec![1, 2],
        coupon: None,
    })
    .expect("postcard");
    let deadlines = FieldDeadlines {
        deadlines: &[],
        now: 0,
    };
    let seen = SchemaRef {
        name: "cart",
        version: 2,
        fingerprint: CartV2::SCHEMA.fingerprint,
    };
    let (value, effects) =
        decode_payload::<CartV2Appended>(seen, &payload, &deadlines).expect("extended");
    assert_eq!(value.items, [1, 2]);
    assert_eq!(value.currency, "EUR");
    assert!(effects.fields_appended && !effects.migrated);
    let other_version = SchemaRef { version: 1, ..seen };
    assert!(matches!(
        decode_payload::<CartV2Appended>(other_version, &payload, &deadlines),
        Err(Rejection::SchemaMismatch(SchemaMismatch::Version {
            seen: 1,
            ..
        }))
    ));
}

#[test]
fn a_store_record_of_a_listed_prefix_loads_with_the_defaults_and_is_rewritten() {
    // The system clock: the store expires records by it.
    init_tracing();
    let config = SessionConfig::new(ring(&[("k1", &keys(1)[0])]));
    let store = std::sync::Arc::new(session_core::store::MemoryStore::new(100));
    let manager = manager_with(config.store(store));
    let mut first = run(manager.load::<CartV2>([])).expect("loads");
    first.data_mut().items = vec![8];
    let cookie = cookie_header(&save(&manager, &mut first).expect("a new record"));

    let mut handle = run(manager.load::<CartV2Appended>([cookie.as_str()])).expect("loads");
    assert_eq!(handle.data().items, [8]);
    assert_eq!(handle.data().currency, "EUR");
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::FieldsAppended)
        }
    );
    // The record is rewritten under the new fingerprint; the id cookie stays the same.
    assert!(save(&manager, &mut handle).is_none(), "no new cookie");
    assert_eq!(
        run(manager.load::<CartV2Appended>([cookie.as_str()]))
            .expect("loads")
            .status(),
        &LoadStatus::Loaded { reissue: None }
    );
    assert!(matches!(
        run(manager.load::<CartV2>([cookie.as_str()]))
            .expect("loads")
            .status(),
        LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Fingerprint {
            seen: 0x22,
            ..
        }))
    ));
}
