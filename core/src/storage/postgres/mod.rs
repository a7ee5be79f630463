//! Studies in PostgreSQL, shared by processes on many machines (the `postgres` feature).
//!
//! The same events as the journal, one row each, in the order the study folds them:
//!
//! ```text
//! knob_schema (version)                        the schema's version, one row
//! knob_studies (id, name unique, direction, space, created)
//! knob_events (study_id, seq, event_id, body)  primary key (study_id, seq),
//!                                              unique (study_id, event_id)
//! ```
//!
//! Every append takes the study's advisory lock, so `seq` is handed out one at a time
//! and commits in its own order: readers fold events by `seq` and trial numbers stay
//! event order. A study holds the same lock (session-level) from reading new events to
//! appending a trial's start.
//!
//! Faults: a dropped connection or a restarted server is reconnected with backoff, up to
//! the timeout of [`PostgresStorage::connect_with_timeout`]. An append whose commit is
//! unknown (the connection broke during it) is settled by its client-made event id:
//! present, it committed; absent, it did not and is retried. A lock lost with its
//! connection is reported as [`Error::LockLost`] (or [`Error::RolledBack`] when held-back
//! events were lost with it), which the study answers by redoing the whole locked step,
//! so no trial number is handed out twice.

mod connect;
mod tls;

use std::fmt;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, Config};

use super::{Event, Record, Storage};
use crate::error::{Error, Result};
use connect::{config_from, Server};

/// The schema this build creates and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The first key of every advisory lock knob takes ("knob" in ASCII), so that other
/// applications' advisory locks on the same database do not collide with ours.
const LOCK_CLASS: i32 = 0x6b6e_6f62;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS knob_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS knob_studies (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    direction TEXT,
    space TEXT,
    created TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS knob_events (
    study_id BIGINT NOT NULL REFERENCES knob_studies (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (study_id, seq),
    UNIQUE (study_id, event_id)
);";

/// A study of a PostgreSQL database, as [`PostgresStorage::studies`] lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRow {
    /// Its unique name.
    pub name: String,
    /// `minimize` or `maximize`, once the study was created by a `Study`.
    pub direction: Option<String>,
    /// How many trials it has started.
    pub trials: i64,
    /// When it was created, as PostgreSQL prints it.
    pub created: String,
}

/// One study's events in a PostgreSQL database.
///
/// Credentials come from the URL, then the standard `PGHOST`, `PGPORT`, `PGUSER`,
/// `PGPASSWORD`, `PGDATABASE` and `PGSSLMODE` variables, then `~/.pgpass` (or
/// `PGPASSFILE`). TLS follows `sslmode` (`disable`, `prefer`, the default, or `require`),
/// through the system's TLS library. Messages name the server as
/// `postgresql://user@host:port/db`, never with the password.
///
/// ```no_run
/// # use knob_core::{PostgresStorage, Scale, SearchSpace, Study};
/// # use knob_core::testing::UniformSampler;
/// let space = SearchSpace::builder().float("lr", 1e-4, 1e-1, Scale::Log).build()?;
/// let storage = PostgresStorage::connect("postgres://knob@db.lan/studies", "mnist-mlp")?;
/// let study = Study::builder(space).sampler(UniformSampler).storage(storage).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PostgresStorage {
    config: Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    server: Server,
    study: String,
    study_id: i64,
    session: Option<Session>,
    timeout: Duration,
    /// Bumped on every new connection: a session lock lives only as long as its
    /// connection.
    connection: u64,
    /// The connection the study's lock was taken on, while it is held.
    locked_on: Option<u64>,
    /// The last `seq` this handle knows of (returned by `read_new` or buffered).
    read_up_to: i64,
    /// While the lock is held: whether this handle knows every event of the study, so
    /// that it can number its own appends and need not ask for events (no one else can
    /// append). Saves two round trips in each locked step.
    complete: bool,
    /// Events known but not yet returned by `read_new`.
    buffered: Vec<Record>,
    /// Appends of the locked step, sent with the unlock in one round trip.
    deferred: Vec<Pending>,
}

/// An append held back until the locked step ends.
struct Pending {
    id: String,
    seq: i64,
    body: String,
    event: Event,
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresStorage({})", self.location())
    }
}

