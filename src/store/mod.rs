//! Storage: one implementation over sqlx's Any driver that runs on SQLite and PostgreSQL.
//!
//! sqlx's Any driver runs one set of SQL (`$1` placeholders, RETURNING, ON CONFLICT) on
//! both backends, so each repository below is written once; where the SQL must differ it
//! branches on [`Backend`] in that one function. Every repository function takes the
//! tenant id first (style.md convention 3) and runtime `query`/`query_as` with private row
//! structs (convention 6). Unique-index violations become `Error::Conflict` here, in
//! [`conflict_or`], and nowhere else (convention 5). Must not import core, http or axum.

pub mod apikeys;
pub mod audit;
pub mod clients;
pub mod delegations;
pub mod direct;
pub mod federation;
pub mod hot;
pub mod keys;
pub mod mappings;
pub mod networks;
pub mod passkeys;
pub mod privileges;
pub mod saml;
pub mod scim;
pub mod sessions;
pub mod staff;
pub mod tenants;
pub mod tokens;
pub mod users;

use crate::config::{Database, SqliteSynchronous};
use crate::error::{Error, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use sqlx::AnyConnection as Conn;

/// How long a write waits for the SQLite writer before it fails (as `busy_timeout`).
const WRITER_WAIT: Duration = Duration::from_secs(10);

/// A database transaction; core opens one per write and commits it. On SQLite it holds
/// the process's writer permit from `BEGIN IMMEDIATE` to commit or drop, so writers of one
/// process queue here instead of sleeping in SQLite's busy handler (other processes still
/// meet the busy handler). Derefs to the connection, like sqlx's `Transaction`.
pub struct Tx {
    // Field order matters: the transaction (rolled back if not committed) goes first,
    // then the permit.
    inner: sqlx::Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.inner
    }
}

/// A pooled connection holding the SQLite writer permit, for single-statement writes on
/// hot paths (no BEGIN/COMMIT round trips). On PostgreSQL it is a plain pooled connection.
pub struct Writer {
    conn: PoolConnection<Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for Writer {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: one writer at a time in this process (see [`Tx`]).
    writer: Option<Arc<Mutex<()>>>,
    /// SQLite only: a thread that runs hot write paths (see [`Store::on_writer`]).
    writer_thread: Option<Arc<WriterThread>>,
    /// SQLite only: connections of our own for the sign-in hot path (store/direct.rs).
    direct: Option<Arc<direct::Direct>>,
}

/// A current-thread runtime on its own OS thread. A write transaction's statements each
/// wait for SQLite's worker thread; run on the shared request workers, each of those waits
/// ends behind whatever else those workers are doing, and every other writer queues
/// behind the writer permit meanwhile. Here nothing else runs, so the permit is held for
/// little more than the statements themselves. The thread ends when the last clone of the
/// store is dropped.
#[derive(Debug)]
struct WriterThread {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WriterThread {
    fn start() -> Result<WriterThread> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("writer runtime: {e}")))?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _ = rt.block_on(stopped);
            })
            .map_err(|e| Error::internal(format!("writer thread: {e}")))?;
        Ok(WriterThread {
            handle,
            _stop: stop,
        })
    }
}

