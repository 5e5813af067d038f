//! Cross-origin request protection (CSRF): refuses state-changing requests that a browser
//! sent from another site, before the handler runs.
//!
//! The scheme is Go 1.25's `net/http.CrossOriginProtection` (also tower-http's `csrf` layer):
//!
//! 1. `GET`, `HEAD` and `OPTIONS` always pass: they must not change state.
//! 2. When the browser sends Fetch Metadata, `Sec-Fetch-Site: same-origin` or `none` (typed in
//!    the address bar, a bookmark) passes; any other value (`same-site`, `cross-site`) is
//!    refused unless the `Origin` is trusted or the path is exempt.
//! 3. Without `Sec-Fetch-Site` (browsers before 2023), an `Origin` whose host is the request's
//!    `Host` passes; another `Origin` (including `null`) is refused unless trusted or exempt.
//! 4. A request with neither header is not from a browser (curl, a script, a server-to-server
//!    call), or from a browser old enough to send neither on same-origin requests: it passes.
//!
//! One implementation, in core, serves every adapter, so the three frameworks refuse exactly
//! the same requests with the same status, body and log event, configured in one place.

use crate::adapter::{Failure, RequestFacts};
use crate::error::ConfigError;

/// The body of the `403` for a request the browser marked as sent from another site.
const REFUSED_FETCH_METADATA: &str = "cross-origin request refused: the browser marked it as sent from another site (Sec-Fetch-Site), and this site does not accept state-changing requests from other sites";
/// The body of the `403` for a request whose `Origin` is another site.
const REFUSED_ORIGIN: &str = "cross-origin request refused: its Origin is another site than this one, and this site does not accept state-changing requests from other sites";

/// Cross-origin request protection for state-changing requests: on by default.
///
/// Every request that is not `GET`, `HEAD` or `OPTIONS` and that a browser sent from another
/// origin is answered `403 Forbidden` before the handler runs, with one `warn` event (target
/// `session`) naming the reason. Browsers say where a request comes from with the
/// `Sec-Fetch-Site` header (all current browsers) or, failing that, the `Origin` header;
/// requests without either are not from a browser and pass, so API clients keep working.
/// This stops login CSRF and forged posts, also from sibling subdomains and where
/// `SameSite=Lax` does not apply.
///
/// ```
/// use session_core::{CrossOriginProtection, Keyring, SessionConfig, SessionManager};
///
/// let config = SessionConfig::new(Keyring::ephemeral_for_development()).cross_origin(
///     CrossOriginProtection::new()
///         // A separate front end that posts to this API.
///         .trust_origin("https://app.example.com")
///         // A payment provider's webhooks (authenticate them another way).
///         .exempt_path("/webhooks/"),
/// );
/// let manager = SessionManager::new(config)?;
/// # Ok::<(), session_core::ConfigError>(())
/// ```
///
/// Behind a proxy that rewrites `Host`, browsers without Fetch Metadata are compared against
/// the rewritten host: trust the public origin with [`trust_origin`](Self::trust_origin).
/// For browsers that send neither header, add a synchronizer token
/// ([`CsrfToken`](crate::CsrfToken)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossOriginProtection {
    enabled: bool,
    trusted_origins: Vec<String>,
    exempt_paths: Vec<String>,
}

impl Default for CrossOriginProtection {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `Sec-Fetch-Site` was `same-site`, `cross-site` or another value than `same-origin` or
    /// `none`.
    FetchMetadata,
    /// No `Sec-Fetch-Site`, and the `Origin` is not the request's host.
    Origin,
}

impl Refusal {
    /// The response that replaces the handler's.
    pub(crate) fn failure(self) -> Failure {
        Failure {
            status: 403,
            body: match self {
                Self::FetchMetadata => REFUSED_FETCH_METADATA,
                Self::Origin => REFUSED_ORIGIN,
            },
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::FetchMetadata => "Sec-Fetch-Site says another site sent it",
            Self::Origin => "its Origin is not this host",
        }
    }
}

impl CrossOriginProtection {
    /// The protection, on, with no trusted origin and no exempt path (the default).
    pub fn new() -> Self {
        Self {
            enabled: true,
            trusted_origins: Vec::new(),
            exempt_paths: Vec::new(),
        }
    }

