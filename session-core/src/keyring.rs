//! Keyrings: the ordered list of keys a deployment trusts, and where it comes from.
//!
//! The first key signs; every key verifies. To rotate, put a new key first and keep the old
//! one behind it until the longest session lifetime has passed (`session rotate` prints the new
//! list). Tokens signed by an older key are accepted and re-issued under the current one,
//! unless [`RotationPolicy::CurrentKeyOnly`] is chosen to force everyone to log in again.
//!
//! # Sources
//! - [`Keyring::from_env`] reads `SESSION_KEYS=k2:<base64>,k1:<base64>`. Each key is base64
//!   or hex, as [`Key::from_base64`] reads it.
//! - [`Keyring::from_file`] reads the same list in a file that only its owner can read.
//! - [`Keyring::from_entries`] takes values a program fetched itself, for example from a secret
//!   manager:
//!
//! ```no_run
//! # fn fetch_secret(_: &str) -> String { String::new() }
//! use session_core::Keyring;
//!
//! // HashiCorp Vault (`vault kv get -field=value secret/session/k2`), AWS Secrets Manager
//! // (`GetSecretValue`), or GCP Secret Manager (`versions/latest:access`) all hand back the
//! // base64 text `session keygen` printed; pass it on with its id.
//! let current = fetch_secret("session/k2");
//! let previous = fetch_secret("session/k1");
//! let keyring = Keyring::from_entries([("k2", current.as_str()), ("k1", previous.as_str())])?;
//! # Ok::<(), session_core::KeyringError>(())
//! ```
//! - [`Keyring::ephemeral_for_development`] makes a random key that dies with the process, for local
//!   development only; it logs a warning every time it is made.

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{KeyError, KeyringError};
use crate::key::{Key, KeyId};

/// Whether tokens signed by an older key of the ring are still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RotationPolicy {
    /// Accept tokens signed by any key in the ring; re-issue those from older keys under the
    /// current key. The default: rotation logs nobody out.
    #[default]
    AcceptRetiredKeys,
    /// Accept only tokens signed by the current (first) key. Use after a key compromise to
    /// force everyone to log in again while keeping the old ids recognisable in logs.
    CurrentKeyOnly,
}

/// An ordered, non-empty list of keys with ids.
///
/// ```
/// use session_core::{Key, Keyring};
///
/// let new = Key::generate();
/// let old = Key::generate();
/// let ring = Keyring::new("k2", new)?.with_verifier("k1", old)?;
/// assert_eq!(ring.current_id().as_str(), "k2");
/// assert_eq!(ring.len(), 2);
/// # Ok::<(), session_core::KeyringError>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(KeyId, Key)>,
    ephemeral: bool,
    /// Which ring this is, shared by its clones and rings rotated from it: the scope in which
    /// two session types may not share a cookie name (see `crate::claims`).
    origin: u64,
}

