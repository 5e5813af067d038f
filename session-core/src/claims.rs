//! One session schema per cookie: the claims middleware makes when it is built.
//!
//! Two session types on one cookie name overwrite each other's cookie: a request that loads one
//! refuses the other's token as another schema and its next write replaces the cookie. The
//! middleware of every adapter claims its cookie for its schema when it is built, and a second
//! schema claiming the same cookie is refused there, at start-up.
//!
//! The scope of a claim is the keyring (the instance an application builds once, shared by the
//! clones of its configuration): rings built separately, as parallel tests build theirs, never
//! conflict. A claim lasts as long as the manager that made it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::config::SessionConfig;
use crate::error::ConfigError;

/// A live claim of a cookie for a schema.
struct Claim {
    id: u64,
    keyring: u64,
    name: String,
    domain: Option<String>,
    schema: &'static str,
    type_name: &'static str,
}

static CLAIMS: Mutex<Vec<Claim>> = Mutex::new(Vec::new());

fn claims() -> MutexGuard<'static, Vec<Claim>> {
    // The list stays consistent under a panic (every change is one push or one retain).
    CLAIMS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A manager's claim: removed from the registry when the manager is dropped.
#[derive(Debug)]
pub(crate) struct ClaimGuard {
    id: u64,
    schema: &'static str,
    type_name: &'static str,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        claims().retain(|claim| claim.id != self.id);
    }
}

/// Whether two `Domain` attributes can put both cookies in one request: either one host-only
/// (a host-only cookie on `app.example.com` travels with one for `example.com`), equal, or one
/// a parent of the other.
fn domains_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true;
    };
    let a = a.trim_start_matches('.').to_ascii_lowercase();
    let b = b.trim_start_matches('.').to_ascii_lowercase();
    let within = |inner: &str, outer: &str| {
        inner
            .strip_suffix(outer)
            .is_some_and(|head| head.is_empty() || head.ends_with('.'))
    };
    within(&a, &b) || within(&b, &a)
}

fn conflict(config: &SessionConfig, first: (&str, &str), second: (&str, &str)) -> ConfigError {
    ConfigError::CookieShared {
        name: config.cookie.cookie_name().to_owned(),
        first: format!("{} (schema {:?})", first.1, first.0),
        second: format!("{} (schema {:?})", second.1, second.0),
        suggested: format!("{}_session", second.0),
    }
}

/// Claims `config`'s cookie for the schema `schema` (of the Rust type `type_name`).
///
/// `held` is the claim the manager already made: a manager serves one schema.
pub(crate) fn claim(
    config: &SessionConfig,
    held: &mut Option<ClaimGuard>,
    schema: &'static str,
    type_name: &'static str,
) -> Result<(), ConfigError> {
    if let Some(guard) = held {
        if guard.schema == schema {
            return Ok(());
        }
        return Err(conflict(
            config,
            (guard.schema, guard.type_name),
            (schema, type_name),
        ));
    }
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let keyring = config.keyring.origin();
    let name = config.cookie.cookie_name();
    let domain = config.cookie.domain_attribute();
    let mut claims = claims();
    if let Some(other) = claims.iter().find(|claim| {
        claim.keyring == keyring
            && claim.name == name
            && domains_overlap(claim.domain.as_deref(), domain)
            && claim.schema != schema
    }) {
        return Err(conflict(
            config,
            (other.schema, other.type_name),
            (schema, type_name),
        ));
    }
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    claims.push(Claim {
        id,
        keyring,
        name: name.to_owned(),
        domain: domain.map(str::to_owned),
        schema,
        type_name,
    });
    *held = Some(ClaimGuard {
        id,
        schema,
        type_name,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::domains_overlap;

    #[test]
    fn host_only_cookies_overlap_with_every_domain() {
        assert!(domains_overlap(None, None));
        assert!(domains_overlap(None, Some("example.com")));
        assert!(domains_overlap(Some("Example.com"), Some("example.com")));
        assert!(domains_overlap(
            Some("app.example.com"),
            Some(".example.com")
        ));
        assert!(domains_overlap(
            Some("example.com"),
            Some("app.example.com")
        ));
        assert!(!domains_overlap(
            Some("a.example.com"),
            Some("b.example.com")
        ));
        assert!(!domains_overlap(
            Some("badexample.com"),
            Some("example.com")
        ));
    }
}
