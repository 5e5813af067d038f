//! Derive-generated decoding: a schema with two expiring fields, a flash field and a
//! `migrate_from` chain, fed payloads under headers the fuzzer shapes (schema name, version,
//! fingerprint, times, per-field deadlines), signed with a valid MAC by the forge.
//!
//! Input: flags byte (bit 0 older key, bit 1 encrypted, bit 2 another schema name, bit 3 a
//! fuzzed fingerprint), version byte (mod 4: 0 store id, 1, 2, 3 unknown), `u16` fingerprint
//! noise, `u16` seconds issued before now, `u16` last-active offset, `u16` absolute offset,
//! count byte (mod 4) of `(slot byte, u16 offset)` field deadlines, then the payload.
//!
//! Checked: a loaded session saves and loads back to the same data; a live expiring field's
//! deadline is in the future; a flash taken and saved is gone on the next load.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::SessionData;
use session_fuzz::forge::{FLAG_ENCRYPTED, Parts, WireHeader};
use session_fuzz::{
    AppV1, AppV2, Fixture, NOW, Reader, block_on, check_cookie_round_trip, is_loaded, load_value,
};

fuzz_target!(|data: &[u8]| {
    let f = Fixture::get();
    let mut r = Reader::new(data);
    let flags = r.u8();
    let version = u32::from(r.u8() % 4);
    let noise = u32::from(r.u16());
    let fingerprint = match version {
        1 => AppV1::SCHEMA.fingerprint,
        2 => AppV2::SCHEMA.fingerprint,
        0 => 0x5354_4f52,
        _ => 0,
    } ^ if flags & 8 != 0 { noise.max(1) } else { 0 };
    let back = u64::from(r.u16());
    let last_active_offset = u64::from(r.u16());
    let absolute_offset = u64::from(r.u16()) * 4;
    let count = r.u8() % 4;
    let field_offsets = (0..count)
        .map(|_| (r.u8() % 4, u64::from(r.u16())))
        .collect();
    let encrypted = flags & 2 != 0;
    let header = WireHeader {
        flags: if encrypted { FLAG_ENCRYPTED } else { 0 },
        purpose_tag: f.forge.purpose_tag(),
        schema_name: if flags & 4 != 0 { "other" } else { "app" }.into(),
        schema_version: version,
        fingerprint: fingerprint.to_le_bytes(),
        issued_at: (NOW as u64).saturating_sub(back),
        last_active_offset,
        absolute_offset,
        field_offsets,
    };
    let token = f.forge.token(&Parts {
        key: usize::from(flags & 1),
        header: header.encode(),
        nonce: encrypted.then_some([7u8; 12]),
        payload: r.rest().to_vec(),
    });

    let _ = load_value::<AppV1>(&f.plain, &token);
    let handle = load_value::<AppV2>(&f.plain, &token);
    if !is_loaded(&handle) {
        return;
    }
    let data = handle.data();
    for deadline in [data.sudo.expires_at(), data.cart.expires_at()]
        .into_iter()
        .flatten()
    {
        assert!(
            deadline.unix_timestamp() > NOW,
            "a live field past its deadline"
        );
    }
    assert!(
        data.sudo.is_set() == data.sudo.expires_at().is_some(),
        "sudo set without a deadline"
    );
    assert!(
        data.cart.is_set() == data.cart.expires_at().is_some(),
        "cart set without a deadline"
    );
    let had_notice = data.notice.is_set();
    check_cookie_round_trip(&f.plain, handle);

    if had_notice {
        let mut handle = load_value::<AppV2>(&f.plain, &token);
        assert!(handle.data_mut().notice.take().is_some());
        if let Ok(Some(set_cookie)) = block_on(f.plain.save(&mut handle)) {
            let next = load_value::<AppV2>(&f.plain, set_cookie.value());
            assert!(is_loaded(&next), "{:?}", next.status());
            assert!(!next.data().notice.is_set(), "a flash shown twice");
        }
    }
});
