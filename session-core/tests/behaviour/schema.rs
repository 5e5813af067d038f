//! Schema identity in the token: other names, unknown versions and changed fingerprints are
//! refused; a migration path upgrades older tokens.

use serde::{Deserialize, Serialize};
use session_core::__private::{DecodeEffects, FieldDeadlines, SchemaRef, decode_payload};
use session_core::rejection::SchemaMismatch;
use session_core::session::Reissue;
use session_core::{LoadStatus, Rejection, Schema, SessionData};

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