/// A new value for [`Keyring::origin`].
fn new_origin() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Keyring {
    /// A ring with one signing key.
    ///
    /// # Errors
    /// [`KeyringError::BadEntry`] when the id is invalid.
    pub fn new(id: &str, key: Key) -> Result<Self, KeyringError> {
        let id = KeyId::new(id).map_err(|error| bad_entry("Keyring::new", 1, id, error))?;
        Ok(Self {
            keys: vec![(id, key)],
            ephemeral: false,
            origin: new_origin(),
        })
    }

    /// Adds a key that verifies but does not sign (an older key during rotation).
    ///
    /// # Errors
    /// An invalid or repeated id, or the same material as a key already in the ring.
    pub fn with_verifier(mut self, id: &str, key: Key) -> Result<Self, KeyringError> {
        let position = self.keys.len() + 1;
        let id = KeyId::new(id)
            .map_err(|error| bad_entry("Keyring::with_verifier", position, id, error))?;
        self.push("Keyring::with_verifier", id, key)?;
        Ok(self)
    }

    fn push(&mut self, source_name: &str, id: KeyId, key: Key) -> Result<(), KeyringError> {
        for (other_id, other) in &self.keys {
            if *other_id == id {
                return Err(KeyringError::DuplicateId {
                    source_name: source_name.to_owned(),
                    id: id.to_string(),
                });
            }
            if other.material() == key.material() {
                return Err(KeyringError::DuplicateKey {
                    source_name: source_name.to_owned(),
                    first: other_id.to_string(),
                    second: id.to_string(),
                });
            }
        }
        self.keys.push((id, key));
        Ok(())
    }

    /// Parses a key list `id:base64[,id:base64...]` (commas, whitespace or newlines separate
    /// entries; `#` starts a comment; a key may be hex instead, see [`Key::from_base64`]).
    /// `source_name` names the origin in error messages.
    ///
    /// # Errors
    /// A [`KeyringError`] that names the source, the entry and what is wrong with it.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, KeyringError> {
        let entries = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|e| !e.is_empty())
            .enumerate()
            .map(|(index, entry)| {
                entry
                    .split_once(':')
                    .ok_or_else(|| KeyringError::MissingId {
                        source_name: source_name.to_owned(),
                        position: index + 1,
                    })
            });
        Self::build(source_name, entries)
    }

    /// Checks each `(id, base64 key)` entry in order and assembles the ring.
    fn build<'a>(
        source_name: &str,
        entries: impl Iterator<Item = Result<(&'a str, &'a str), KeyringError>>,
    ) -> Result<Self, KeyringError> {
        let mut ring: Option<Self> = None;
        for (index, entry) in entries.enumerate() {
            let (id, secret) = entry?;
            let position = index + 1;
            let bad = |error| bad_entry(source_name, position, id, error);
            let key_id = KeyId::new(id).map_err(bad)?;
            let key = Key::from_base64(secret).map_err(bad)?;
            match ring.as_mut() {
                None => {
                    ring = Some(Self {
                        keys: vec![(key_id, key)],
                        ephemeral: false,
                        origin: new_origin(),
                    })
                }
                Some(ring) => ring.push(source_name, key_id, key)?,
            }
        }
        ring.ok_or_else(|| KeyringError::Empty {
            source_name: source_name.to_owned(),
        })
    }

    /// Reads a key list from an environment variable, usually `SESSION_KEYS`.
    ///
    /// The copy of the value this reads is wiped once the keys are parsed; the process
    /// environment keeps its own copy (docs/security.md).
    ///
    /// ```
    /// use session_core::Keyring;
    ///
    /// let err = Keyring::from_env("SESSION_KEYS_THAT_IS_NOT_SET").expect_err("refused");
    /// let message = err.to_string();
    /// assert!(message.contains("SESSION_KEYS_THAT_IS_NOT_SET is not set"));
    /// assert!(message.contains("session keygen"));
    /// ```
    ///
    /// # Errors
    /// [`KeyringError::MissingVar`] when the variable is absent, otherwise the errors of
    /// [`Keyring::parse`]; each names the variable, the format and how to make a key.
    pub fn from_env(var: &str) -> Result<Self, KeyringError> {
        let Some(value) = std::env::var_os(var) else {
            return Err(KeyringError::MissingVar {
                var: var.to_owned(),
            });
        };
        match value.into_string() {
            Ok(text) => Self::parse(var, &Zeroizing::new(text)),
            Err(not_unicode) => {
                drop(Zeroizing::new(not_unicode.into_encoded_bytes()));
                Err(KeyringError::NotUnicode {
                    var: var.to_owned(),
                })
            }
        }
    }

    /// Reads a key list from a file that only its owner can read.
    ///
    /// On Unix the file is opened once, without following a symbolic link in its last
    /// component, and the open file itself is checked before it is read: it must be a regular
    /// file, owned by the user the process runs as (its effective uid) or by root, and not
    /// readable, writable or executable by group or others (mode `600` or `400`, as ssh asks
    /// of private keys). It must be UTF-8 and at most 64 KiB. The buffer it is read into is
    /// wiped once the keys are parsed. Elsewhere the file is read without these checks.
    ///
    /// # Errors
    /// [`KeyringError::FileTooOpen`] with the `chmod` that fixes it; [`KeyringError::Io`] when
    /// the file cannot be opened or read, is a symbolic link, is not a regular file, belongs
    /// to another user, is too large or is not UTF-8, each with what to do; or the errors of
    /// [`Keyring::parse`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyringError> {
        let path = path.as_ref();
        let contents = read_key_file(path)?;
        let text = std::str::from_utf8(&contents).map_err(|_| {
            file_error(
                path,
                std::io::ErrorKind::InvalidData,
                "is not UTF-8 text; a key file holds `id:base64` lines",
            )
        })?;
        Self::parse(&path.display().to_string(), text)
    }

    /// Builds a ring from `(id, base64 key)` pairs a program fetched itself (for example from
    /// Vault or a cloud secret manager). The first pair signs.
    ///
    /// # Errors
    /// The same checks as [`Keyring::parse`].
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, KeyringError> {
        Self::build("Keyring::from_entries", entries.into_iter().map(Ok))
    }

    /// A random key that lives only as long as the process: sessions do not survive a restart
    /// and cannot be shared between servers. For local development only; every call logs a
    /// warning that names `SESSION_KEYS` and how to set it.
    pub fn ephemeral_for_development() -> Self {
        tracing::warn!(
            target: "session",
            "using an ephemeral development key: sessions end when the process exits and other \
             servers cannot read them; set SESSION_KEYS=<id>:<base64 key> in production \
             ({})",
            crate::error::KEYGEN_HINT
        );
        let id = KeyId::new("dev").expect("`dev` is a valid key id");
        Self {
            keys: vec![(id, Key::generate())],
            ephemeral: true,
            origin: new_origin(),
        }
    }

    /// Which ring this is (shared by clones and rotations), for `crate::claims`.
    pub(crate) fn origin(&self) -> u64 {
        self.origin
    }

    /// True for a ring made by [`Keyring::ephemeral_for_development`].
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// The id of the signing key.
    pub fn current_id(&self) -> &KeyId {
        &self.keys[0].0
    }

    /// The ids of all keys, signing key first.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(|(id, _)| id)
    }

    /// How many keys the ring holds (at least one).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a keyring holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys with their ids, signing key first.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &Key)> {
        self.keys.iter().map(|(id, key)| (id, key))
    }

    /// Formats the ring back into the `SESSION_KEYS` syntax. This reveals the keys; it exists
    /// for rotation tools.
    pub fn to_env_value(&self) -> Zeroizing<String> {
        // Sized up front: a `String` that grows leaves copies of the keys behind, unwiped.
        let len = self
            .keys
            .iter()
            .map(|(id, key)| {
                id.as_str().len() + 2 + base64::encoded_len(key.len(), false).unwrap_or_default()
            })
            .sum();
        let mut out = Zeroizing::new(String::with_capacity(len));
        for (index, (id, key)) in self.keys.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(id.as_str());
            out.push(':');
            out.push_str(&key.to_base64());
        }
        out
    }

    /// A new ring with `key` as the signing key under `id` and the current keys kept as
    /// verifiers, the oldest dropped so that at most `keep` old keys remain.
    ///
    /// # Errors
    /// An invalid or repeated id.
    pub fn rotated(&self, id: &str, key: Key, keep: usize) -> Result<Self, KeyringError> {
        let mut ring = Self::new(id, key)?;
        ring.origin = self.origin;
        for (old_id, old_key) in self.keys.iter().take(keep) {
            ring.push("rotation", old_id.clone(), old_key.clone())?;
        }
        Ok(ring)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field(
                "ids",
                &self
                    .keys
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

/// The largest key file read, in bytes: room for hundreds of keys.
const MAX_KEY_FILE_BYTES: usize = 64 * 1024;

/// An [`KeyringError::Io`] whose message reads "cannot read key file PATH: it PROBLEM".
fn file_error(path: &Path, kind: std::io::ErrorKind, problem: impl fmt::Display) -> KeyringError {
    KeyringError::Io {
        path: path.to_owned(),
        error: std::io::Error::new(kind, format!("it {problem}")),
    }
}

/// Opens a key file once and checks the open file, then reads that same file (see
/// [`Keyring::from_file`]), into a buffer of fixed size that is wiped on drop.
fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    use std::io::Read as _;

    let mut file = open_key_file(path)?;
    let mut contents = Zeroizing::new(vec![0u8; MAX_KEY_FILE_BYTES + 1]);
    let mut len = 0;
    while len < contents.len() {
        match file.read(&mut contents[len..]) {
            Ok(0) => break,
            Ok(read) => len += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                return Err(KeyringError::Io {
                    path: path.to_owned(),
                    error,
                });
            }
        }
    }
    if len > MAX_KEY_FILE_BYTES {
        return Err(file_error(
            path,
            std::io::ErrorKind::InvalidData,
            format_args!(
                "is larger than {} KiB; a key file holds only `id:base64` lines",
                MAX_KEY_FILE_BYTES / 1024
            ),
        ));
    }
    // Shortening never reallocates: the wiped buffer is the only one.
    contents.truncate(len);
    Ok(contents)
}

