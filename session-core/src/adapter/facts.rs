//! [`RequestFacts`]: what core reads from a request's headers.

/// What core needs to know about a request, read from its headers.
///
/// ```
/// use session_core::adapter::RequestFacts;
///
/// // In an adapter: look headers up by their lowercase name.
/// let headers = [("host", "shop.example.com"), ("x-forwarded-proto", "https")];
/// let facts = RequestFacts::from_headers(|name| {
///     headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes())
/// });
/// assert!(!facts.is_plain_http_from_remote_host());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    scheme: Option<&'a str>,
    host: Option<&'a [u8]>,
    forwarded_proto: Option<&'a [u8]>,
    forwarded: Option<&'a [u8]>,
}

impl<'a> RequestFacts<'a> {
    /// Reads the facts from the request's headers. `header` answers the first value of the
    /// header with the given lowercase name, as bytes, or `None` when the request has none.
    /// Core decides which headers it reads, so an adapter never needs to change when core
    /// reads one more.
    pub fn from_headers(header: impl Fn(&'static str) -> Option<&'a [u8]>) -> Self {
        Self {
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
            f.to_ascii_lowercase()
                .windows(b"proto=https".len())
                .any(|w| w == b"proto=https")
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
        !(name.eq_ignore_ascii_case("localhost")
            || name.to_ascii_lowercase().ends_with(".localhost")
            || name.starts_with("127.")
            || name == "::1")
    }
}
