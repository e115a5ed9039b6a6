//! A small connection pool: at most `size` connections, made on demand,
//! kept while they work, dropped when the server closed them.

use super::tls::MakeRustls;
use crate::LedgerError;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};

/// The pool.
pub(crate) struct Pool {
    config: Config,
    tls: MakeRustls,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of at most `size` connections (at least one).
    pub(crate) fn new(config: Config, tls: MakeRustls, size: usize) -> Pool {
        Pool {
            config,
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// A connection, waiting while all are in use.
    pub(crate) async fn get(&self) -> Result<Conn<'_>, LedgerError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| LedgerError::Backend(Box::new(e)))?;
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let mut found = None;
            while let Some(client) = idle.pop() {
                if !client.is_closed() {
                    found = Some(client);
                    break;
                }
            }
            found
        };
        let client = match reused {
            Some(client) => client,
            None => self.connect().await?,
        };
        Ok(Conn {
            client: Some(client),
            pool: self,
            _permit: permit,
        })
    }

    async fn connect(&self) -> Result<Client, LedgerError> {
        let client = if self.config.get_ssl_mode() == SslMode::Disable {
            let (client, connection) = self.config.connect(NoTls).await?;
            tokio::spawn(connection);
            client
        } else {
            let (client, connection) = self.config.connect(self.tls.clone()).await?;
            tokio::spawn(connection);
            client
        };
        Ok(client)
    }
}

/// A connection of the pool, given back on drop.
pub(crate) struct Conn<'a> {
    client: Option<Client>,
    pool: &'a Pool,
    _permit: SemaphorePermit<'a>,
}

impl Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        // Always `Some` until drop.
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take().filter(|c| !c.is_closed()) {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(client);
        }
    }
}
