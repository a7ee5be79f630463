//! One suite for every storage: memory, the journal and (with the `postgres` feature)
//! PostgreSQL. Each must hand back events in the order they were appended, to every
//! reader and after a reopen, and let studies on separate connections give out trial
//! numbers without a gap or a repeat.
//!
//! PostgreSQL runs against the server in `KNOB_PG_URL` (for example
//! `postgres://postgres:postgres@127.0.0.1/knob_test`); with the feature on and no URL,
//! its tests fail rather than skip.

use knob_core::testing::UniformSampler;
use knob_core::{
    Event, JournalStorage, MemoryStorage, Outcome, Scale, SearchSpace, Storage, Study, TrialState,
};

/// Opens new handles on one study of one storage.
trait Backend: Sync {
    fn open(&self) -> Box<dyn Storage>;
    /// Whether two handles see each other's events (not memory, which is per handle).
    fn shared(&self) -> bool {
        true
    }
}

struct Memory;
impl Backend for Memory {
    fn open(&self) -> Box<dyn Storage> {
        Box::new(MemoryStorage::new())
    }
    fn shared(&self) -> bool {
        false
    }
}

struct Journal(tempfile::TempDir);
impl Backend for Journal {
    fn open(&self) -> Box<dyn Storage> {
        Box::new(JournalStorage::open(self.0.path().join("study.jsonl")).unwrap())
    }
}

fn reported(step: u64) -> Event {
    Event::TrialReported {
        number: 0,
        step,
        value: step as f64 / 7.0,
    }
}

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap()
}

fn events_in_order(backend: &dyn Backend) {
    let mut writer = backend.open();
    let sent: Vec<Event> = (0..20).map(reported).collect();
    for event in &sent {
        writer.append(event).unwrap();
    }
    let read = writer.read_new().unwrap();
    let positions: Vec<u64> = read.iter().map(|r| r.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(read.into_iter().map(|r| r.event).collect::<Vec<_>>(), sent);
    assert!(
        writer.read_new().unwrap().is_empty(),
        "each event is read once"
    );
    if backend.shared() {
        let again: Vec<Event> = backend
            .open()
            .read_new()
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect();
        assert_eq!(again, sent, "a reopened handle reads everything");
        writer.append(&reported(20)).unwrap();
        let mut reader = backend.open();
        reader.read_new().unwrap();
        backend.open().append(&reported(21)).unwrap();
        let news: Vec<Event> = reader
            .read_new()
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect();
        assert_eq!(
            news,
            [reported(21)],
            "a reader sees what another handle appended"
        );
    }
}

/// Studies on separate handles ask and tell at once: numbers 0..n, each once.
fn numbering_under_concurrency(backend: &(dyn Backend + Send + Sync)) {
    const THREADS: usize = 4;
    const EACH: usize = 15;
    drop(
        Study::builder(space())
            .sampler(UniformSampler)
            .storage(backend.open())
            .build()
            .unwrap(),
    );
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                let study = Study::builder(space())
                    .sampler(UniformSampler)
                    .storage(backend.open())
                    .build()
                    .unwrap();
                for _ in 0..EACH {
                    let t = study.ask().unwrap().unwrap();
                    study.tell(t.number, Outcome::Complete(0.5)).unwrap();
                }
            });
        }
    });
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .storage(backend.open())
        .build()
        .unwrap();
    let trials = study.trials().unwrap();
    assert_eq!(trials.len(), THREADS * EACH);
    assert!(trials.iter().enumerate().all(|(i, t)| t.number == i as u64));
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
}

#[test]
fn memory_keeps_events_in_order() {
    events_in_order(&Memory);
}

#[test]
fn the_journal_keeps_events_in_order() {
    events_in_order(&Journal(tempfile::tempdir().unwrap()));
}

