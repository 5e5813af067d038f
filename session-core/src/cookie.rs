//! Cookie attributes, written and read with the `cookie` crate.
//!
//! Defaults: name `session`, `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`, and no `Max-Age`
//! (the cookie ends with the browser session; the token's own deadlines end the session on the
//! server side either way). Contradictions are configuration errors, never silent downgrades.

use cookie::Cookie;

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent only on requests from the site itself.
    Strict,
    /// Also sent on top-level navigations from other sites (the default).
    Lax,
    /// Sent on every request, also cross-site; requires `Secure`.
    None,
}

impl SameSite {
    fn to_cookie(self) -> cookie::SameSite {
        match self {
            Self::Strict => cookie::SameSite::Strict,
            Self::Lax => cookie::SameSite::Lax,
            Self::None => cookie::SameSite::None,
        }
    }
}
use time::Duration;

use crate::error::ConfigError;

/// The attributes of the session cookie.
///
/// ```
/// use session_core::{CookieSettings, SameSite};
///
/// let strict = CookieSettings::default().name("__Host-app").same_site(SameSite::Strict);
/// assert!(strict.validate().is_ok());
///
/// let bad = CookieSettings::default().same_site(SameSite::None).secure(false);
/// assert!(bad.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    name: String,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    max_age: Option<Duration>,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            name: "session".to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: None,
        }
    }
}

impl CookieSettings {
    /// Sets the cookie name. A `__Host-` prefix asks the browser to pin the cookie to this
    /// host over HTTPS (it requires Secure, Path=/ and no Domain).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The recommended hardening, in one call: prefixes the name with `__Host-` (e.g.
    /// `__Host-session`) and keeps what the prefix requires (`Secure`, `Path=/`, no
    /// `Domain`). Browsers then refuse the cookie from anywhere but this host over HTTPS, so
    /// a sibling subdomain (or a plain-http response) cannot plant or overwrite it.
    ///
    /// ```
    /// use session_core::CookieSettings;
    ///
    /// let cookie = CookieSettings::default().host_prefixed();
    /// assert_eq!(cookie.cookie_name(), "__Host-session");
    /// assert!(cookie.validate().is_ok());
    /// ```
    pub fn host_prefixed(mut self) -> Self {
        if !self.name.starts_with("__Host-") {
            self.name = format!("__Host-{}", self.name);
        }
        self.path = "/".to_owned();
        self.domain = None;
        self.secure = true;
        self
    }

