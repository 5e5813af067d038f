//! The conformance app on salvo.

use salvo_core::conn::tcp::TcpAcceptor;
use salvo_core::{Depot, Request, Router, Server, handler};
use session_salvo::{SessionConfig, SessionDepotExt, SessionHandler, SessionRejection};

use session_testing::adapter::{ConformanceApp, ConformanceSession as S, TestServer, bind};

/// The conformance app on salvo.
pub(crate) struct Salvo;

impl ConformanceApp for Salvo {
    fn name(&self) -> &'static str {
        "salvo"
    }
    fn missing_middleware_hint(&self) -> Option<&'static str> {
        Some(".hoop(SessionHandler::<ConformanceSession>")
    }
    fn start(&self, config: Option<SessionConfig>) -> TestServer {
        match config {
            Some(config) => serve(
                Router::new()
                    .hoop(SessionHandler::<S>::new(config).expect("config"))
                    .push(routes()),
            ),
            None => serve(routes()),
        }
    }
}

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

#[handler]
async fn fail(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut salvo_core::Response,
) -> Answer<&'static str> {
    let mut s = depot.session::<S>(req).await?;
    s.counter += 1;
    res.status_code(salvo_core::http::StatusCode::INTERNAL_SERVER_ERROR);
    Ok("failed")
}
#[handler]
async fn csrf_issue(req: &mut Request, depot: &mut Depot) -> Answer<String> {
    let mut s = depot.session::<S>(req).await?;
    Ok(s.csrf.issue())
}
#[handler]
async fn csrf_verify(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut salvo_core::Response,
) -> Answer<&'static str> {
    let s = depot.session::<S>(req).await?;
    let token = req.header::<String>("x-csrf-token");
    if token.is_some_and(|t| s.csrf.verify(&t)) {
        Ok("ok")
    } else {
        res.status_code(salvo_core::http::StatusCode::FORBIDDEN);
        Ok("bad token")
    }
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
        .push(Router::with_path("fail").get(fail))
        .push(Router::with_path("csrf").get(csrf_issue).post(csrf_verify))
}

fn serve(router: Router) -> TestServer {
    let listener = bind();
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let acceptor = TcpAcceptor::try_from(listener).expect("acceptor");
            let server = Server::new(acceptor);
            tx.send(server.handle()).expect("handle");
            server.serve(router).await;
        });
    });
    let handle = rx.recv().expect("server started");
    TestServer::new(addr, move || handle.stop_graceful(None))
}
