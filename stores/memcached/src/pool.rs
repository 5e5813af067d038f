//! Connections to memcached: a pool that lends one to each operation (at most
//! `max_connections` at a time, through a semaphore), keeps returned ones in an idle list,
//! drops broken ones, and retries an operation once on a new connection when a kept one was
//! dead (memcached restarted), all within the store's timeout.

use std::future::Future;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_memcached::Client;
use tokio::sync::{Semaphore, SemaphorePermit};

use session_core::store::StoreError;

use crate::error::{Fail, timed_out};

/// Connections a store opens at most, unless
/// [`MemcachedStore::with_max_connections`](crate::MemcachedStore::with_max_connections) says.
const DEFAULT_MAX_CONNECTIONS: usize = 16;

/// The connections of one store, to one memcached server.
pub(crate) struct Pool {
    addr: String,
    timeout: Duration,
    max_connections: usize,
    permits: Semaphore,
    idle: Mutex<Vec<Client>>,
}

/// A connection lent to one operation.
pub(crate) struct Conn<'a> {
    pub(crate) client: Client,
    /// Taken from the idle list rather than opened for this operation.
    pub(crate) reused: bool,
    _permit: SemaphorePermit<'a>,
}

/// Runs the operation `$body` (which uses `$client: &mut Client`) on a connection of the
/// pool `$pool`, within its timeout; retries once on a fresh connection when a kept one was
/// dead.
macro_rules! with_client {
    ($pool:expr, $client:ident => $body:expr) => {{
        let pool: &$crate::pool::Pool = &$pool;
        pool.timed(async move {
            let mut retried = false;
            loop {
                let mut conn = pool
                    .checkout()
                    .await
                    .map_err($crate::error::Fail::into_store)?;
                let result = {
                    let $client = &mut conn.client;
                    $body
                };
                let reused = conn.reused;
                pool.checkin(conn.client);
                match result {
                    Ok(value) => break Ok(value),
                    Err(fail) if reused && !retried && fail.is_connection() => {
                        // memcached restarted: every kept connection is dead.
                        pool.clear_idle();
                        retried = true;
                    }
                    Err(fail) => break Err(fail.into_store()),
                }
            }
        })
    }};
}
pub(crate) use with_client;

impl Pool {
    /// Opens a first connection to `addr` (`host:port` is read as `tcp://host:port`) within
    /// `timeout`.
    pub(crate) async fn connect(addr: &str, timeout: Duration) -> Result<Self, StoreError> {
        let addr = if addr.contains("://") {
            addr.to_owned()
        } else {
            format!("tcp://{addr}")
        };
        let client = match tokio::time::timeout(timeout, Client::new(&addr)).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => return Err(StoreError::connect("memcached", &addr, error)),
            Err(_) => {
                let error = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {timeout:?}"),
                );
                return Err(StoreError::connect("memcached", &addr, error));
            }
        };
        Ok(Self {
            addr,
            timeout,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            permits: Semaphore::new(DEFAULT_MAX_CONNECTIONS),
            idle: Mutex::new(vec![client]),
        })
    }

    /// Opens at most `max` connections (at least 1).
    pub(crate) fn set_max_connections(&mut self, max: usize) {
        self.max_connections = max.max(1);
        self.permits = Semaphore::new(self.max_connections);
    }

    /// The server's address, with its scheme.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn max_connections(&self) -> usize {
        self.max_connections
    }

    pub(crate) async fn timed<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, operation)
            .await
            .unwrap_or_else(|_| Err(timed_out(self.timeout)))
    }

    pub(crate) async fn checkout(&self) -> Result<Conn<'_>, Fail> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Fail::Store(StoreError::unavailable(e)))?;
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let (client, reused) = match kept {
            Some(client) if !client.is_closed() => (client, true),
            _ => (Client::new(&self.addr).await?, false),
        };
        Ok(Conn {
            client,
            reused,
            _permit: permit,
        })
    }

    /// Keeps `client` for the next operation unless its connection is closed (it is after
    /// any I/O error or an interrupted command).
    pub(crate) fn checkin(&self, client: Client) {
        if !client.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.max_connections {
                idle.push(client);
            }
        }
    }

    pub(crate) fn clear_idle(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
