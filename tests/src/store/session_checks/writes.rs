//! Writes: only an id in the cookie, only changed fields written, and concurrent requests (different fields, the same field, one session's many requests, many clients).

use session_core::time::Duration;
use session_core::{LoadStatus, SessionError};

use super::super::Start;
use super::super::fixture::{Deadline, Fx, Profile, Wide};
use crate::servers::runtime;

pub(super) fn round_trip_keeps_only_an_id_in_the_cookie(start: Start<'_>) {
    let fx = Fx::new(start);
    let mut handle = fx.load::<Profile>(None);
    assert!(
        fx.save(&mut handle).is_none(),
        "an empty session stores nothing"
    );
    assert!(fx.recording.take().is_empty());

    handle.data_mut().cart = (0..2000).collect();
    handle.data_mut().theme = "dark".repeat(500);
    let token = fx.save(&mut handle).expect("a new session sets the cookie");
    assert!(token.len() < 200, "only a signed id: {} bytes", token.len());
    let loaded = fx.load::<Profile>(Some(&token));
    assert_eq!(loaded.data().cart.len(), 2000);
    assert_eq!(loaded.data().theme.len(), 2000);
    assert!(matches!(
        loaded.status(),
        LoadStatus::Loaded { reissue: None }
    ));
}

pub(super) fn only_changed_fields_are_written(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let writes = fx.recording.take();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].0, "created");
    assert!(writes[0].1.contains(&"@meta".to_owned()) && writes[0].1.contains(&"cart".to_owned()));

    let mut read = fx.load::<Profile>(Some(&token));
    let _ = read.data().user.clone();
    assert_eq!(fx.save(&mut read), None);
    let mut same = fx.load::<Profile>(Some(&token));
    same.data_mut().theme = String::new(); // borrowed mutably, bytes unchanged
    assert_eq!(fx.save(&mut same), None);
    assert!(
        fx.recording.take().is_empty(),
        "reads and no-op writes touch nothing"
    );

    let mut change = fx.load::<Profile>(Some(&token));
    change.data_mut().theme = "dark".into();
    let _ = fx.recording.take_deadlines();
    assert_eq!(fx.save(&mut change), None, "the id cookie stays as it is");
    assert_eq!(
        fx.recording.take(),
        vec![(false, vec!["theme".to_owned()], vec![])]
    );
    assert_eq!(
        fx.recording.take_deadlines(),
        vec![],
        "a write before the refresh is due leaves the record's expiry"
    );

    fx.clock.advance(Duration::seconds(61));
    let mut refresh = fx.load::<Profile>(Some(&token));
    let refreshed = fx.save(&mut refresh).expect("the idle deadline is pushed");
    assert_ne!(refreshed, token);
    assert_eq!(
        fx.recording.take(),
        vec![(false, vec!["@active".to_owned()], vec![])],
        "a refresh pushes the record's expiry and records the last activity, nothing else"
    );
    assert!(
        fx.recording
            .take_deadlines()
            .iter()
            .any(|d| matches!(d, Deadline::Record(..))),
        "the refresh moves the record's expiry"
    );
    assert_eq!(fx.load::<Profile>(Some(&refreshed)).data().theme, "dark");
}

pub(super) fn concurrent_requests_changing_different_fields_both_survive(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let mut first = fx.load::<Profile>(Some(&token));
    let mut second = fx.load::<Profile>(Some(&token));
    first.data_mut().theme = "dark".into();
    second.data_mut().cart.push(42);
    // Both in flight at once on a real store.
    let (a, b) = runtime().block_on(async {
        tokio::join!(fx.manager.save(&mut first), fx.manager.save(&mut second))
    });
    a.expect("saved");
    b.expect("saved");
    let after = fx.load::<Profile>(Some(&token));
    assert_eq!(after.data().theme, "dark");
    assert_eq!(after.data().cart, vec![42]);
    assert_eq!(after.data().user.as_deref(), Some("alice"));
}

pub(super) fn concurrent_requests_changing_the_same_field_last_write_wins(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let mut first = fx.load::<Profile>(Some(&token));
    let mut second = fx.load::<Profile>(Some(&token));
    first.data_mut().cart.push(1);
    second.data_mut().cart.push(2);
    fx.save(&mut first);
    fx.save(&mut second);
    assert_eq!(
        fx.load::<Profile>(Some(&token)).data().cart,
        vec![2],
        "the whole field is replaced by the later write: no merge, no corruption"
    );
}

/// Many requests of one session at once, each changing a field of its own: every change
/// survives.
pub(super) fn many_requests_of_one_session_changing_different_fields_lose_nothing(
    start: Start<'_>,
) {
    const REQUESTS: usize = 16;
    let fx = Fx::new(start);
    let mut first = fx.load::<Wide>(None);
    first.data_mut().f0 = 1;
    let token = fx.save(&mut first).expect("a cookie");
    let header = format!("session={token}");
    let manager = &fx.manager;
    for round in 1..=5u32 {
        let results = runtime().block_on(async {
            // Every request loads before any saves, as concurrent requests do.
            let mut handles = Vec::new();
            for _ in 0..REQUESTS {
                handles.push(manager.load::<Wide>([header.as_str()]).await?);
            }
            let saves = handles
                .iter_mut()
                .enumerate()
                .map(|(i, handle)| async move {
                    *handle.data_mut().field(i) = round * 100 + u32::try_from(i).unwrap_or(0);
                    manager.save(handle).await
                });
            Ok::<_, SessionError>(futures_join_all(saves).await)
        });
        for result in results.expect("loaded") {
            result.expect("saved");
        }
        let mut after = fx.load::<Wide>(Some(&token));
        for i in 0..REQUESTS {
            assert_eq!(
                *after.data_mut().field(i),
                round * 100 + u32::try_from(i).unwrap_or(0),
                "round {round}: field {i} lost its change"
            );
        }
    }
}

/// Many sessions at once, each writing in turn: no request fails, no write is lost.
pub(super) fn many_concurrent_clients_lose_nothing(start: Start<'_>) {
    const CLIENTS: usize = 32;
    const WRITES: u32 = 20;
    let fx = Fx::new(start);
    let tokens: Vec<String> = (0..CLIENTS)
        .map(|i| fx.login(&format!("user{i}")))
        .collect();
    let manager = &fx.manager;
    let results = runtime().block_on(async {
        let clients = tokens.iter().map(|token| async move {
            let header = format!("session={token}");
            for i in 0..WRITES {
                let mut handle = manager.load::<Profile>([header.as_str()]).await?;
                handle.data_mut().cart.push(i);
                manager.save(&mut handle).await?;
            }
            Ok::<_, SessionError>(())
        });
        futures_join_all(clients).await
    });
    for result in results {
        result.expect("no request fails");
    }
    for token in &tokens {
        assert_eq!(
            fx.load::<Profile>(Some(token)).data().cart,
            (0..WRITES).collect::<Vec<_>>()
        );
    }
}

/// Runs every future at once on the current task and collects their outputs (the futures
/// borrow the fixture, so they cannot be spawned).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot
                && let std::task::Poll::Ready(value) = future.as_mut().poll(cx)
            {
                *output = Some(value);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
