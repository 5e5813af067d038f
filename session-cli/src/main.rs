//! `session`: make, check and rotate session keys, and inspect session tokens.
//!
//! ```text
//! session keygen [--id k1] [--bytes 32]        one SESSION_KEYS entry from the OS RNG
//! session check-key [KEY | --env VAR]          is this key (or key list) acceptable? (stdin if neither)
//! session rotate --env SESSION_KEYS [--keep N] a new SESSION_KEYS value: fresh key first, old ones verify
//! session inspect --env SESSION_KEYS TOKEN     verify a token and print its header and payload
//! ```

use std::io::Read as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use session_core::{Key, Keyring, KeyringError, SessionConfig, SessionManager};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Parser)]
#[command(
    name = "session",
    version,
    about = "Make, check and rotate session keys; inspect session tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print one `id:base64` entry for SESSION_KEYS, from the operating system's CSPRNG.
    Keygen {
        /// The key id (1-16 characters from A-Z a-z 0-9 . _ -). Short ids keep cookies small.
        #[arg(long, default_value = "k1")]
        id: String,
        /// Key length in bytes (at least 32).
        #[arg(long, default_value_t = 32)]
        bytes: usize,
    },
    /// Say whether a key, or a whole SESSION_KEYS list, is acceptable, and if not, why.
    CheckKey {
        /// The key (base64) or list (`id:base64,...`). Read from stdin when absent.
        key: Option<String>,
        /// Read the key or list from this environment variable instead.
        #[arg(long, conflicts_with = "key")]
        env: Option<String>,
    },
    /// Print a new SESSION_KEYS value: a fresh signing key first, the old keys kept to verify.
    Rotate {
        /// The variable holding the current list.
        #[arg(long, default_value = "SESSION_KEYS")]
        env: String,
        /// Keep at most this many old keys (the oldest are dropped).
        #[arg(long, default_value_t = 2)]
        keep: usize,
        /// The new key's id (default: the next `kN`).
        #[arg(long)]
        id: Option<String>,
    },
    /// Verify a token (a cookie value) and print its header and payload, or why it is refused.
    Inspect {
        /// The variable holding the key list.
        #[arg(long, default_value = "SESSION_KEYS")]
        env: String,
        /// The cookie name the token was minted for.
        #[arg(long, default_value = "session")]
        cookie_name: String,
        /// The application purpose the token was minted for, if one was configured.
        #[arg(long, default_value = "")]
        purpose: String,
        /// The token. A whole `name=value` pair is accepted too.
        token: String,
    },
}

/// `println!` that ends the program quietly when the reader went away (`session inspect ... |
/// head`): a closed pipe is not an error of ours, and `println!` would panic on it.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::write_line(format_args!($($arg)*))
    };
}

fn write_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("session: cannot write to standard output: {error}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { id, bytes } => keygen(&id, bytes),
        Command::CheckKey { key, env } => check_key(key, env),
        Command::Rotate { env, keep, id } => rotate(&env, keep, id),
        Command::Inspect {
            env,
            cookie_name,
            purpose,
            token,
        } => inspect(&env, &cookie_name, &purpose, &token),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("session: {message}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(id: &str, bytes: usize) -> Result<(), String> {
    let key = Key::generate_with_len(bytes).map_err(|e| e.to_string())?;
    // Checked through the same path users' values take, so the printed entry always loads.
    let ring = Keyring::new(id, key).map_err(|e| e.to_string())?;
    say!("{}", ring.to_env_value().as_str());
    Ok(())
}

fn check_key(key: Option<String>, env: Option<String>) -> Result<(), String> {
    let (source, text) = match (key, env) {
        (Some(key), _) => ("argument".to_owned(), key),
        (None, Some(var)) => {
            let text = std::env::var(&var)
                .map_err(|_| KeyringError::MissingVar { var: var.clone() }.to_string())?;
            (var, text)
        }
        (None, None) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            ("stdin".to_owned(), text)
        }
    };
    let text = text.trim();
    if text.contains(':') {
        let ring = Keyring::parse(&source, text).map_err(|e| format!("refused: {e}"))?;
        let ids: Vec<_> = ring.ids().map(|id| id.as_str()).collect();
        say!(
            "ok: {} key(s), {} signs, all verify: {}",
            ring.len(),
            ids[0],
            ids.join(", ")
        );
    } else {
        let key = Key::from_base64(text).map_err(|e| format!("refused: {e}"))?;
        say!("ok: a {}-byte key", key.len());
    }
    Ok(())
}

