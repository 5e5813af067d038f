//! Helpers for an application's own tests: a `Cookie` that carries a given session, and the
//! session a response's `Set-Cookie` carries. Each adapter's middleware type offers both,
//! typed by its session struct.

use super::{LoadStatus, SessionManager};
use crate::error::SessionError;
use crate::schema::SessionData;

impl SessionManager {
    /// A `Cookie` header value (`name=token`) that carries `data` as a session starting now,
    /// by this manager's clock (with a [`ManualClock`](crate::ManualClock), a test can then
    /// move past its deadlines): a request that sends it reaches the handlers with `data`
    /// loaded. In store mode the record is written to the store first; stores expire records
    /// by the real clock, so start a `ManualClock` at `OffsetDateTime::now_utc()` there.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # use session_core::{Keyring, SessionConfig, SessionData, SessionManager};
    /// #[derive(SessionData, Serialize, Deserialize, Default, Debug, PartialEq)]
    /// #[session(name = "app")]
    /// struct AppSession {
    ///     user_id: Option<u64>,
    /// }
    ///
    /// # pollster::block_on(async {
    /// let sessions = SessionManager::new(SessionConfig::new(Keyring::ephemeral_for_development()))?;
    /// let cookie = sessions.cookie_for(&AppSession { user_id: Some(7) }).await?;
    /// assert!(cookie.starts_with("session="));
    /// // ... send it as the request's `Cookie` header; and back from a `Set-Cookie`:
    /// let set_cookie = format!("{cookie}; HttpOnly; Path=/");
    /// let back: Option<AppSession> = sessions.session_from_set_cookie(&set_cookie).await?;
    /// assert_eq!(back, Some(AppSession { user_id: Some(7) }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// What [`save`](Self::save) answers: the session does not fit in a cookie, or the store
    /// failed.
    pub async fn cookie_for<T: SessionData>(&self, data: &T) -> Result<String, SessionError> {
        // A copy of `data` without asking `T` for `Clone`: through its own encoding, as every
        // request that loads it does.
        let bytes =
            postcard::to_allocvec(data).map_err(|e| SessionError::Serialize(e.to_string()))?;
        let copy: T =
            postcard::from_bytes(&bytes).map_err(|e| SessionError::Serialize(e.to_string()))?;
        let mut handle = self.load::<T>([]).await?;
        *handle.data_mut() = copy;
        let set_cookie = self.save(&mut handle).await?.ok_or_else(|| {
            SessionError::Serialize("saving a changed session wrote no cookie".to_owned())
        })?;
        Ok(format!(
            "{}={}",
            self.cookie_settings().cookie_name(),
            set_cookie.value()
        ))
    }

    /// The session that a response's `Set-Cookie` header value (or a bare `name=token` pair)
    /// carries, as the next request would load it; `None` when it is another cookie, removes
    /// the session cookie (logout), or does not load (expired by this manager's clock, signed
    /// with other keys). For an application's own tests; see
    /// [`cookie_for`](Self::cookie_for).
    ///
    /// # Errors
    /// Only in store mode: the store could not be reached.
    pub async fn session_from_set_cookie<T: SessionData>(
        &self,
        set_cookie: &str,
    ) -> Result<Option<T>, SessionError> {
        let pair = set_cookie.split(';').next().unwrap_or_default().trim();
        let Some((name, value)) = pair.split_once('=') else {
            return Ok(None);
        };
        if name.trim() != self.cookie_settings().cookie_name() || value.trim().is_empty() {
            return Ok(None);
        }
        let handle = self.load::<T>([pair]).await?;
        Ok(match handle.status() {
            LoadStatus::Loaded { .. } => Some(handle.data),
            _ => None,
        })
    }
}
