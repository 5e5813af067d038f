//! A small blocking HTTP client for the suites: one request, reduced to what the checks look at.

/// One response.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
    /// The `Set-Cookie` header, if any (the suites' apps set at most one).
    pub set_cookie: Option<String>,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The `Vary` headers, joined with `, ` (`None` when there is none).
    pub vary: Option<String>,
}

impl Answer {
    /// The `name=value` pair of the `Set-Cookie`, to send back as a `Cookie` header.
    ///
    /// # Panics
    /// When the answer set no cookie.
    pub fn cookie(&self) -> String {
        let header = self.set_cookie.as_deref().expect("a Set-Cookie");
        header
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// The cookie this answer set, or `previous` when it set none (store mode writes the
    /// record, not the cookie).
    pub fn cookie_or(&self, previous: &str) -> String {
        match self.set_cookie {
            Some(_) => self.cookie(),
            None => previous.to_owned(),
        }
    }

    /// The token inside the `Set-Cookie`.
    pub fn token(&self) -> String {
        let cookie = self.cookie();
        cookie
            .split_once('=')
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    }
}

/// Sends `method path` to `base` (e.g. `http://127.0.0.1:8080`) with an optional `Cookie`
/// header, without following redirects.
///
/// # Panics
/// When the server cannot be reached or the answer is not text.
pub fn send(base: &str, method: &str, path: &str, cookie: Option<&str>) -> Answer {
    let cookies: Vec<&[u8]> = cookie.map(str::as_bytes).into_iter().collect();
    send_bytes(base, method, path, &cookies)
}

/// [`send`] with `Cookie` headers of raw bytes, one header each (they may hold bytes that are
/// not ASCII or not UTF-8, as a planted cookie can).
///
/// # Panics
/// When the server cannot be reached, the bytes cannot be a header value (control
/// characters), or the answer is not text.
pub fn send_bytes(base: &str, method: &str, path: &str, cookies: &[&[u8]]) -> Answer {
    send_with_headers(base, method, path, cookies, &[])
}

/// [`send`] with more headers (e.g. `Origin`, `Sec-Fetch-Site`, a CSRF token header), and
/// any method.
///
/// # Panics
/// As [`send_bytes`], and when `method` is not a method token.
pub fn send_with(
    base: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let cookies: Vec<&[u8]> = cookie.map(str::as_bytes).into_iter().collect();
    send_with_headers(base, method, path, &cookies, headers)
}

fn send_with_headers(
    base: &str,
    method: &str,
    path: &str,
    cookies: &[&[u8]],
    headers: &[(&str, &str)],
) -> Answer {
    let client = client();
    let url = format!("{base}{path}");
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = client.request(method.clone(), url);
    for cookie in cookies {
        let value = reqwest::header::HeaderValue::from_bytes(cookie).expect("a header value");
        request = request.header("cookie", value);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let set_cookie = header("set-cookie");
    let cache_control = header("cache-control");
    let vary: Vec<String> = response
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let vary = (!vary.is_empty()).then(|| vary.join(", "));
    let status = response.status().as_u16();
    Answer {
        status,
        body: response.text().expect("a text body"),
        set_cookie,
        cache_control,
        vary,
    }
}

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client")
    })
}