    /// Sets the `Path` attribute (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the `Domain` attribute (default: none, the cookie is sent to this host only).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets `Secure` (default on). Turning it off is meant for plain-http development only.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Sets `HttpOnly` (default on), which keeps the cookie out of reach of JavaScript.
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// Sets `SameSite` (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Sets `Max-Age`, making every session's cookie outlive the browser session (default:
    /// none). To choose per session at login ("remember me"), leave this unset and call
    /// [`SessionHandle::remember`](crate::SessionHandle::remember): a remembered session's
    /// cookie lives until its absolute deadline.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The cookie name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The `Domain` attribute, if one is set (otherwise the cookie is host-only).
    pub(crate) fn domain_attribute(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Whether the cookie is `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Checks the settings for contradictions.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the contradiction and how to fix it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name = || self.name.clone();
        let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if self.name.is_empty() || !self.name.chars().all(token_char) {
            return Err(ConfigError::InvalidCookieName { name: name() });
        }
        if !self.path.starts_with('/') || self.path.chars().any(|c| c.is_control() || c == ';') {
            return Err(ConfigError::InvalidPath {
                path: self.path.clone(),
            });
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(ConfigError::SameSiteNoneWithoutSecure { name: name() });
        }
        let host = self.name.starts_with("__Host-");
        if (host || self.name.starts_with("__Secure-")) && !self.secure {
            return Err(ConfigError::PrefixWithoutSecure { name: name() });
        }
        if host && self.domain.is_some() {
            return Err(ConfigError::HostPrefixWithDomain { name: name() });
        }
        if host && self.path != "/" {
            return Err(ConfigError::HostPrefixWithPath {
                name: name(),
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    fn build<'c>(&'c self, value: &'c str) -> cookie::CookieBuilder<'c> {
        let mut builder = Cookie::build((self.name.as_str(), value))
            .path(self.path.as_str())
            .secure(self.secure)
            .http_only(self.http_only)
            .same_site(self.same_site.to_cookie());
        if let Some(domain) = &self.domain {
            builder = builder.domain(domain.as_str());
        }
        builder
    }

    /// The `Set-Cookie` header value carrying `value`. `persistent_for` (a remembered
    /// session's time left) replaces the configured `Max-Age`.
    pub(crate) fn set_cookie_header(
        &self,
        value: &str,
        persistent_for: Option<Duration>,
    ) -> String {
        let mut builder = self.build(value);
        if let Some(max_age) = persistent_for.or(self.max_age) {
            builder = builder.max_age(max_age);
        }
        builder.build().to_string()
    }

    /// What follows the value in every header [`set_cookie_header`](Self::set_cookie_header)
    /// writes without `persistent_for` (`; HttpOnly; SameSite=Lax; Secure; Path=/`, and a
    /// configured `Max-Age`): formatted by the `cookie` crate once, for
    /// [`set_cookie_header_with`](Self::set_cookie_header_with).
    pub(crate) fn attributes(&self) -> String {
        let header = self.set_cookie_header("", None);
        header[self.name.len() + 1..].to_owned()
    }

    /// The header [`set_cookie_header`](Self::set_cookie_header) writes, given the
    /// [`attributes`](Self::attributes) of these settings: without `persistent_for` (nearly
    /// every header), the name, the value and those attributes put together, with no
    /// formatting machinery per header.
    pub(crate) fn set_cookie_header_with(
        &self,
        value: &str,
        persistent_for: Option<Duration>,
        attributes: &str,
    ) -> String {
        if persistent_for.is_some() {
            return self.set_cookie_header(value, persistent_for);
        }
        let mut header =
            String::with_capacity(self.name.len() + 1 + value.len() + attributes.len());
        header.push_str(&self.name);
        header.push('=');
        header.push_str(value);
        header.push_str(attributes);
        header
    }

    /// The `Set-Cookie` header value that removes the cookie (empty value, `Max-Age=0` and an
    /// expiry in the past), with the same name, path and domain so the browser matches it.
    pub(crate) fn removal_header(&self) -> String {
        let mut cookie = self.build("").build();
        cookie.make_removal();
        cookie.to_string()
    }

    /// The values of every cookie with this name in the given `Cookie` request headers, in
    /// order.
    ///
    /// A request `Cookie` header is only `name=value` pairs separated by `;` (RFC 6265 §4.2),
    /// so it is split directly rather than through `cookie::Cookie::split_parse`, which parses
    /// every pair as a full cookie and cost a fifth of a session load in the benchmark. A
    /// property test checks that both agree on every header.
    #[cfg(test)]
    pub(crate) fn values_in<'a, 'h: 'a>(
        &'a self,
        cookie_headers: impl IntoIterator<Item = &'h str> + 'a,
    ) -> impl Iterator<Item = &'h str> + 'a {
        self.values_in_bytes(cookie_headers.into_iter().map(str::as_bytes))
    }

    /// [`values_in`](Self::values_in) over raw header bytes: a pair that is not UTF-8 (another
    /// cookie with a byte like `0xE9`) is skipped, never the whole header.
    pub(crate) fn values_in_bytes<'a, 'h: 'a>(
        &'a self,
        cookie_headers: impl IntoIterator<Item = &'h [u8]> + 'a,
    ) -> impl Iterator<Item = &'h str> + 'a {
        cookie_headers
            .into_iter()
            .flat_map(pairs)
            .filter_map(|pair| {
                let eq = memchr::memchr(b'=', pair)?;
                let name = std::str::from_utf8(&pair[..eq]).ok()?;
                if name.trim() != self.name {
                    return None;
                }
                std::str::from_utf8(&pair[eq + 1..]).ok().map(str::trim)
            })
    }
}

/// The `;`-separated pairs of one `Cookie` header (a byte-wise split was most of the cost of
/// finding the session's cookie in a header).
fn pairs(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(header);
    std::iter::from_fn(move || {
        let current = rest?;
        match memchr::memchr(b';', current) {
            Some(at) => {
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let header = CookieSettings::default().set_cookie_header("abc", None);
        for part in [
            "session=abc",
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/",
        ] {
            assert!(header.contains(part), "{header}");
        }
        assert!(
            !header.contains("Max-Age") && !header.contains("Expires"),
            "{header}"
        );
    }

    #[test]
    fn max_age_and_domain_are_written() {
        let header = CookieSettings::default()
            .max_age(Duration::hours(2))
            .domain("example.com")
            .set_cookie_header("v", None);
        assert!(
            header.contains("Max-Age=7200") && header.contains("Domain=example.com"),
            "{header}"
        );
    }

    #[test]
    fn headers_from_formatted_attributes_are_the_cookie_crates() {
        let settings = [
            CookieSettings::default(),
            CookieSettings::default().host_prefixed(),
            CookieSettings::default()
                .name("app")
                .path("/shop")
                .domain("example.com")
                .same_site(SameSite::Strict)
                .http_only(false),
            CookieSettings::default()
                .secure(false)
                .same_site(SameSite::None)
                .max_age(Duration::hours(2)),
        ];
        let token = "AQJrMQ-example_token.value";
        for settings in &settings {
            let attributes = settings.attributes();
            for persistent_for in [None, Some(Duration::days(30))] {
                for value in ["", "abc", token] {
                    assert_eq!(
                        settings.set_cookie_header_with(value, persistent_for, &attributes),
                        settings.set_cookie_header(value, persistent_for),
                        "{settings:?} {persistent_for:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn removal_expires_the_cookie() {
        let header = CookieSettings::default().removal_header();
        assert!(header.starts_with("session=;"), "{header}");
        assert!(
            header.contains("Max-Age=0") && header.contains("Expires="),
            "{header}"
        );
        assert!(header.contains("Path=/"), "{header}");
    }

    #[test]
    fn contradictions_are_refused() {
        let base = CookieSettings::default;
        assert!(matches!(
            base().same_site(SameSite::None).secure(false).validate(),
            Err(ConfigError::SameSiteNoneWithoutSecure { .. })
        ));
        assert!(base().same_site(SameSite::None).validate().is_ok());
        assert!(matches!(
            base().name("__Host-s").domain("example.com").validate(),
            Err(ConfigError::HostPrefixWithDomain { .. })
        ));
        assert!(matches!(
            base().name("__Host-s").path("/app").validate(),
            Err(ConfigError::HostPrefixWithPath { .. })
        ));
        assert!(matches!(
            base().name("__Host-s").secure(false).validate(),
            Err(ConfigError::PrefixWithoutSecure { .. })
        ));
        assert!(base().name("__Host-s").validate().is_ok());
        let hardened = base()
            .name("s")
            .path("/app")
            .domain("example.com")
            .secure(false)
            .host_prefixed();
        assert_eq!(hardened.cookie_name(), "__Host-s");
        assert!(hardened.validate().is_ok(), "{hardened:?}");
        assert_eq!(hardened.clone().host_prefixed(), hardened, "idempotent");
        assert!(matches!(
            base().name("bad name").validate(),
            Err(ConfigError::InvalidCookieName { .. })
        ));
        assert!(matches!(
            base().path("app").validate(),
            Err(ConfigError::InvalidPath { .. })
        ));
    }

    #[test]
    fn finds_every_cookie_of_its_name() {
        let settings = CookieSettings::default();
        let found: Vec<_> = settings
            .values_in(["a=1; session=first; b=2", "session=second", "garbage;;=;"])
            .collect();
        assert_eq!(found, ["first", "second"]);
    }

    mod splitter {
        use proptest::prelude::*;

        use super::*;

        /// Cookie pairs as browsers and hostile clients send them: names that are or look like
        /// the session's, values with quotes, `=`, tabs and spaces, empty values, separators
        /// with or without a space, empty and trailing segments.
        fn header() -> impl Strategy<Value = String> {
            let name = "(session|session |\tsession| session|[A-Za-z0-9_]{1,8}|)";
            let value = "[A-Za-z0-9_=\\\"\t -]{0,40}";
            let pair = prop_oneof![
                (name, value).prop_map(|(n, v)| format!("{n}={v}")),
                Just(String::new()),
                Just(" ".to_owned()),
                "[A-Za-z0-9]{1,6}".prop_map(|v| v.to_string()),
            ];
            (
                proptest::collection::vec(pair, 0..7),
                "(;|; |;\\t)",
                "(|;|; )",
            )
                .prop_map(|(pairs, separator, trailing)| pairs.join(&separator) + &trailing)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// The request-cookie splitter finds exactly what `cookie::Cookie::split_parse`
            /// finds, with quotes kept as part of the value.
            #[test]
            fn agrees_with_the_cookie_crate(header in header()) {
                let settings = CookieSettings::default();
                let ours: Vec<&str> = settings.values_in([header.as_str()]).collect();
                let crate_view: Vec<String> = cookie::Cookie::split_parse(header.as_str())
                    .filter_map(Result::ok)
                    .filter(|c| c.name() == "session")
                    .map(|c| c.value().to_owned())
                    .collect();
                prop_assert_eq!(ours, crate_view, "{:?}", header);
            }

            /// A pair with bytes that are not UTF-8 (another cookie, planted by someone) changes
            /// nothing about the session's pairs: they are found as if it were not there.
            #[test]
            fn other_cookies_bytes_never_hide_the_session(
                header in header(),
                junk in proptest::collection::vec(128u8..=255, 1..6),
                at in 0usize..8,
            ) {
                let settings = CookieSettings::default();
                let clean: Vec<&str> = settings.values_in([header.as_str()]).collect();
                let mut segments: Vec<Vec<u8>> =
                    header.split(';').map(|s| s.as_bytes().to_vec()).collect();
                let mut planted = b"other=caf".to_vec();
                planted.extend(&junk);
                segments.insert(at.min(segments.len()), planted);
                let dirty = segments.join(&b';');
                let found: Vec<&str> = settings.values_in_bytes([dirty.as_slice()]).collect();
                prop_assert_eq!(found, clean);
            }
        }
    }
}
