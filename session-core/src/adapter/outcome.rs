//! [`Outcome`]: what the response gets after the handler.

use std::borrow::Cow;

use super::{NOT_SAVED, STORE_UNAVAILABLE};

/// How an adapter applies a [`HeaderChange`] to the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderAction {
    /// Add the header, keeping values already there (`Set-Cookie`, `Vary`).
    Append,
    /// Set the header, replacing values already there.
    Replace,
    /// Set the header only when the response has none of that name (the application's own
    /// `Cache-Control` wins).
    IfAbsent,
}

/// One header the response must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderChange {
    name: &'static str,
    value: Cow<'static, str>,
    action: HeaderAction,
}

impl HeaderChange {
    /// The header name, lowercase (e.g. `set-cookie`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The header value (visible ASCII only).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether to append or replace.
    pub fn action(&self) -> HeaderAction {
        self.action
    }

    /// The value, owned.
    pub fn into_value(self) -> Cow<'static, str> {
        self.value
    }
}

/// A response that replaces the handler's: the request was refused before the handler, or the
/// session could not be loaded or saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub(crate) status: u16,
    pub(crate) body: &'static str,
}

impl Failure {
    /// The HTTP status: 403 for a cross-origin request refused before the handler, 503 when
    /// the store is unavailable, 500 otherwise.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body text (`text/plain; charset=utf-8`), the same in every adapter.
    pub fn body(&self) -> &'static str {
        self.body
    }

    pub(super) fn for_error(error: &crate::SessionError) -> Self {
        match error.status_code() {
            503 => Self {
                status: 503,
                body: STORE_UNAVAILABLE,
            },
            status => Self {
                status,
                body: NOT_SAVED,
            },
        }
    }
}

/// The most headers an outcome carries (`Vary`, `Set-Cookie`, `Cache-Control`; a failure's
/// `Content-Type` and `Cache-Control`): kept inline, so an outcome allocates nothing but a
/// `Set-Cookie` value.
const MAX_HEADERS: usize = 3;

/// A free place in the inline list.
const UNUSED: HeaderChange = HeaderChange {
    name: "",
    value: Cow::Borrowed(""),
    action: HeaderAction::Append,
};

/// What the response must get after the handler: a [`Failure`] to answer instead, if any, and
/// the headers to add.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "an adapter must apply the outcome to the response"]
pub struct Outcome {
    failure: Option<Failure>,
    len: usize,
    headers: [HeaderChange; MAX_HEADERS],
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            failure: None,
            len: 0,
            headers: [UNUSED; MAX_HEADERS],
        }
    }
}

impl Outcome {
    /// The failure that replaces the handler's response, if any.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// The headers to apply, in order.
    pub fn headers(&self) -> &[HeaderChange] {
        &self.headers[..self.len]
    }

    /// The headers to apply, owned, in order.
    pub fn into_headers(self) -> impl Iterator<Item = HeaderChange> {
        self.headers.into_iter().take(self.len)
    }

    /// Hands every header to `apply` in order: its lowercase name, its value, and how to apply
    /// it: append, replace, or set only when the response has none of that name.
    pub fn apply_headers(self, mut apply: impl FnMut(&'static str, &str, HeaderAction)) {
        for change in self.into_headers() {
            apply(change.name, &change.value, change.action);
        }
    }

    /// Applies the outcome to an `http` response (feature `http`): replaces it by the failure,
    /// if any, then applies every header.
    #[cfg(feature = "http")]
    pub fn apply_to_response<B: From<&'static str>>(self, response: &mut http::Response<B>) {
        if let Some(failure) = self.failure {
            *response = http::Response::new(B::from(failure.body));
            *response.status_mut() = http::StatusCode::from_u16(failure.status)
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        }
        self.apply_to_headers(response.headers_mut());
    }

    /// Applies the outcome's headers to an `http` header map (feature `http`); for frameworks
    /// whose response is not an `http::Response` but holds an `http::HeaderMap`. The caller
    /// answers the [`failure`](Self::failure) first.
    #[cfg(feature = "http")]
    pub fn apply_to_headers(self, headers: &mut http::HeaderMap) {
        for change in self.into_headers() {
            let (name, action) = (http::HeaderName::from_static(change.name), change.action);
            if action == HeaderAction::IfAbsent && headers.contains_key(&name) {
                continue;
            }
            // Static values (`Vary`, `Cache-Control`) are not copied; a `Set-Cookie` hands its
            // buffer over.
            let value = match change.value {
                Cow::Borrowed(value) => Ok(http::HeaderValue::from_static(value)),
                Cow::Owned(value) => http::HeaderValue::try_from(value),
            };
            let Ok(value) = value else {
                continue;
            };
            if action == HeaderAction::Append {
                headers.append(name, value);
            } else {
                headers.insert(name, value);
            }
        }
    }

    pub(super) fn failed(failure: Failure) -> Self {
        let mut outcome = Self {
            failure: Some(failure),
            ..Self::default()
        };
        outcome.push(
            "content-type",
            "text/plain; charset=utf-8",
            HeaderAction::Replace,
        );
        outcome.push(
            "cache-control",
            crate::session::SetCookie::CACHE_CONTROL,
            HeaderAction::Replace,
        );
        outcome
    }

    pub(super) fn push(
        &mut self,
        name: &'static str,
        value: impl Into<Cow<'static, str>>,
        action: HeaderAction,
    ) {
        // At most three headers are ever pushed (see `MAX_HEADERS`); a fourth would be a bug
        // in core, caught by the tests of every path.
        debug_assert!(self.len < MAX_HEADERS, "more headers than MAX_HEADERS");
        if let Some(slot) = self.headers.get_mut(self.len) {
            *slot = HeaderChange {
                name,
                value: value.into(),
                action,
            };
            self.len += 1;
        }
    }
}
