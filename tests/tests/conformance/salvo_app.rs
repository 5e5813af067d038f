//! The conformance app on salvo.

use salvo_core::conn::TcpListener;
use salvo_core::{Depot, Listener, Request, Router, Server, handler};
use session_salvo::{SessionConfig, SessionDepotExt, SessionHandler, SessionRejection};

use crate::harness::{ConformanceSession as S, TestServer, free_port, wait_for};

pub(crate) const MISSING_LAYER_HINT: Option<&str> =
    Some(".hoop(SessionHandler::<ConformanceSession>");

type Answer<T> = Result<T, SessionRejection>;

#[handler]
async fn write(req: &mut Request, depot: &mut Depot) -> Answer<String> {
    let mut s = depot.session::<S>(req).await?;
    s.counter += 1;
    Ok(s.counter.to_string())
}
#[handler]
async fn read(req: &mut Request, depot: &mut Depot) -> Answer<String> {
    let s = depot.session::<S>(req).await?;
    Ok(s.counter.to_string())
}
#[handler]
async fn untouched() -> &'static str {
    "ok"
}
#[handler]
async fn peek(req: &mut Request, depot: &mut Depot) -> Answer<String> {
    let mut s = depot.session::<S>(req).await?;
    s.leave_cookie_unchanged();
    Ok(s.counter.to_string())
}
#[handler]
async fn logout(req: &mut Request, depot: &mut Depot) -> Answer<&'static str> {
    let mut s = depot.session::<S>(req).await?;
    s.logout();
    Ok("bye")
}
#[handler]
async fn renew(req: &mut Request, depot: &mut Depot) -> Answer<&'static str> {
    let mut s = depot.session::<S>(req).await?;
    s.renew();
    Ok("renewed")
}
#[handler]
async fn sudo_set(req: &mut Request, depot: &mut Depot) -> Answer<&'static str> {
    let mut s = depot.session::<S>(req).await?;
    s.sudo.set(true);
    Ok("ok")
}
#[handler]
async fn sudo(req: &mut Request, depot: &mut Depot) -> Answer<String> {
    let s = depot.session::<S>(req).await?;
    Ok(s.sudo.get().copied().unwrap_or(false).to_string())
}
#[handler]
async fn flash_set(req: &mut Request, depot: &mut Depot) -> Answer<&'static str> {
    let mut s = depot.session::<S>(req).await?;
    s.notice.set("hello".into());
    Ok("ok")
}
#[handler]
async fn flash(req: &mut Request, depot: &mut Depot) -> Answer<String> {
    let mut s = depot.session::<S>(req).await?;
    Ok(s.notice.take().unwrap_or_else(|| "none".into()))
}

fn routes() -> Router {
    Router::new()
        .push(Router::with_path("write").get(write))
        .push(Router::with_path("read").get(read))
        .push(Router::with_path("untouched").get(untouched))
        .push(Router::with_path("peek").get(peek))
        .push(Router::with_path("logout").post(logout))
        .push(Router::with_path("renew").post(renew))
        .push(Router::with_path("sudo/set").get(sudo_set))
        .push(Router::with_path("sudo").get(sudo))
        .push(Router::with_path("flash/set").get(flash_set))
        .push(Router::with_path("flash").get(flash))
}

fn serve(router: Router) -> TestServer {
    let port = free_port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let acceptor = TcpListener::new(("127.0.0.1", port))
                .try_bind()
                .await
                .expect("bind");
            let server = Server::new(acceptor);
            tx.send(server.handle()).expect("handle");
            server.serve(router).await;
        });
    });
    let handle = rx.recv().expect("server started");
    wait_for(port);
    TestServer {
        base: format!("http://127.0.0.1:{port}"),
        stop: Some(Box::new(move || handle.stop_graceful(None))),
    }
}

pub(crate) fn start(config: SessionConfig) -> TestServer {
    serve(
        Router::new()
            .hoop(SessionHandler::<S>::new(config).expect("config"))
            .push(routes()),
    )
}

pub(crate) fn start_without_layer(_config: SessionConfig) -> TestServer {
    serve(routes())
}