impl PostgresStorage {
    /// Opens study `study` of the database at `url` (`postgres://user:pw@host:port/db`,
    /// `postgresql://…` or a `key=value` connection string), creating the schema and
    /// the study's row if they are missing. Waits up to 30 s for the server.
    pub fn connect(url: &str, study: &str) -> Result<Self> {
        Self::connect_with_timeout(url, study, Duration::from_secs(30))
    }

    /// [`PostgresStorage::connect`], waiting up to `timeout` for an unreachable server
    /// now and on every reconnect later.
    pub fn connect_with_timeout(url: &str, study: &str, timeout: Duration) -> Result<Self> {
        if study.is_empty() {
            return Err(Error::Config("a PostgreSQL study needs a name".into()));
        }
        let mut storage = Self::open(url, timeout)?;
        storage.study = study.to_owned();
        let name = storage.study.clone();
        storage.study_id = storage.run(|c| {
            c.execute(
                "INSERT INTO knob_studies (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                &[&name],
            )?;
            c.query_one("SELECT id FROM knob_studies WHERE name = $1", &[&name])
                .map(|row| row.get::<_, i64>(0))
        })?;
        Ok(storage)
    }

    /// A connection to the database at `url`, with the schema in place, no study yet.
    fn open(url: &str, timeout: Duration) -> Result<Self> {
        let (config, verify, root_cert) = config_from(url)?;
        let server = Server::of(&config);
        let tls = tls::connector(verify, root_cert).map_err(|message| Error::Storage {
            location: server.to_string(),
            message: format!("TLS: {message}"),
        })?;
        let mut storage = Self {
            config,
            tls,
            server,
            study: String::new(),
            study_id: 0,
            session: None,
            timeout,
            connection: 0,
            locked_on: None,
            read_up_to: 0,
            complete: false,
            buffered: Vec::new(),
            deferred: Vec::new(),
        };
        storage.prepare_schema()?;
        Ok(storage)
    }

