//! Finding session-core from the manifest of the crate being compiled.
//!
//! Normal dependencies come first: a crate that has an adapter in `[dependencies]` and
//! session-core in `[dev-dependencies]` (to call `assert_schema!` in tests, say) must reach the
//! runtime through the adapter, because its library build cannot see dev-dependencies.
//! Dev-dependencies are looked at only when no normal dependency provides the runtime; then
//! only test targets can use the derive anyway.

use std::path::PathBuf;

use toml_edit::{DocumentMut, Item, TableLike};

/// Packages that provide the runtime, in order of preference.
const CORE: &str = "session-core";
const ADAPTERS: [&str; 4] = [
    "session-axum",
    "session-actix",
    "session-rocket",
    "session-salvo",
];

/// How generated code reaches session-core.
pub(crate) enum Runtime {
    /// Directly, as the extern crate of this name.
    Core(String),
    /// Through the hidden `__session_core` re-export of the adapter with this crate name.
    Adapter(String),
}

/// The runtime for the crate being compiled, or `None` when its manifest cannot be read or
/// names none (the caller then assumes `::session_core`).
pub(crate) fn find_runtime() -> Option<Runtime> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let text = std::fs::read_to_string(PathBuf::from(dir).join("Cargo.toml")).ok()?;
    let manifest: DocumentMut = text.parse().ok()?;
    let own = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(Item::as_str);
    match own {
        // session-core's own tests and doctests see it by name.
        Some(CORE) => return Some(Runtime::Core("session_core".to_owned())),
        // An adapter's own tests and doctests.
        Some(own) if ADAPTERS.contains(&own) => {
            return Some(Runtime::Adapter(own.replace('-', "_")));
        }
        _ => {}
    }
    ["dependencies", "dev-dependencies"]
        .into_iter()
        .find_map(|kind| runtime_in(&dep_tables(&manifest, kind)))
}

/// The runtime among the given dependency tables: session-core first, then an adapter.
fn runtime_in(tables: &[&dyn TableLike]) -> Option<Runtime> {
    let find = |package: &str| {
        tables.iter().find_map(|table| {
            table.iter().find_map(|(key, value)| {
                let name = value.get("package").and_then(Item::as_str).unwrap_or(key);
                (name == package).then(|| key.replace('-', "_"))
            })
        })
    };
    if let Some(name) = find(CORE) {
        return Some(Runtime::Core(name));
    }
    ADAPTERS.into_iter().find_map(find).map(Runtime::Adapter)
}

/// `[<kind>]` and every `[target.<cfg>.<kind>]` table.
fn dep_tables<'a>(manifest: &'a DocumentMut, kind: &str) -> Vec<&'a dyn TableLike> {
    let top = manifest.get(kind).and_then(Item::as_table_like);
    let targets = manifest
        .get("target")
        .and_then(Item::as_table_like)
        .into_iter()
        .flat_map(|targets| targets.iter())
        .filter_map(|(_, target)| target.get(kind).and_then(Item::as_table_like));
    top.into_iter().chain(targets).collect()
}