    /// No protection: every request reaches its handler. For an application that already
    /// runs its own cross-origin check in front of the session middleware.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::new()
        }
    }

    /// Accepts state-changing requests from `origin`, written as a browser sends it:
    /// `scheme://host` or `scheme://host:port`, without a path (e.g.
    /// `https://app.example.com`). Checked by [`SessionManager::new`](crate::SessionManager::new).
    pub fn trust_origin(mut self, origin: impl Into<String>) -> Self {
        let mut origin = origin.into();
        origin.make_ascii_lowercase();
        self.trusted_origins.push(origin);
        self
    }

    /// Lets state-changing requests to `path` through unchecked: an exact path
    /// (`/webhooks/stripe`), or every path under a prefix when it ends with `/`
    /// (`/webhooks/`). A request path with `.` or `..` segments, `//`, a backslash or a
    /// percent-encoded dot or slash is never exempt, so a router that normalizes paths cannot
    /// be steered around the check. Checked by
    /// [`SessionManager::new`](crate::SessionManager::new).
    pub fn exempt_path(mut self, path: impl Into<String>) -> Self {
        self.exempt_paths.push(path.into());
        self
    }

    /// Whether the protection is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Checks the trusted origins and exempt paths.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for origin in &self.trusted_origins {
            if let Err(problem) = check_origin(origin) {
                return Err(ConfigError::InvalidTrustedOrigin {
                    origin: origin.clone(),
                    problem,
                });
            }
        }
        for path in &self.exempt_paths {
            if !path.starts_with('/') || !is_plain_path(path) {
                return Err(ConfigError::InvalidExemptPath { path: path.clone() });
            }
        }
        Ok(())
    }

    /// Decides on a request; logs one `warn` event when it refuses.
    pub(crate) fn check(&self, facts: &RequestFacts<'_>) -> Result<(), Refusal> {
        if !self.enabled || !facts.is_unsafe_method() {
            return Ok(());
        }
        let refusal = match facts.sec_fetch_site() {
            Some(site) if site == b"same-origin" || site == b"none" => return Ok(()),
            Some(_) => Refusal::FetchMetadata,
            None => match facts.origin() {
                None => return Ok(()),
                Some(origin) if origin_is_host(origin, facts.host()) => return Ok(()),
                Some(_) => Refusal::Origin,
            },
        };
        if self.is_exempt(facts) {
            return Ok(());
        }
        let shown = |value: Option<&[u8]>| {
            value.map(|v| {
                let text = String::from_utf8_lossy(&v[..v.len().min(200)]);
                text.into_owned()
            })
        };
        tracing::warn!(
            target: "session",
            reason = refusal.reason(),
            method = ?facts.method(),
            path = ?facts.path().get(..facts.path().len().min(200)).unwrap_or_default(),
            origin = ?shown(facts.origin()),
            sec_fetch_site = ?shown(facts.sec_fetch_site()),
            "cross-origin request refused (403)"
        );
        Err(refusal)
    }

    fn is_exempt(&self, facts: &RequestFacts<'_>) -> bool {
        if let Some(origin) = facts.origin()
            && self
                .trusted_origins
                .iter()
                .any(|trusted| trusted.as_bytes().eq_ignore_ascii_case(origin))
        {
            return true;
        }
        let path = facts.path();
        !self.exempt_paths.is_empty()
            && is_plain_path(path)
            && self.exempt_paths.iter().any(|exempt| {
                if exempt.ends_with('/') {
                    path.starts_with(exempt.as_str())
                } else {
                    path == exempt
                }
            })
    }
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (`host[:port]`, from `Host` or
/// `:authority`). As in Go, the scheme is not compared: the `Host` header has none.
fn origin_is_host(origin: &[u8], host: Option<&[u8]>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let Some(position) = origin.windows(3).position(|w| w == b"://") else {
        return false;
    };
    let origin_host = &origin[position + 3..];
    !origin_host.is_empty() && origin_host.eq_ignore_ascii_case(host.trim_ascii())
}

/// Whether a path has no segment a router might normalize into another path.
fn is_plain_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    !(path.contains("//")
        || path.contains('\\')
        || lower.contains("%2e")
        || lower.contains("%2f")
        || lower.contains("%5c")
        || path
            .split('/')
            .any(|segment| segment == "." || segment == ".."))
}