impl Store {
    /// Open the pool (creating an SQLite file and its directory when missing). Does not
    /// migrate: call [`Store::migrate`].
    pub async fn connect(db: &Database, sync: SqliteSynchronous) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let sync_pragma = match sync {
            SqliteSynchronous::Normal => "NORMAL",
            SqliteSynchronous::Full => "FULL",
        };
        let pragmas = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync_pragma}; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
             PRAGMA case_sensitive_like = ON; PRAGMA mmap_size = 268435456; \
             PRAGMA wal_autocheckpoint = 0;"
        );
        let mut direct = None;
        let (url, backend, max) = match db {
            Database::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::internal(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let abs = std::path::absolute(path).map_err(|e| {
                    Error::internal(format!("bad database path {}: {e}", path.display()))
                })?;
                direct = Some(Arc::new(direct::Direct::new(&abs, pragmas.clone())?));
                (
                    format!("sqlite://{}?mode=rwc", abs.display()),
                    Backend::Sqlite,
                    8,
                )
            }
            Database::Postgres(url) => (url.clone(), Backend::Postgres, 16),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| Error::internal(format!("bad database URL: {e}")))?;
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            // An embedded SQLite connection cannot drop like a network one; pinging it
            // before every acquire would cost a round trip to its worker thread each time.
            .test_before_acquire(backend == Backend::Postgres)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| Error::internal(format!("cannot open the database: {e}")))?;
        let writer = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let writer_thread = match backend {
            Backend::Sqlite => Some(Arc::new(WriterThread::start()?)),
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            backend,
            writer,
            writer_thread,
            direct,
        })
    }

    /// Apply every pending migration of this backend.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| Error::internal(format!("migration failed: {e}")))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A write transaction (`BEGIN IMMEDIATE` under the writer permit on SQLite).
    pub async fn begin(&self) -> Result<Tx> {
        let writer = self.writer_permit().await?;
        let inner = match writer {
            Some(_) => self.pool.begin_with("BEGIN IMMEDIATE").await,
            None => self.pool.begin().await,
        }
        .map_err(db)?;
        Ok(Tx {
            inner,
            _writer: writer,
        })
    }

    /// A connection for one autocommit write statement, holding the writer permit on
    /// SQLite. Never call while holding a [`Tx`] or another [`Writer`].
    pub async fn write(&self) -> Result<Writer> {
        let writer = self.writer_permit().await?;
        let conn = self.pool.acquire().await.map_err(db)?;
        Ok(Writer {
            conn,
            _writer: writer,
        })
    }

    /// Run a hot write path (a future that takes [`Store::begin`] or [`Store::write`]) on
    /// the SQLite writer thread; on PostgreSQL, where writers do not queue on one lock,
    /// right here.
    pub async fn on_writer<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        match &self.writer_thread {
            Some(w) => w
                .handle
                .spawn(work)
                .await
                .map_err(|e| Error::internal(format!("writer task: {e}")))?,
            None => work.await,
        }
    }

    /// SQLite only: the direct connections (store/direct.rs) for reads on hot paths.
    pub fn direct(&self) -> Option<&direct::Direct> {
        self.direct.as_deref()
    }

    /// SQLite only: run `work` as one write transaction on the direct writer connection,
    /// under the writer permit, synchronously on this thread (its statements take
    /// microseconds). `None` on PostgreSQL, where callers take the pooled path.
    pub async fn direct_write<T>(
        &self,
        work: impl FnOnce(&mut direct::DirectTx<'_>) -> Result<T>,
    ) -> Option<Result<T>> {
        let d = self.direct.as_ref()?;
        Some(match self.writer_permit().await {
            Ok(_permit) => d.write(work),
            Err(e) => Err(e),
        })
    }

    async fn writer_permit(&self) -> Result<Option<OwnedMutexGuard<()>>> {
        let Some(lock) = &self.writer else {
            return Ok(None);
        };
        match tokio::time::timeout(WRITER_WAIT, lock.clone().lock_owned()).await {
            Ok(guard) => Ok(Some(guard)),
            Err(_) => Err(Error::internal(
                "database: timed out waiting for the SQLite writer",
            )),
        }
    }

    /// A pooled connection for reads outside a transaction.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>> {
        self.pool.acquire().await.map_err(db)
    }

    /// `SELECT 1` within `timeout`: is the database reachable?
    pub async fn ping(&self, timeout: Duration) -> bool {
        if self.pool.is_closed() {
            return false;
        }
        let probe = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(_)))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// (connections open, connections idle, maximum), for /metrics.
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        (
            self.pool.size(),
            self.pool.num_idle(),
            self.pool.options().get_max_connections(),
        )
    }

    /// Names of every migration applied so far, in order.
    pub async fn applied_migrations(&self) -> Result<Vec<(i64, String)>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        Ok(rows)
    }

    pub async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM server_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.map(|r| r.0))
    }

    /// Insert a meta value unless one exists; returns the value now stored.
    pub async fn init_meta(&self, key: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        self.get_meta(key)
            .await?
            .ok_or_else(|| Error::internal("server_meta row vanished"))
    }
}

/// A database failure: detail for the log, nothing for the client.
pub fn db(e: sqlx::Error) -> Error {
    Error::Internal(format!("database: {e}"))
}

/// A unique-index violation becomes the given conflict; anything else is internal.
pub fn conflict_or(e: sqlx::Error, code: &'static str, message: impl Into<String>) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict {
            code,
            message: message.into(),
        },
        _ => db(e),
    }
}

/// Booleans are stored as 0/1 BIGINT (sqlx Any cannot decode SQLite BOOLEAN).
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}
