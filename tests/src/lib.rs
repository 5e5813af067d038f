//! Conformance suites for [session-core](session_core): prove a web-framework adapter or a
//! session store against the two contracts, the way this workspace proves its own.
//!
//! - [`adapter`]: implement [`ConformanceApp`](adapter::ConformanceApp) (serve a dozen small
//!   routes with your adapter) and call [`adapter::run_suite`]. Every check runs over real
//!   HTTP on loopback, with sessions in the cookie, in a `MemoryStore`, and (with the default
//!   features) in a real `redis-server`, a Redis Cluster and `memcached`.
//! - [`store`]: call [`store::run_suite`] with a function that makes your
//!   [`SessionStore`](session_core::store::SessionStore). The checks cover the record
//!   contract on the store alone and store mode through `SessionManager`, as an application
//!   meets it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use session_core::store::MemoryStore;
//! use session_testing::store::{StoreUnderTest, run_suite};
//!
//! #[test]
//! fn memory_store_keeps_the_store_contract() {
//!     run_suite("memory", &|| Some(StoreUnderTest::new(Arc::new(MemoryStore::new(10_000)))));
//! }
//! ```
//!
//! A check that needs a server which is not installed is skipped, and the suite says how many
//! were skipped and why when it ends; under CI (`CI` set to anything but empty, `0`, `false`
//! or `no`) it fails instead. Failures are collected: the suite runs every check and then
//! panics with the list of those that failed.
//!
//! # Feature flags
//! | feature | default | what it adds |
//! |---|---|---|
//! | `redis` | yes | adapter checks with sessions in `redis-server` and a Redis Cluster (`session-store-redis`) |
//! | `memcached` | yes | adapter checks with sessions in `memcached` (`session-store-memcached`) |
//! | `sql` | yes | this crate's own tests of `session-store-sql` (PostgreSQL and SQLite) |

#![deny(missing_docs)]

pub mod adapter;
pub mod http;
mod report;
pub mod servers;
pub mod store;