fn rotate(env: &str, keep: usize, id: Option<String>) -> Result<(), String> {
    let ring = Keyring::from_env(env).map_err(|e| e.to_string())?;
    let id = id.unwrap_or_else(|| next_id(&ring));
    let rotated = ring
        .rotated(&id, Key::generate(), keep)
        .map_err(|e| e.to_string())?;
    say!("{}", rotated.to_env_value().as_str());
    eprintln!(
        "new signing key {id}; verifying with {}. Deploy this value everywhere, then sessions signed by older keys are re-issued under {id} as users return.",
        rotated
            .ids()
            .skip(1)
            .map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// `k<N+1>` for the highest `k<N>` in the ring, else `k1` (or `k2` if `k1` is taken).
fn next_id(ring: &Keyring) -> String {
    let highest = ring
        .ids()
        .filter_map(|id| {
            id.as_str()
                .strip_prefix('k')
                .and_then(|n| n.parse::<u32>().ok())
        })
        .max()
        .unwrap_or(0);
    format!("k{}", highest + 1)
}

fn inspect(env: &str, cookie_name: &str, purpose: &str, token: &str) -> Result<(), String> {
    let ring = Keyring::from_env(env).map_err(|e| e.to_string())?;
    let config = SessionConfig::new(ring)
        .cookie(session_core::CookieSettings::default().name(cookie_name))
        .purpose(purpose);
    let manager = SessionManager::new(config).map_err(|e| e.to_string())?;
    let token = token.trim();
    let token = token
        .strip_prefix(&format!("{cookie_name}="))
        .unwrap_or(token);
    let info = manager
        .inspect(token)
        .map_err(|r| format!("refused ({}): {r}", r.code()))?;
    let now = OffsetDateTime::now_utc();
    let show = |t: OffsetDateTime| {
        let stamp = t
            .format(&Rfc3339)
            .unwrap_or_else(|_| t.unix_timestamp().to_string());
        let delta = (t - now).whole_seconds();
        let relative = if delta >= 0 {
            format!("in {}", human(delta))
        } else {
            format!("{} ago", human(-delta))
        };
        format!("{stamp} ({relative})")
    };
    say!("signature:         valid");
    say!("format:            {}", info.format);
    say!(
        "key id:            {}{}",
        info.key_id,
        if info.signed_by_current_key {
            " (current)"
        } else {
            " (older key: re-issued on next use)"
        }
    );
    say!(
        "encrypted:         {}",
        if info.encrypted {
            "yes (AES-256-GCM-SIV)"
        } else {
            "no (signed only)"
        }
    );
    say!(
        "schema:            {} v{} (fingerprint {:08x})",
        info.schema_name,
        info.schema_version,
        info.fingerprint
    );
    say!("issued:            {}", show(info.issued_at));
    say!("last active:       {}", show(info.last_active));
    say!("absolute deadline: {}", show(info.absolute_deadline));
    say!(
        "cookie lifetime:   {}",
        if info.persistent {
            "persistent until the absolute deadline (remember me)"
        } else {
            "browser session (or the configured Max-Age)"
        }
    );
    for (slot, deadline) in &info.field_deadlines {
        say!("field slot {slot}:      expires {}", show(*deadline));
    }
    say!("payload:           {} bytes (postcard)", info.payload.len());
    say!(
        "  hex:     {}",
        info.payload
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    say!("  strings: {}", printable_runs(&info.payload).join(" | "));
    Ok(())
}

fn human(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Runs of 3 or more printable ASCII characters: the strings in a postcard payload.
fn printable_runs(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| !(0x20..0x7f).contains(b))
        .filter(|run| run.len() >= 3)
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}