#[test]
fn the_journal_numbers_trials_under_concurrency() {
    numbering_under_concurrency(&Journal(tempfile::tempdir().unwrap()));
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use knob_core::PostgresStorage;
    use std::sync::Arc;

    /// The test server's URL; its absence is a failure, not a skip.
    pub fn url() -> String {
        std::env::var("KNOB_PG_URL").expect(
            "KNOB_PG_URL must name a PostgreSQL server for the `postgres` tests \
             (e.g. postgres://postgres:postgres@127.0.0.1/knob_test)",
        )
    }

    /// A study of its own, deleted when dropped.
    pub struct Postgres(pub String);

    impl Postgres {
        pub fn new(prefix: &str) -> Arc<Self> {
            Arc::new(Postgres(format!("{prefix}-{:016x}", rand::random::<u64>())))
        }
    }

    impl Backend for Postgres {
        fn open(&self) -> Box<dyn Storage> {
            Box::new(PostgresStorage::connect(&url(), &self.0).unwrap())
        }
    }

    impl Drop for Postgres {
        fn drop(&mut self) {
            if let Ok(url) = std::env::var("KNOB_PG_URL") {
                let _ = PostgresStorage::delete_study(&url, &self.0);
            }
        }
    }

    #[test]
    fn postgres_keeps_events_in_order() {
        events_in_order(&*Postgres::new("order"));
    }

    #[test]
    fn postgres_numbers_trials_under_concurrency() {
        numbering_under_concurrency(&*Postgres::new("numbering"));
    }

    #[test]
    fn studies_are_listed_and_deleted_by_name() {
        let backend = Postgres::new("listed");
        let study = Study::builder(space())
            .sampler(UniformSampler)
            .storage(backend.open())
            .build()
            .unwrap();
        for _ in 0..3 {
            let t = study.ask().unwrap().unwrap();
            study.tell(t.number, Outcome::Complete(1.0)).unwrap();
        }
        let row = PostgresStorage::studies(&url())
            .unwrap()
            .into_iter()
            .find(|r| r.name == backend.0)
            .expect("the study is listed");
        assert_eq!(
            (row.trials, row.direction.as_deref()),
            (3, Some("minimize"))
        );
        assert!(PostgresStorage::delete_study(&url(), &backend.0).unwrap());
        assert!(!PostgresStorage::delete_study(&url(), &backend.0).unwrap());
        assert!(PostgresStorage::studies(&url())
            .unwrap()
            .iter()
            .all(|r| r.name != backend.0));
    }

    #[test]
    fn bad_servers_give_clear_errors_without_the_password() {
        let good = url();
        let wrong_password = match good.rfind('@') {
            Some(at) => {
                let scheme = good.find("://").unwrap() + 3;
                let user = good[scheme..at].split(':').next().unwrap();
                format!(
                    "{}{user}:not-the-password-x9{}",
                    &good[..scheme],
                    &good[at..]
                )
            }
            None => panic!("KNOB_PG_URL needs user:password@host"),
        };
        let e = PostgresStorage::connect(&wrong_password, "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("password") && !e.contains("not-the-password-x9"),
            "{e}"
        );

        let missing_db = format!("{}_no_such_db", good.trim_end_matches('/'));
        let e = PostgresStorage::connect(&missing_db, "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no such database") && e.contains("_no_such_db"),
            "{e}"
        );

        let nobody = "postgres://knob:hunter2@127.0.0.1:1/knob";
        let e = PostgresStorage::connect_with_timeout(
            nobody,
            "x",
            std::time::Duration::from_millis(300),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("127.0.0.1:1")
                && e.contains("could not be reached")
                && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn tls_follows_sslmode() {
        let sep = if url().contains('?') { '&' } else { '?' };
        // The test server speaks TLS (Debian's default): `require` must get it.
        let required = format!("{}{sep}sslmode=require", url());
        let backend = Postgres::new("tls");
        drop(PostgresStorage::connect(&required, &backend.0).unwrap());
        let mut admin = ::postgres::Client::connect(&url(), ::postgres::NoTls).unwrap();
        let ssl: bool = admin
            .query_one("SHOW ssl", &[])
            .map(|r| r.get::<_, String>(0) == "on")
            .unwrap();
        if ssl {
            // Verifying needs a root certificate; a missing one is named.
            let verifying = format!(
                "{}{sep}sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
                url()
            );
            let e = PostgresStorage::connect(&verifying, &backend.0)
                .unwrap_err()
                .to_string();
            assert!(e.contains("/nonexistent/root.crt"), "{e}");
        }
        let e = PostgresStorage::connect(&format!("{}{sep}sslmode=sometimes", url()), "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sslmode") || e.contains("not a PostgreSQL URL"),
            "{e}"
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        // A database of its own, so that other tests keep their schema.
        let good = url();
        let (base, db) = good.rsplit_once('/').unwrap();
        let db = db.split('?').next().unwrap();
        let mut admin = ::postgres::Client::connect(&good, ::postgres::NoTls).unwrap();
        let scratch = format!("{db}_newer_schema");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {scratch}"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {scratch}"))
            .unwrap();
        let scratch_url = format!("{base}/{scratch}");
        drop(PostgresStorage::connect(&scratch_url, "x").unwrap());
        let mut c = ::postgres::Client::connect(&scratch_url, ::postgres::NoTls).unwrap();
        c.batch_execute("UPDATE knob_schema SET version = 99")
            .unwrap();
        drop(c);
        let e = PostgresStorage::connect(&scratch_url, "x")
            .unwrap_err()
            .to_string();
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {scratch}"))
            .unwrap();
        assert!(e.contains("version 99") && e.contains("newer"), "{e}");
    }
}
