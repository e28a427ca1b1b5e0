//! Direct SQLite for the sign-in hot path (issue 5's throughput), beside the sqlx pool.
//!
//! sqlx runs every SQLite statement on the connection's own worker thread: each statement
//! is a message there and an answer back, two thread wake-ups, and a passkey sign-in
//! makes a dozen of them. Here the same SQL runs on connections this module owns (rusqlite
//! over the very libsqlite3 sqlx links, same file, same pragmas), synchronously on the
//! caller's thread: a write transaction of four statements costs tens of microseconds and
//! no thread hop. Writes still take the store's writer permit first (see `Store::direct_write`),
//! so they queue with the pool's writers instead of meeting SQLite's busy handler.
//!
//! Statements are the repositories' own SQL constants with `$1`, `$2`, ... placeholders;
//! arguments bind by those names, so their order in the text does not matter. Only
//! [`Val`] crosses this module's boundary; rusqlite stays inside.

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// A value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
}

impl Val {
    pub fn text(s: impl Into<String>) -> Val {
        Val::Text(s.into())
    }

    pub fn opt_text(s: Option<&str>) -> Val {
        s.map_or(Val::Null, |t| Val::Text(t.to_string()))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text of a column, or an internal error naming it.
    pub fn into_text(self, column: &str) -> Result<String> {
        match self {
            Val::Text(s) => Ok(s),
            other => Err(Error::internal(format!(
                "database: column {column} is {other:?}, not text"
            ))),
        }
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn db(e: rusqlite::Error) -> Error {
    Error::internal(format!("database: {e}"))
}

/// Reader connections kept open at most (more are opened and closed as needed).
const READERS: usize = 4;
/// How many prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 32;

/// How often the checkpointer copies the WAL back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The direct connections of one SQLite database: one writer, a few readers, and a
/// checkpointer thread.
#[derive(Debug)]
pub struct Direct {
    path: PathBuf,
    pragmas: String,
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// Dropped with the store: the checkpointer thread then ends.
    _checkpointer: std::sync::mpsc::Sender<()>,
}

/// Checkpoints run here, not inside a commit: every connection of this process opens with
/// `wal_autocheckpoint = 0`, so no writer copies the WAL back (and syncs the database file)
/// while it holds the writer permit. A passive checkpoint runs beside writers and readers.
fn checkpointer(path: PathBuf, pragmas: String, stop: std::sync::mpsc::Receiver<()>) {
    let mut conn: Option<Connection> = None;
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if conn.is_none() {
            conn = open_conn(&path, &pragmas).ok();
        }
        if let Some(c) = &conn {
            if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
    }
}

fn open_conn(path: &Path, pragmas: &str) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db)?;
    conn.execute_batch(pragmas).map_err(db)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// One write transaction (`BEGIN IMMEDIATE` ... `COMMIT`, or rolled back).
pub struct DirectTx<'a> {
    conn: &'a Connection,
    rollback: bool,
}

fn bind_run<T>(
    conn: &Connection,
    sql: &str,
    args: &[Val],
    run: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>,
) -> Result<T> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    if stmt.parameter_count() != args.len() {
        return Err(Error::internal(format!(
            "database: {} parameters given for {} in: {sql}",
            args.len(),
            stmt.parameter_count()
        )));
    }
    for (i, a) in args.iter().enumerate() {
        let name = format!("${}", i + 1);
        let idx = stmt
            .parameter_index(&name)
            .map_err(db)?
            .ok_or_else(|| Error::internal(format!("database: no {name} in: {sql}")))?;
        stmt.raw_bind_parameter(idx, a).map_err(db)?;
    }
    run(&mut stmt).map_err(db)
}

fn first_row(stmt: &mut rusqlite::Statement<'_>) -> rusqlite::Result<Option<Vec<Val>>> {
    let n = stmt.column_count();
    let mut rows = stmt.raw_query();
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        use rusqlite::types::ValueRef;
        out.push(match row.get_ref(i)? {
            ValueRef::Null => Val::Null,
            ValueRef::Integer(v) => Val::Int(v),
            ValueRef::Real(v) => Val::Int(v as i64),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                Val::Text(String::from_utf8_lossy(t).into_owned())
            }
        });
    }
    Ok(Some(out))
}

impl DirectTx<'_> {
    /// Run one statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, args: &[Val]) -> Result<usize> {
        bind_run(self.conn, sql, args, |s| s.raw_execute())
    }

    /// The first row a statement answers (a query, or a write with RETURNING).
    pub fn row(&mut self, sql: &str, args: &[Val]) -> Result<Option<Vec<Val>>> {
        bind_run(self.conn, sql, args, first_row)
    }

    /// End the transaction with a rollback instead of a commit, whatever is returned.
    pub fn roll_back(&mut self) {
        self.rollback = true;
    }
}

