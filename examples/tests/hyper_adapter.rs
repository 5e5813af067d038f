//! The bare-hyper adapter of the adapter guide, over real HTTP on a loopback port.

use std::net::SocketAddr;

use examples::hyper_adapter::with_session;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use session_core::{Key, Keyring, Schema, SessionConfig, SessionData, SessionManager};

#[derive(Default, Serialize, Deserialize)]
struct Counter {
    count: u64,
}
impl SessionData for Counter {
    const SCHEMA: Schema = Schema {
        name: "counter",
        version: 1,
        fingerprint: 42,
    };
}

async fn start() -> SocketAddr {
    let keys = Keyring::new("k1", Key::generate()).expect("ring");
    let manager = SessionManager::new(SessionConfig::new(keys)).expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let manager = manager.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let manager = manager.clone();
                    async move {
                        let response = with_session::<Counter, _, _>(
                            &manager,
                            request,
                            |request, mut session| async move {
                                let body = match request.uri().path() {
                                    "/count" => {
                                        session.data_mut().count += 1;
                                        session.data().count.to_string()
                                    }
                                    "/logout" => {
                                        session.logout();
                                        "bye".to_owned()
                                    }
                                    _ => session.data().count.to_string(),
                                };
                                drop(session);
                                Response::new(Full::new(Bytes::from(body)))
                            },
                        )
                        .await;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_guide_adapter_keeps_a_session_across_requests() {
    let addr = start().await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");

    let first = client.get(url("/count")).send().await.expect("request");
    assert_eq!(first.status(), StatusCode::OK);
    let set_cookie = first.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("Secure"),
        "{set_cookie}"
    );
    assert_eq!(first.headers()["cache-control"], "no-store");
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    assert_eq!(first.text().await.expect("body"), "1");

    let second = client
        .get(url("/count"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(second.text().await.expect("body"), "2");

    let read = client
        .get(url("/read"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert!(
        read.headers().get("set-cookie").is_none(),
        "a read writes nothing"
    );
    assert_eq!(read.text().await.expect("body"), "1");

    let forged = format!("{cookie}x");
    let tampered = client
        .get(url("/read"))
        .header("cookie", forged)
        .send()
        .await
        .expect("request");
    assert_eq!(tampered.status(), StatusCode::OK);
    assert_eq!(
        tampered.text().await.expect("body"),
        "0",
        "a forged cookie is a fresh session"
    );

    let logout = client
        .get(url("/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
}

/// The guide adapter through the whole adapter conformance suite.
mod conformance {
    use examples::hyper_adapter::with_session;
    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;
    use session_core::adapter::{LentSession, RequestSession};
    use session_core::{SessionConfig, SessionManager};
    use session_testing::adapter::{ConformanceApp, ConformanceSession as S, TestServer, bind};

    struct Hyper;

    const NOT_INSTALLED: &str = "Session<{T}> needs its adapter: serve the route through `with_session::<{T}, _, _>(&manager, request, handler)`";

    fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    }

    fn route(request: &Request<Incoming>, session: &mut LentSession<S>) -> (StatusCode, String) {
        let path = request.uri().path();
        match (request.method().as_str(), path) {
            ("GET", "/fail") => {
                session.data_mut().counter += 1;
                return (StatusCode::INTERNAL_SERVER_ERROR, "failed".into());
            }
            ("GET", "/csrf") => return (StatusCode::OK, session.data_mut().csrf.issue()),
            ("POST", "/csrf") => {
                let token = request.headers().get("x-csrf-token");
                let token = token.and_then(|t| t.to_str().ok());
                return if token.is_some_and(|t| session.csrf.verify(t)) {
                    (StatusCode::OK, "ok".into())
                } else {
                    (StatusCode::FORBIDDEN, "bad token".into())
                };
            }
            _ => {}
        }
        let body = match path {
            "/write" => {
                session.data_mut().counter += 1;
                session.counter.to_string()
            }
            "/peek" => {
                session.leave_cookie_unchanged();
                session.counter.to_string()
            }
            "/logout" => {
                session.logout();
                "bye".into()
            }
            "/renew" => {
                session.renew();
                "renewed".into()
            }
            "/sudo/set" => {
                session.data_mut().sudo.set(true);
                "ok".into()
            }
            "/sudo" => session.sudo.get().copied().unwrap_or(false).to_string(),
            "/flash/set" => {
                session.data_mut().notice.set("hello".into());
                "ok".into()
            }
            "/flash" => session
                .data_mut()
                .notice
                .take()
                .unwrap_or_else(|| "none".into()),
            _ => session.counter.to_string(),
        };
        (StatusCode::OK, body)
    }

    async fn handle(
        manager: Option<SessionManager>,
        request: Request<Incoming>,
    ) -> Response<Full<Bytes>> {
        if request.uri().path() == "/untouched" {
            return text(StatusCode::OK, "ok".into());
        }
        let Some(manager) = manager else {
            let error = RequestSession::<S>::not_installed(NOT_INSTALLED);
            return text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string());
        };
        with_session::<S, _, _>(&manager, request, |request, mut session| async move {
            let (status, body) = route(&request, &mut session);
            text(status, body)
        })
        .await
    }

    impl ConformanceApp for Hyper {
        fn name(&self) -> &'static str {
            "hyper (the adapter guide's)"
        }
        fn missing_middleware_hint(&self) -> Option<&'static str> {
            Some("with_session::<ConformanceSession, _, _>")
        }
        fn start(&self, config: Option<SessionConfig>) -> TestServer {
            let manager = config.map(|config| {
                let manager = SessionManager::new(config).expect("config");
                // What `middleware!` does for the built-in adapters: one schema per cookie.
                manager
                    .claim_cookie::<S>()
                    .expect("the cookie is this app's");
                manager
            });
            let listener = bind();
            let addr = listener.local_addr().expect("addr");
            listener.set_nonblocking(true).expect("nonblocking");
            let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    loop {
                        let stream = tokio::select! {
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => stream,
                                Err(_) => return,
                            },
                            _ = &mut stop_rx => return,
                        };
                        let manager = manager.clone();
                        tokio::spawn(async move {
                            let service = service_fn(move |request| {
                                let manager = manager.clone();
                                async move {
                                    Ok::<_, std::convert::Infallible>(
                                        handle(manager, request).await,
                                    )
                                }
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                });
            });
            TestServer::new(addr, move || {
                let _ = stop_tx.send(());
            })
        }
    }

    #[test]
    fn the_guide_adapter_keeps_the_adapter_contract() {
        session_testing::adapter::run_suite(&Hyper);
    }
}