    /// The studies of the database at `url`, by name.
    pub fn studies(url: &str) -> Result<Vec<StudyRow>> {
        let mut storage = Self::open(url, Duration::from_secs(30))?;
        storage.run(|c| {
            let rows = c.query(
                "SELECT s.name, s.direction, to_char(s.created, 'YYYY-MM-DD HH24:MI:SS TZ'), \
                 (SELECT count(*) FROM knob_events e WHERE e.study_id = s.id \
                  AND e.body LIKE '{\"event\":\"trial_started\"%') \
                 FROM knob_studies s ORDER BY s.name",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| StudyRow {
                    name: r.get(0),
                    direction: r.get(1),
                    created: r.get(2),
                    trials: r.get(3),
                })
                .collect())
        })
    }

    /// Deletes study `name` and its events; false when there was none.
    pub fn delete_study(url: &str, name: &str) -> Result<bool> {
        let mut storage = Self::open(url, Duration::from_secs(30))?;
        let name = name.to_owned();
        storage.run(|c| {
            c.execute("DELETE FROM knob_studies WHERE name = $1", &[&name])
                .map(|n| n > 0)
        })
    }

    /// Creates the tables if they are missing (under a lock, as several processes may
    /// start at once) and refuses a schema newer than this build's.
    fn prepare_schema(&mut self) -> Result<()> {
        // Usually the schema is there: one query says so.
        let existing =
            self.run(
                |c| match c.query_one("SELECT max(version) FROM knob_schema", &[]) {
                    Ok(row) => Ok(row.get::<_, Option<i32>>(0)),
                    Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
                    Err(e) => Err(e),
                },
            )?;
        let version = match existing {
            Some(version) => version,
            None => self.run(|c| {
                let mut tx = c.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&LOCK_CLASS])?;
                tx.batch_execute(SCHEMA)?;
                let version: Option<i32> = tx
                    .query_one("SELECT max(version) FROM knob_schema", &[])?
                    .get(0);
                if version.is_none() {
                    tx.execute(
                        "INSERT INTO knob_schema (version) VALUES ($1)",
                        &[&SCHEMA_VERSION],
                    )?;
                }
                tx.commit()?;
                Ok(version.unwrap_or(SCHEMA_VERSION))
            })?,
        };
        if version > SCHEMA_VERSION {
            return Err(self.error(format!(
                "the database's knob schema is version {version}, newer than this build's \
                 {SCHEMA_VERSION}: upgrade knob to open it"
            )));
        }
        Ok(())
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Storage {
            location: self.location(),
            message: message.into(),
        }
    }

    /// The open connection, or a new one; waits for the server with backoff up to the
    /// timeout. Refused credentials or a missing database fail at once.
    fn client(&mut self) -> Result<&mut Client> {
        if self.session.as_ref().is_some_and(|s| !s.client.is_closed()) {
            return Ok(&mut self.session.as_mut().expect("checked above").client);
        }
        self.session = None;
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            // Commits need not wait for the disk but where an append asks (see `insert`).
            let connected = self
                .config
                .connect(self.tls.clone())
                .and_then(|mut client| {
                    client.batch_execute(
                        "SET synchronous_commit = off; SET standard_conforming_strings = on",
                    )?;
                    Ok(client)
                });
            match connected {
                Ok(client) => {
                    self.connection += 1;
                    let session = self.session.insert(Session {
                        client,
                        statements: Vec::new(),
                    });
                    return Ok(&mut session.client);
                }
                Err(e) if !is_transient(&e) => return Err(self.error(describe(&e))),
                Err(e) if started.elapsed() >= self.timeout => {
                    return Err(self.error(format!(
                        "the server could not be reached for {:.0} s: {}",
                        self.timeout.as_secs_f64(),
                        describe(&e)
                    )))
                }
                Err(_) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Runs `op`, reconnecting and running it again when the connection breaks.
    /// Only for operations that are safe to repeat.
    fn run<T>(
        &mut self,
        mut op: impl FnMut(&mut Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        loop {
            match op(self.client()?) {
                Ok(value) => return Ok(value),
                Err(e) if is_transient(&e) => self.session = None,
                Err(e) => return Err(self.error(describe(&e))),
            }
        }
    }

    /// Whether the study's lock was lost with a connection since it was taken.
    fn lock_lost(&self) -> bool {
        self.locked_on.is_some_and(|c| c != self.connection)
    }

    /// Inserts one event at the next free number, in a transaction that takes the
    /// study's lock (a no-op addition when this session already holds it). A `durable`
    /// event's commit waits for the disk; sessions' commits otherwise do not.
    fn insert_now(
        &mut self,
        id: &str,
        body: &str,
        durable: bool,
    ) -> std::result::Result<(), postgres::Error> {
        let (study, key) = (self.study_id, study_key(self.study_id));
        let (sync, from) = if durable {
            (
                "WITH durable AS (SELECT set_config('synchronous_commit', 'on', true)) ",
                ", durable",
            )
        } else {
            ("", "")
        };
        let sql = format!(
            "{sync}INSERT INTO knob_events (study_id, seq, event_id, body) \
             SELECT $1, coalesce(max(seq), 0) + 1, $2, $3 FROM knob_events{from} \
             WHERE study_id = $1 ON CONFLICT (study_id, event_id) DO NOTHING"
        );
        let Some(session) = self.session.as_mut() else {
            unreachable!("insert_now runs after client()")
        };
        let statement = session.statement(&sql)?;
        let mut tx = session.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&LOCK_CLASS, &key])?;
        tx.execute(&statement, &[&study, &id, &body])?;
        tx.commit()
    }

    /// Whether the study's lock is held, on the live connection, with every event known:
    /// then nobody else can append, and this handle numbers its own appends.
    fn knows_all(&self) -> bool {
        self.locked_on.is_some() && !self.lock_lost() && self.complete
    }

    /// Sends the step's held-back appends, their commit, the unlock and, for durable
    /// events, the wait for the disk, in that order, in one round trip (the statements of one simple query share a transaction until
    /// it is committed). The values are inlined: numbers, a hex id, and each body as a
    /// literal with its quotes doubled, which `standard_conforming_strings` (set per
    /// session) makes a complete escape.
    fn flush_and_unlock(&mut self) -> Result<()> {
        let deferred = std::mem::take(&mut self.deferred);
        let durable = deferred.iter().any(|p| p.event.is_durable());
        let rows: Vec<String> = deferred
            .iter()
            .map(|p| {
                format!(
                    "({}, {}, '{}', '{}')",
                    self.study_id,
                    p.seq,
                    p.id,
                    p.body.replace('\'', "''")
                )
            })
            .collect();
        // The commit does not wait for the disk, so the lock is held only while the
        // rows are written; a durable event then waits for the disk outside it: a
        // transaction with an id commits synchronously, flushing all WAL before it.
        let sql = format!(
            "INSERT INTO knob_events (study_id, seq, event_id, body) VALUES {} \
             ON CONFLICT (study_id, event_id) DO NOTHING; COMMIT; \
             SELECT pg_advisory_unlock({LOCK_CLASS}, {}){}",
            rows.join(", "),
            study_key(self.study_id),
            if durable {
                "; SELECT set_config('synchronous_commit', 'on', true), txid_current()"
            } else {
                ""
            },
        );
        let sent = if self.lock_lost() {
            None // the lock went with an old connection: these must not be written
        } else {
            Some(self.client()?.simple_query(&sql))
        };
        self.locked_on = None;
        match sent {
            Some(Ok(_)) => {}
            Some(Err(e)) if !is_transient(&e) => return Err(self.error(describe(&e))),
            failed => {
                // Whether they committed is unknown: the last event id settles it (one
                // transaction: all or none).
                if failed.is_some() {
                    self.session = None;
                }
                let last = &deferred.last().expect("not empty").id;
                if failed.is_none() || !self.committed(last)? {
                    return Err(Error::RolledBack {
                        location: self.location(),
                    });
                }
            }
        }
        for pending in &deferred {
            self.note_created(&pending.event)?;
        }
        Ok(())
    }

    /// The event as stored; nothing non-finite, which JSON cannot hold.
    fn body(&self, event: &Event) -> Result<String> {
        if let Some(what) = event.non_finite() {
            return Err(self.error(format!(
                "refusing to write an event with a non-finite {what}"
            )));
        }
        serde_json::to_string(event).map_err(|e| self.error(e.to_string()))
    }

    /// Records a study's direction and space beside its name, for listings.
    fn note_created(&mut self, event: &Event) -> Result<()> {
        let Event::StudyCreated {
            direction,
            directions,
            space,
            ..
        } = event
        else {
            return Ok(());
        };
        // One direction, or several joined by commas ("maximize,minimize").
        let name = |d: &crate::Direction| {
            serde_json::to_value(d)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let direction = if directions.is_empty() {
            name(direction)
        } else {
            directions
                .iter()
                .map(name)
                .collect::<Option<Vec<_>>>()
                .map(|names| names.join(","))
        };
        let space = serde_json::to_string(space).ok();
        let study = self.study_id;
        self.run(|c| {
            c.execute(
                "UPDATE knob_studies SET direction = $2, space = $3 WHERE id = $1 AND space IS NULL",
                &[&study, &direction, &space],
            )
        })
        .map(drop)
    }

    /// Buffers the `(seq, body)` rows of a simple query's answer as records.
    fn take_rows(&mut self, messages: &[postgres::SimpleQueryMessage]) -> Result<()> {
        for message in messages {
            let postgres::SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            if row.len() != 2 {
                continue; // the lock's own row
            }
            let (Some(seq), Some(body)) = (row.get(0), row.get(1)) else {
                continue;
            };
            let seq: i64 = seq
                .parse()
                .map_err(|_| self.error(format!("event number {seq:?} is not a number")))?;
            let event = serde_json::from_str(body)
                .map_err(|e| self.error(format!("event {seq} is not a valid event: {e}")))?;
            self.buffered.push(Record {
                position: seq as u64,
                event,
            });
            self.read_up_to = seq;
        }
        Ok(())
    }

    fn committed(&mut self, id: &str) -> Result<bool> {
        let (study, id) = (self.study_id, id.to_owned());
        self.run(|c| {
            c.query_opt(
                "SELECT 1 FROM knob_events WHERE study_id = $1 AND event_id = $2",
                &[&study, &id],
            )
            .map(|row| row.is_some())
        })
    }
}

impl Storage for PostgresStorage {
    fn append(&mut self, event: &Event) -> Result<()> {
        let body = self.body(event)?;
        let id = format!("{:032x}", rand::random::<u128>());
        if self.knows_all() {
            // The next number is ours; the insert goes with the unlock.
            let seq = self.read_up_to + 1;
            self.read_up_to = seq;
            self.buffered.push(Record {
                position: seq as u64,
                event: event.clone(),
            });
            self.deferred.push(Pending {
                id,
                seq,
                body,
                event: event.clone(),
            });
            return Ok(());
        }
        loop {
            if self.lock_lost() {
                return Err(Error::LockLost {
                    location: self.location(),
                });
            }
            self.client()?;
            match self.insert_now(&id, &body, event.is_durable()) {
                Ok(()) => break,
                Err(e) if is_transient(&e) => {
                    // Whether it committed is unknown: the event id settles it.
                    self.session = None;
                    self.complete = false;
                    if self.committed(&id)? {
                        break;
                    }
                }
                Err(e) => return Err(self.error(describe(&e))),
            }
        }
        self.note_created(event)
    }

    fn read_new(&mut self) -> Result<Vec<Record>> {
        // Known events come first; under the lock with all of them known, they are all.
        if self.knows_all() || !self.buffered.is_empty() {
            return Ok(std::mem::take(&mut self.buffered));
        }
        let sql = format!(
            "SELECT seq, body FROM knob_events WHERE study_id = {} AND seq > {} ORDER BY seq",
            self.study_id, self.read_up_to
        );
        let messages = self.run(|c| c.simple_query(&sql))?;
        self.take_rows(&messages)?;
        Ok(std::mem::take(&mut self.buffered))
    }

    fn lock(&mut self) -> Result<()> {
        if self.locked_on.is_some() {
            return Ok(());
        }
        // One round trip: the lock, then what was appended since the last read.
        let sql = format!(
            "SELECT pg_advisory_lock({LOCK_CLASS}, {}); \
             SELECT seq, body FROM knob_events WHERE study_id = {} AND seq > {} ORDER BY seq",
            study_key(self.study_id),
            self.study_id,
            self.read_up_to
        );
        let messages = self.run(|c| c.simple_query(&sql))?;
        self.locked_on = Some(self.connection);
        self.take_rows(&messages)?;
        self.complete = true;
        Ok(())
    }

    fn unlock(&mut self) -> Result<()> {
        self.complete = false;
        if !self.deferred.is_empty() {
            return self.flush_and_unlock();
        }
        let Some(on) = self.locked_on.take() else {
            return Ok(());
        };
        if on != self.connection {
            return Ok(()); // the server released it with the old connection
        }
        let key = study_key(self.study_id);
        if let Some(client) = self.session.as_mut().map(|s| &mut s.client) {
            match client.execute("SELECT pg_advisory_unlock($1, $2)", &[&LOCK_CLASS, &key]) {
                Ok(_) => {}
                // The connection broke: the server drops its locks with it.
                Err(e) if is_transient(&e) => self.session = None,
                Err(e) => return Err(self.error(describe(&e))),
            }
        }
        Ok(())
    }

    fn rewind(&mut self) -> Result<()> {
        self.read_up_to = 0;
        self.buffered.clear();
        self.deferred.clear();
        self.complete = false;
        Ok(())
    }

    fn location(&self) -> String {
        format!("{} (study {})", self.server, self.study)
    }
}

/// A connection and the statements prepared on it (a prepared statement saves a
/// round trip per use).
struct Session {
    client: Client,
    statements: Vec<(String, postgres::Statement)>,
}

impl Session {
    fn statement(
        &mut self,
        sql: &str,
    ) -> std::result::Result<postgres::Statement, postgres::Error> {
        if let Some((_, s)) = self.statements.iter().find(|(q, _)| q == sql) {
            return Ok(s.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.push((sql.to_owned(), statement.clone()));
        Ok(statement)
    }
}

/// The second key of a study's advisory lock.
fn study_key(study: i64) -> i32 {
    (study as u64 % (i32::MAX as u64)) as i32
}

/// Whether an error means the connection is gone or the server is (re)starting, so
/// that reconnecting may help. A refused TLS handshake will not get better.
fn is_transient(e: &postgres::Error) -> bool {
    let tls = e.to_string().starts_with("error performing TLS handshake");
    match e.code() {
        None => e.as_db_error().is_none() && !tls,
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(code)
        }
    }
}

/// An error in words, with the server's own message for database errors.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) if *db.code() == SqlState::INVALID_PASSWORD => {
            format!("the password was refused ({})", db.message())
        }
        Some(db) if *db.code() == SqlState::INVALID_CATALOG_NAME => {
            format!("no such database ({}): create it first", db.message())
        }
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            text
        }
    }
}
