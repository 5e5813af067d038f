//! Store record decoding: a store-mode session loaded from whatever fields the store answers
//! (`@meta`, one field per struct field, `@deadline:<slot>`), then changed and saved back.
//!
//! Input: an action byte (bit 0 renew, bit 1 attach a user, bit 2 log out, bit 3 take the
//! flash), then up to 16 fields, each a `bytes` name (lossy UTF-8) and a `bytes` value (a repeated
//! name is dropped: records are maps).
//!
//! Checked: a loaded record saves without error, and the record as the writes left it loads
//! back to the data that was saved (after a logout: to no session).
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::store::Fields;
use session_core::{LoadStatus, Rejection};
use session_fuzz::{AppV1, AppV2, Fixture, Reader, block_on, bytes_of, is_loaded, load_value};

fuzz_target!(|data: &[u8]| {
    let f = Fixture::get();
    let mut r = Reader::new(data);
    let action = r.u8();
    let mut fields = Fields::new();
    while !r.is_empty() && fields.len() < 16 {
        let name = String::from_utf8_lossy(r.bytes()).into_owned();
        let value = r.bytes().to_vec();
        // A record is a map: a store never answers two fields of one name.
        if fields.get(&name).is_none() {
            fields.insert(&name, &value);
        }
    }
    f.store.put(Some(fields.clone()));
    let _ = load_value::<AppV1>(&f.stored, &f.store_cookie);
    let mut handle = load_value::<AppV2>(&f.stored, &f.store_cookie);
    if !is_loaded(&handle) {
        return;
    }
    let data = handle.data_mut();
    data.visits = data.visits.wrapping_add(1);
    if action & 8 != 0 {
        let _ = data.notice.take();
    }
    if action & 1 != 0 {
        handle.renew();
    }
    if action & 2 != 0 {
        handle.set_user_key("user-1").expect("store mode");
    }
    if action & 4 != 0 {
        handle.logout();
    }
    let saved = bytes_of(handle.data());
    let set_cookie = block_on(f.stored.save(&mut handle)).expect("the fuzz store never fails");
    let cookie = match &set_cookie {
        Some(c) if c.is_removal() => {
            let again = load_value::<AppV2>(&f.stored, &f.store_cookie);
            assert_eq!(
                again.status(),
                &LoadStatus::Rejected(Rejection::UnknownSession)
            );
            return;
        }
        Some(c) => c.value().to_owned(),
        None => f.store_cookie.clone(),
    };
    let again = load_value::<AppV2>(&f.stored, &cookie);
    assert!(
        is_loaded(&again),
        "a record just written does not load: {:?}\nbefore: {fields:?}\nafter: {:?}",
        again.status(),
        f.store.record()
    );
    assert_eq!(
        bytes_of(again.data()),
        saved,
        "a record just written loads back to other data\nbefore: {fields:?}\nafter: {:?}",
        f.store.record()
    );
});