/// Checks a trusted origin's shape: `scheme://host[:port]`, nothing else.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err("it has no `scheme://`");
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err("its scheme is not a URL scheme");
    }
    if rest.is_empty() {
        return Err("it has no host");
    }
    if rest.contains(['/', '?', '#', '@']) {
        return Err(
            "an origin has no path, query, fragment or user (browsers send `scheme://host[:port]`)",
        );
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, after)) => (address, after.strip_prefix(':')),
            None => return Err("its IPv6 address has no closing `]`"),
        },
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    {
        return Err("its host is not a host name or address");
    }
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err("its port is not a number from 0 to 65535");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(method: &'a str, path: &'a str, headers: &'a [(&str, &str)]) -> RequestFacts<'a> {
        RequestFacts::new(method, path, |name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
        })
    }

    fn checked(
        protection: &CrossOriginProtection,
        facts: &RequestFacts<'_>,
    ) -> Result<(), Refusal> {
        protection.validate().expect("valid");
        protection.check(facts)
    }

    #[test]
    fn follows_fetch_metadata_then_origin_then_lets_non_browsers_through() {
        let on = CrossOriginProtection::new();
        let host = ("host", "shop.example");
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Result<(), Refusal>);
        let cases: &[Case<'_>] = &[
            ("GET", &[host, ("sec-fetch-site", "cross-site")], Ok(())),
            ("HEAD", &[host, ("sec-fetch-site", "cross-site")], Ok(())),
            (
                "OPTIONS",
                &[host, ("origin", "https://evil.example")],
                Ok(()),
            ),
            ("POST", &[host, ("sec-fetch-site", "same-origin")], Ok(())),
            ("POST", &[host, ("sec-fetch-site", "none")], Ok(())),
            (
                "POST",
                &[host, ("sec-fetch-site", "cross-site")],
                Err(Refusal::FetchMetadata),
            ),
            (
                "PUT",
                &[host, ("sec-fetch-site", "same-site")],
                Err(Refusal::FetchMetadata),
            ),
            (
                "DELETE",
                &[host, ("sec-fetch-site", "whatever")],
                Err(Refusal::FetchMetadata),
            ),
            // Fetch Metadata wins over a matching Origin.
            (
                "POST",
                &[
                    host,
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://shop.example"),
                ],
                Err(Refusal::FetchMetadata),
            ),
            ("PATCH", &[host, ("origin", "https://shop.example")], Ok(())),
            ("POST", &[host, ("origin", "https://SHOP.example")], Ok(())),
            (
                "POST",
                &[host, ("origin", "https://evil.example")],
                Err(Refusal::Origin),
            ),
            (
                "POST",
                &[host, ("origin", "https://shop.example:8443")],
                Err(Refusal::Origin),
            ),
            ("POST", &[host, ("origin", "null")], Err(Refusal::Origin)),
            (
                "POST",
                &[("origin", "https://shop.example")],
                Err(Refusal::Origin),
            ),
            ("POST", &[host], Ok(())),
            (
                "CUSTOM",
                &[host, ("sec-fetch-site", "cross-site")],
                Err(Refusal::FetchMetadata),
            ),
        ];
        for (method, headers, expected) in cases {
            assert_eq!(
                checked(&on, &facts(method, "/login", headers)),
                *expected,
                "{method} {headers:?}"
            );
        }
        let off = CrossOriginProtection::disabled();
        let cross = [host, ("sec-fetch-site", "cross-site")];
        assert_eq!(checked(&off, &facts("POST", "/login", &cross)), Ok(()));
    }

    #[test]
    fn trusted_origins_and_exempt_paths_let_requests_through() {
        let protection = CrossOriginProtection::new()
            .trust_origin("https://App.example.com")
            .exempt_path("/webhooks/")
            .exempt_path("/callback");
        let from = |origin: &'static str| {
            [
                ("host", "api.example.com"),
                ("sec-fetch-site", "cross-site"),
                ("origin", origin),
            ]
        };
        let trusted = from("https://app.example.com");
        assert_eq!(
            checked(&protection, &facts("POST", "/login", &trusted)),
            Ok(())
        );
        let other = from("https://evil.example");
        assert!(checked(&protection, &facts("POST", "/login", &other)).is_err());
        for exempt in ["/webhooks/stripe", "/webhooks/", "/callback"] {
            assert_eq!(
                checked(&protection, &facts("POST", exempt, &other)),
                Ok(()),
                "{exempt}"
            );
        }
        for steered in [
            "/webhooks/../login",
            "/webhooks/%2e%2e/login",
            "/webhooks/%2E%2E%2Flogin",
            "/webhooks//x",
            "/webhooks/.\\login",
            "/callback/x",
            "/callbackx",
            "/webhooks",
        ] {
            assert!(
                checked(&protection, &facts("POST", steered, &other)).is_err(),
                "{steered}"
            );
        }
    }

    #[test]
    fn misconfigured_origins_and_paths_are_refused_with_the_reason() {
        for (origin, problem) in [
            ("app.example.com", "scheme://"),
            ("https://app.example.com/", "no path"),
            ("https://app.example.com/login", "no path"),
            ("https://", "no host"),
            ("https://app.example.com:99999", "port"),
            ("1ttp://x", "scheme"),
            ("https://user@app.example", "no path"),
            ("https://app example", "host"),
        ] {
            let protection = CrossOriginProtection::new().trust_origin(origin);
            let error = protection.validate().expect_err(origin).to_string();
            assert!(
                error.contains(problem) && error.contains(origin),
                "{origin}: {error}"
            );
        }
        for path in ["webhooks/", "/a/../b", "/a//b"] {
            let protection = CrossOriginProtection::new().exempt_path(path);
            assert!(protection.validate().is_err(), "{path}");
        }
        let fine = CrossOriginProtection::new()
            .trust_origin("http://[::1]:8080")
            .trust_origin("https://a.example:443");
        assert!(fine.validate().is_ok());
    }
}