#[cfg(unix)]
fn open_key_file(path: &Path) -> Result<std::fs::File, KeyringError> {
    use std::io::ErrorKind;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};

    use rustix::fs::OFlags;

    // O_NOFOLLOW: a symbolic link is refused, not followed. O_NONBLOCK: a FIFO put in the
    // file's place cannot stall start-up (it is refused below as not a regular file).
    let flags = (OFlags::NOFOLLOW | OFlags::NONBLOCK).bits().cast_signed();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|error| {
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            if error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) && is_link {
                let target = std::fs::read_link(path)
                    .map(|target| format!(" (to {})", target.display()))
                    .unwrap_or_default();
                file_error(
                    path,
                    ErrorKind::InvalidInput,
                    format_args!(
                        "is a symbolic link{target}; key files are opened without following \
                         links, so that whoever can change a link cannot choose which file is \
                         read: give the path of the file itself"
                    ),
                )
            } else {
                KeyringError::Io {
                    path: path.to_owned(),
                    error,
                }
            }
        })?;
    let metadata = file.metadata().map_err(|error| KeyringError::Io {
        path: path.to_owned(),
        error,
    })?;
    if !metadata.is_file() {
        return Err(file_error(
            path,
            ErrorKind::InvalidInput,
            "is not a regular file; give the path of the key file itself",
        ));
    }
    let owner = metadata.uid();
    let me = rustix::process::geteuid().as_raw();
    if owner != me && owner != 0 {
        return Err(file_error(
            path,
            ErrorKind::PermissionDenied,
            format_args!(
                "belongs to uid {owner}, not to this process's user (uid {me}) or root, so \
                 another user could have written its keys; run `sudo chown {me} {}` or run \
                 the server as its owner",
                path.display()
            ),
        ));
    }
    let mode = metadata.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyringError::FileTooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_key_file(path: &Path) -> Result<std::fs::File, KeyringError> {
    std::fs::File::open(path).map_err(|error| KeyringError::Io {
        path: path.to_owned(),
        error,
    })
}

