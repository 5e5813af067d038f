//! [`RequestFacts`]: what core reads from a request's headers.

/// What core needs to know about a request, read from its headers.
///
/// ```
/// use session_core::adapter::RequestFacts;
///
/// // In an adapter: the method, the path, and a lookup of headers by lowercase name.
/// let headers = [("host", "shop.example.com"), ("x-forwarded-proto", "https")];
/// let facts = RequestFacts::new("POST", "/login", |name| {
///     headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes())
/// });
/// assert!(!facts.is_plain_http_from_remote_host());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    method: &'a str,
    path: &'a str,
    origin: Option<&'a [u8]>,
    sec_fetch_site: Option<&'a [u8]>,
    scheme: Option<&'a str>,
    host: Option<&'a [u8]>,
    forwarded_proto: Option<&'a [u8]>,
    forwarded: Option<&'a [u8]>,
}

impl<'a> RequestFacts<'a> {
    /// Reads the facts from the request's method (e.g. `POST`), its path (without the query)
    /// and its headers. `header` answers the first value of the header with the given
    /// lowercase name, as bytes, or `None` when the request has none. Core decides which
    /// headers it reads, so an adapter never needs to change when core reads one more.
    pub fn new(
        method: &'a str,
        path: &'a str,
        header: impl Fn(&'static str) -> Option<&'a [u8]>,
    ) -> Self {
        // Only state-changing requests need the cross-origin headers.
        let unsafe_method = is_unsafe_method(method);
        Self {
            method,
            path,
            origin: unsafe_method.then(|| header("origin")).flatten(),
            sec_fetch_site: unsafe_method.then(|| header("sec-fetch-site")).flatten(),
            scheme: None,
            host: header("host"),
            forwarded_proto: header("x-forwarded-proto"),
            forwarded: header("forwarded"),
        }
    }

    /// The URI scheme, when the request line or HTTP/2 `:scheme` carried one, or `"https"`
    /// when the server itself terminates TLS for this request.
    #[must_use]
    pub fn scheme(mut self, scheme: Option<&'a str>) -> Self {
        if scheme.is_some() {
            self.scheme = scheme;
        }
        self
    }

    /// The HTTP/2 `:authority` (or absolute-form request target authority), which takes the
    /// place of the `Host` header when present.
    #[must_use]
    pub fn authority(mut self, authority: Option<&'a str>) -> Self {
        if let Some(authority) = authority {
            self.host = Some(authority.as_bytes());
        }
        self
    }

    /// The request method.
    pub(crate) fn method(&self) -> &'a str {
        self.method
    }

    /// The request path, without the query.
    pub(crate) fn path(&self) -> &'a str {
        self.path
    }

    /// Whether the method may change state: anything but `GET`, `HEAD` and `OPTIONS`.
    pub(crate) fn is_unsafe_method(&self) -> bool {
        is_unsafe_method(self.method)
    }

    /// The `Origin` header (read for state-changing methods only).
    pub(crate) fn origin(&self) -> Option<&'a [u8]> {
        self.origin
    }

    /// The `Sec-Fetch-Site` header (read for state-changing methods only).
    pub(crate) fn sec_fetch_site(&self) -> Option<&'a [u8]> {
        self.sec_fetch_site
    }

    /// The `Host` header, or the `:authority` when the request carried one.
    pub(crate) fn host(&self) -> Option<&'a [u8]> {
        self.host
    }

    /// Whether the request looks like plain HTTP from a host other than localhost, with no
    /// sign that a proxy terminated TLS in front of the server: a `Secure` cookie sent in
    /// answer would be dropped by the browser.
    pub fn is_plain_http_from_remote_host(&self) -> bool {
        if self.scheme.is_some_and(|s| s.eq_ignore_ascii_case("https")) {
            return false;
        }
        if self
            .forwarded_proto
            .is_some_and(|p| p.trim_ascii().eq_ignore_ascii_case(b"https"))
        {
            return false;
        }
        if self.forwarded.is_some_and(|f| {
            f.windows(b"proto=https".len())
                .any(|w| w.eq_ignore_ascii_case(b"proto=https"))
        }) {
            return false;
        }
        let Some(host) = self.host.and_then(|h| std::str::from_utf8(h).ok()) else {
            return false;
        };
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        // Browsers treat http://localhost and loopback addresses as secure contexts.
        let subdomain_of_localhost = name.len() > ".localhost".len()
            && name.as_bytes()[name.len() - ".localhost".len()..]
                .eq_ignore_ascii_case(b".localhost");
        !(name.eq_ignore_ascii_case("localhost")
            || subdomain_of_localhost
            || name.starts_with("127.")
            || name == "::1")
    }
}

fn is_unsafe_method(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}