impl Direct {
    /// The direct side of the SQLite file at `path`, opened lazily with `pragmas`, and its
    /// checkpointer thread (see [`checkpointer`]; the pragmas must turn autocheckpoints
    /// off for that to matter).
    pub fn new(path: &Path, pragmas: String) -> Result<Direct> {
        let (stop, stopped) = std::sync::mpsc::channel();
        let (p, pr) = (path.to_path_buf(), pragmas.clone());
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpointer(p, pr, stopped))
            .map_err(|e| Error::internal(format!("checkpoint thread: {e}")))?;
        Ok(Direct {
            path: path.to_path_buf(),
            pragmas,
            writer: Mutex::new(None),
            readers: Mutex::new(Vec::new()),
            _checkpointer: stop,
        })
    }

    fn open(&self) -> Result<Connection> {
        open_conn(&self.path, &self.pragmas)
    }

    /// The first row of a read-only statement, on a reader connection.
    pub fn read_row(&self, sql: &str, args: &[Val]) -> Result<Option<Vec<Val>>> {
        let conn = match self.readers.lock().ok().and_then(|mut r| r.pop()) {
            Some(c) => c,
            None => self.open()?,
        };
        let out = bind_run(&conn, sql, args, first_row);
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() < READERS {
                readers.push(conn);
            }
        }
        out
    }

    /// Run `work` in one write transaction on the writer connection: committed when it
    /// returns `Ok` (unless it asked for a rollback), rolled back otherwise. The caller
    /// holds the store's writer permit.
    pub fn write<T>(&self, work: impl FnOnce(&mut DirectTx<'_>) -> Result<T>) -> Result<T> {
        let mut guard = self
            .writer
            .lock()
            .map_err(|_| Error::internal("database: direct writer poisoned"))?;
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        let conn = guard
            .as_ref()
            .ok_or_else(|| Error::internal("database: no direct writer"))?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        let mut tx = DirectTx {
            conn,
            rollback: false,
        };
        let out = work(&mut tx);
        let end = if out.is_ok() && !tx.rollback {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        if let Err(e) = conn.execute_batch(end) {
            // A failed COMMIT leaves the transaction open: end it so the connection stays
            // usable, and report the failure.
            let _ = conn.execute_batch("ROLLBACK");
            return Err(db(e));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_by_name_commits_and_rolls_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let d = Direct::new(&path, "PRAGMA journal_mode = WAL;".into()).expect("direct");
        let c = Connection::open(&path).expect("open");
        c.execute_batch("CREATE TABLE t (a TEXT, b INTEGER, c TEXT)")
            .expect("table");
        // $2 before $1 in the text: names, not positions, decide.
        let n = d
            .write(|tx| {
                tx.execute(
                    "INSERT INTO t (b, a, c) VALUES ($2, $1, $3)",
                    &[Val::text("x"), Val::Int(7), Val::Null],
                )
            })
            .expect("insert");
        assert_eq!(n, 1);
        let row = d
            .read_row("SELECT a, b, c FROM t WHERE b = $1", &[Val::Int(7)])
            .expect("read");
        assert_eq!(row, Some(vec![Val::text("x"), Val::Int(7), Val::Null]));
        // Asked to roll back, or failing: nothing stays.
        d.write(|tx| {
            tx.execute("DELETE FROM t", &[])?;
            tx.roll_back();
            Ok(())
        })
        .expect("rolled back");
        let failed: Result<()> = d.write(|tx| {
            tx.execute("DELETE FROM t", &[])?;
            Err(Error::internal("stop"))
        });
        assert!(failed.is_err());
        let row = d.read_row("SELECT COUNT(*) FROM t", &[]).expect("count");
        assert_eq!(row, Some(vec![Val::Int(1)]));
        // A wrong number of arguments is an error, never a NULL bound silently.
        let wrong = d.read_row("SELECT a FROM t WHERE b = $1", &[]);
        assert!(wrong.is_err());
        // DELETE ... RETURNING answers the row it removed.
        let taken = d
            .write(|tx| tx.row("DELETE FROM t WHERE a = $1 RETURNING b", &[Val::text("x")]))
            .expect("take");
        assert_eq!(taken, Some(vec![Val::Int(7)]));
    }

    #[test]
    fn the_checkpointer_copies_the_wal_back_without_autocheckpoints() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.db");
        let pragmas = "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;";
        let _created = Connection::open(&path).expect("create");
        let d = Direct::new(&path, pragmas.into()).expect("direct");
        d.write(|tx| tx.execute("CREATE TABLE t (v TEXT)", &[]))
            .expect("table");
        let before = std::fs::metadata(&path).expect("db").len();
        for _ in 0..50 {
            d.write(|tx| {
                tx.execute(
                    "INSERT INTO t (v) VALUES ($1)",
                    &[Val::text("x".repeat(4000))],
                )
            })
            .expect("insert");
        }
        // The rows sit in the WAL until the checkpointer copies them into the database.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).expect("db").len() < before + 50 * 4000 {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