fn bad_entry(source_name: &str, position: usize, id: &str, error: KeyError) -> KeyringError {
    KeyringError::BadEntry {
        source_name: source_name.to_owned(),
        position,
        id: id.chars().take(40).collect(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64() -> String {
        Key::generate().to_base64().to_string()
    }

    #[test]
    fn parses_lists_in_order() {
        let text = format!("k2:{}, k1:{}\nk0:{}", b64(), b64(), b64());
        let ring = Keyring::parse("SESSION_KEYS", &text).expect("valid");
        let ids: Vec<_> = ring.ids().map(KeyId::as_str).collect();
        assert_eq!(ids, ["k2", "k1", "k0"]);
    }

    #[test]
    fn errors_name_the_source_the_format_and_the_fix() {
        let err = Keyring::parse("SESSION_KEYS", "")
            .expect_err("refused")
            .to_string();
        assert!(err.contains("SESSION_KEYS holds no keys"), "{err}");
        assert!(err.contains("id:base64"), "{err}");
        assert!(err.contains("session keygen"), "{err}");

        let err = Keyring::parse("SESSION_KEYS", &b64())
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("entry 1") && err.contains("id:base64"),
            "{err}"
        );

        let err = Keyring::parse("SESSION_KEYS", "k1:changeme")
            .expect_err("refused")
            .to_string();
        assert!(err.contains("SESSION_KEYS, entry 1 (id \"k1\")"), "{err}");
        assert!(err.contains("placeholder"), "{err}");
    }

    #[test]
    fn refuses_duplicate_ids_and_keys() {
        let key = b64();
        let err = Keyring::parse("X", &format!("a:{key},a:{}", b64())).expect_err("refused");
        assert!(matches!(err, KeyringError::DuplicateId { .. }));
        let err = Keyring::parse("X", &format!("a:{key},b:{key}")).expect_err("refused");
        assert!(matches!(err, KeyringError::DuplicateKey { .. }));
    }

    #[test]
    fn rotation_keeps_old_keys_as_verifiers() {
        let ring = Keyring::parse("X", &format!("k2:{},k1:{}", b64(), b64())).expect("valid");
        let rotated = ring.rotated("k3", Key::generate(), 1).expect("valid");
        let ids: Vec<_> = rotated.ids().map(KeyId::as_str).collect();
        assert_eq!(ids, ["k3", "k2"]);
        let value = rotated.to_env_value();
        assert!(value.capacity() >= value.len() && value.capacity() <= value.len() + 1);
        let back = Keyring::parse("X", &value).expect("round trip");
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn debug_shows_ids_only() {
        let key = b64();
        let ring = Keyring::parse("X", &format!("k1:{key}")).expect("valid");
        let shown = format!("{ring:?}");
        assert!(shown.contains("k1") && !shown.contains(&key));
    }

    #[cfg(unix)]
    fn private_key_file(dir: &Path) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join("keys");
        std::fs::write(
            &path,
            format!("# current first\nk2:{}\nk1:{}\n", b64(), b64()),
        )
        .expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    }

    #[cfg(unix)]
    #[test]
    fn key_files_must_be_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = private_key_file(dir.path());
        let ring = Keyring::from_file(&path).expect("a file owned by us, mode 600, is accepted");
        assert_eq!(ring.current_id().as_str(), "k2");
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let err = Keyring::from_file(&path).expect_err("refused");
            assert!(
                matches!(err, KeyringError::FileTooOpen { mode: m, .. } if m == mode),
                "{mode:o}: {err}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&format!("run `chmod 600 {}`", path.display())),
                "{message}"
            );
        }
    }

    /// Finding 11: a symbolic link was followed, so whoever could change the link chose the
    /// file that was read (and its mode was checked on one file, then another one was read).
    #[cfg(unix)]
    #[test]
    fn key_file_links_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = private_key_file(dir.path());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        let err = Keyring::from_file(&link).expect_err("a link is refused");
        let message = err.to_string();
        assert!(
            matches!(&err, KeyringError::Io { error, .. } if error.kind() == std::io::ErrorKind::InvalidInput),
            "{message}"
        );
        assert!(message.contains("is a symbolic link"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains("give the path of the file itself"),
            "{message}"
        );
        assert!(
            Keyring::from_file(&path).is_ok(),
            "the file itself is accepted"
        );
    }

    /// Finding 11: the owner was not checked.
    #[cfg(unix)]
    #[test]
    fn key_files_of_other_users_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = private_key_file(dir.path());
        match std::os::unix::fs::chown(&path, Some(54_321), None) {
            Ok(()) => {}
            // Only root can give a file away; the check is then exercised by CI, which is root.
            Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
                assert_ne!(rustix::process::geteuid().as_raw(), 0);
                return;
            }
            Err(error) => panic!("chown: {error}"),
        }
        let err = Keyring::from_file(&path).expect_err("another user's file is refused");
        let message = err.to_string();
        assert!(
            matches!(&err, KeyringError::Io { error, .. } if error.kind() == std::io::ErrorKind::PermissionDenied),
            "{message}"
        );
        assert!(message.contains("belongs to uid 54321"), "{message}");
        assert!(message.contains("chown"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn key_files_must_be_small_utf8_regular_files() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let message = Keyring::from_file(dir.path())
            .expect_err("a directory")
            .to_string();
        assert!(message.contains("is not a regular file"), "{message}");

        let path = private_key_file(dir.path());
        let mut big = std::fs::read(&path).expect("read");
        big.resize(MAX_KEY_FILE_BYTES + 1, b'\n');
        std::fs::write(&path, &big).expect("write");
        let message = Keyring::from_file(&path)
            .expect_err("too large")
            .to_string();
        assert!(message.contains("is larger than 64 KiB"), "{message}");
        big.truncate(MAX_KEY_FILE_BYTES);
        std::fs::write(&path, &big).expect("write");
        assert!(Keyring::from_file(&path).is_ok(), "64 KiB exactly is read");

        std::fs::write(&path, b"k1:\xff\xfe\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let message = Keyring::from_file(&path)
            .expect_err("not UTF-8")
            .to_string();
        assert!(message.contains("is not UTF-8"), "{message}");
    }

    /// `from_env` reads the variable with `var_os`; the test runs itself again in a child
    /// process with the variables set, since setting them here would need `unsafe`.
    #[test]
    fn from_env_reads_the_variable() {
        if std::env::var_os("SESSION_CORE_TEST_CHILD").is_some() {
            let ring = Keyring::from_env("SESSION_CORE_TEST_KEYS").expect("valid list");
            assert_eq!(
                ring.ids().map(KeyId::as_str).collect::<Vec<_>>(),
                ["k2", "k1"]
            );
            #[cfg(unix)]
            assert!(matches!(
                Keyring::from_env("SESSION_CORE_TEST_NOT_UTF8"),
                Err(KeyringError::NotUnicode { .. })
            ));
            return;
        }
        let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"));
        child
            .args(["--exact", "keyring::tests::from_env_reads_the_variable"])
            .env("SESSION_CORE_TEST_CHILD", "1")
            .env(
                "SESSION_CORE_TEST_KEYS",
                format!("k2:{}, k1:{}", b64(), b64()),
            );
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            child.env(
                "SESSION_CORE_TEST_NOT_UTF8",
                std::ffi::OsStr::from_bytes(b"k1:\xff"),
            );
        }
        let output = child.output().expect("run the child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        assert!(
            stdout.contains("1 passed"),
            "the child ran the test: {stdout}"
        );
    }

    #[test]
    fn entries_from_a_secret_manager() {
        let (a, b) = (b64(), b64());
        let ring = Keyring::from_entries([("new", a.as_str()), ("old", b.as_str())]).expect("ok");
        assert_eq!(ring.current_id().as_str(), "new");
        assert!(Keyring::from_entries(std::iter::empty()).is_err());
    }
}
