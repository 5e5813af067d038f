//! What only a browser can prove, with a real headless Chromium driving `axum-demo`: the
//! Secure cookie is stored on http://localhost, HttpOnly keeps it out of `document.cookie`,
//! SameSite is Lax, a login form posted from another site is refused (the browser's Fetch
//! Metadata), the flash shows once, a reload stays logged in, logout forgets the user.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test explains what to install and passes, except under `CI=true`, where it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::Locator;
use fantoccini::{Client, ClientBuilder};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Kills a child process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn browser_available() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    let message = "browser test needs Chromium: apt-get install -y chromium chromium-driver";
    assert!(!session_testing::servers::in_ci(), "{message}");
    session_testing::servers::skipping(message);
    false
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// The text of `#id`, waiting for the page that has it (clicks return before navigation ends).
async fn text_of(client: &Client, id: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .text()
        .await
        .expect("text")
}

/// Clicks `#id` and waits until the page it was on is gone.
async fn click_and_wait(client: &Client, id: &str) {
    let element = client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    let old_body = client.find(Locator::Css("body")).await.expect("body");
    element.click().await.expect("click");
    let deadline = Instant::now() + Duration::from_secs(10);
    // A stale body element means the browser navigated to the response.
    while old_body.text().await.is_ok() {
        assert!(Instant::now() < deadline, "clicking #{id} did not navigate");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn has(client: &Client, id: &str) -> bool {
    !client
        .find_all(Locator::Id(id))
        .await
        .expect("query")
        .is_empty()
}

async fn log_in(client: &Client, password: &str) {
    client
        .find(Locator::Id("username"))
        .await
        .expect("username field")
        .send_keys("alice")
        .await
        .expect("type");
    client
        .find(Locator::Id("password"))
        .await
        .expect("password field")
        .send_keys(password)
        .await
        .expect("type");
    click_and_wait(client, "submit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_logs_in_keeps_the_session_and_logs_out() {
    if !browser_available() {
        return;
    }
    let app_port = free_port();
    let keys = format!("k1:{}", session_core::Key::generate().to_base64().as_str());
    let _app = Running(
        Command::new(env!("CARGO_BIN_EXE_axum-demo"))
            .env("PORT", app_port.to_string())
            .env("SESSION_KEYS", keys)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("axum-demo starts"),
    );
    let driver_port = free_port();
    let _driver = Running(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    wait_for_port(app_port).await;
    wait_for_port(driver_port).await;

    let profile = tempfile::tempdir().expect("profile dir");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=900,700",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("webdriver session");
    let home = format!("http://localhost:{app_port}/");

    // A wrong password: an error on the form, nobody logged in, no session cookie.
    client.goto(&home).await.expect("open home");
    log_in(&client, "not-the-password").await;
    assert!(
        text_of(&client, "error")
            .await
            .contains("Wrong user name or password")
    );
    assert!(has(&client, "login-form").await);

    // Login CSRF: a page of another site (an opaque data: origin) posts the login form with
    // the demo account. The browser marks the post cross-site; the demo refuses it, and the
    // browser holds no session afterwards.
    let forged = format!(
        "<form method=post action='{home}login'><input name=username value=alice>\
         <input name=password value=wonderland></form><script>document.forms[0].submit()</script>"
    );
    use base64::Engine as _;
    let forged = base64::engine::general_purpose::STANDARD.encode(forged);
    client
        .goto(&format!("data:text/html;base64,{forged}"))
        .await
        .expect("open the forging page");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = client.source().await.expect("page source");
        if page.contains("cross-origin request refused") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the forged login was not refused: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.goto(&home).await.expect("open home");
    assert!(
        has(&client, "login-form").await,
        "the forged login logged nobody in"
    );
    let cookies = client.get_all_cookies().await.expect("cookies");
    assert!(cookies.iter().all(|c| c.name() != "session"), "{cookies:?}");

    // Log in through the form.
    log_in(&client, "wonderland").await;
    assert_eq!(text_of(&client, "greeting").await, "Hello, alice");
    assert_eq!(text_of(&client, "flash").await, "Welcome, alice");
    assert_eq!(text_of(&client, "visits").await, "1");
    let shot = client.screenshot().await.expect("screenshot");
    std::fs::write(artifacts_dir().join("logged-in.png"), shot).expect("save screenshot");

    // The browser stored the Secure cookie on http://localhost with the right flags...
    let cookies = client.get_all_cookies().await.expect("cookies");
    let session = cookies
        .iter()
        .find(|c| c.name() == "session")
        .expect("session cookie stored");
    assert_eq!(session.http_only(), Some(true), "HttpOnly");
    assert_eq!(session.secure(), Some(true), "Secure");
    assert_eq!(session.same_site(), Some(cookie::SameSite::Lax), "SameSite");
    assert_eq!(session.path(), Some("/"));
    // ...and page scripts cannot read it.
    let visible = client
        .execute("return document.cookie", vec![])
        .await
        .expect("script");
    assert!(
        !visible.as_str().unwrap_or_default().contains("session="),
        "document.cookie = {visible}"
    );

    // Reload: still logged in, the flash is gone, the counter moved on.
    client.refresh().await.expect("reload");
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("visits"))
        .await
        .expect("page");
    assert_eq!(text_of(&client, "greeting").await, "Hello, alice");
    assert!(!has(&client, "flash").await, "the flash shows once");
    assert_eq!(text_of(&client, "visits").await, "2");

    // Log out: anonymous again, and the browser dropped the cookie.
    click_and_wait(&client, "logout").await;
    assert!(has(&client, "login-form").await);
    assert!(!has(&client, "greeting").await);
    let cookies = client.get_all_cookies().await.expect("cookies");
    assert!(
        cookies.iter().all(|c| c.name() != "session"),
        "removal cookie honoured"
    );

    client.close().await.expect("close browser");
}
