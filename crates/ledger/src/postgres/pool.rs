//! A small connection pool: at most `size` connections, made on demand,
//! kept while they work, dropped when the server closed them. Each
//! connection keeps the statements prepared on it (one round trip and one
//! parse saved each time a hot statement runs again).

use super::tls::MakeRustls;
use crate::LedgerError;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls, Statement};

/// A connection with the statements prepared on it, by SQL text.
struct Pooled {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// The pool.
pub(crate) struct Pool {
    config: Config,
    tls: MakeRustls,
    idle: Mutex<Vec<Pooled>>,
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
            while let Some(pooled) = idle.pop() {
                if !pooled.client.is_closed() {
                    found = Some(pooled);
                    break;
                }
            }
            found
        };
        let pooled = match reused {
            Some(pooled) => pooled,
            None => Pooled {
                client: self.connect().await?,
                statements: HashMap::new(),
            },
        };
        Ok(Conn {
            pooled: Some(pooled),
            pool: self,
            discarded: false,
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

/// A connection of the pool, given back on drop (unless
/// [`Conn::discard`]ed).
pub(crate) struct Conn<'a> {
    pooled: Option<Pooled>,
    pool: &'a Pool,
    discarded: bool,
    _permit: SemaphorePermit<'a>,
}

impl Conn<'_> {
    /// The statement `sql`, prepared on this connection the first time
    /// and kept with it.
    pub(crate) async fn prepared(&mut self, sql: &str) -> Result<Statement, LedgerError> {
        let pooled = self.pooled.as_mut().unwrap_or_else(|| unreachable!());
        if let Some(statement) = pooled.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = pooled.client.prepare(sql).await?;
        pooled.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Closes the connection when it is dropped instead of giving it
    /// back (its session may be in a state the next user must not
    /// inherit, such as an open transaction). Closing it rolls back what
    /// it did not commit.
    pub(crate) fn discard(&mut self) {
        self.discarded = true;
    }

    /// Undoes [`Conn::discard`]: the session is clean again.
    pub(crate) fn keep(&mut self) {
        self.discarded = false;
    }
}

impl Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        // Always `Some` until drop.
        &self
            .pooled
            .as_ref()
            .unwrap_or_else(|| unreachable!())
            .client
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self
            .pooled
            .as_mut()
            .unwrap_or_else(|| unreachable!())
            .client
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let kept = self
            .pooled
            .take()
            .filter(|p| !self.discarded && !p.client.is_closed());
        if let Some(pooled) = kept {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(pooled);
        }
    }
}
