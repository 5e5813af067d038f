//! Counts your visits in a signed, typed session cookie.
use axum::{Router, routing::get};
use serde::{Deserialize, Serialize};
use session_axum::{Keyring, Session, SessionConfig, SessionData, SessionLayer};

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app")]
struct AppSession {
    visits: u64,
}

async fn home(mut session: Session<AppSession>) -> String {
    session.visits += 1; // a change: the cookie is re-issued after the handler
    format!("visit {}", session.visits)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init(); // refused cookies and set-up warnings are tracing events
    let config = SessionConfig::new(Keyring::from_env("SESSION_KEYS")?);
    let app: Router = Router::new()
        .route("/", get(home))
        .layer(SessionLayer::<AppSession>::new(config)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
