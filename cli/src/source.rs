//! Finding a study: a journal's path or a study of a PostgreSQL database.

use std::path::{Path, PathBuf};

use knob_core::{BoxError, Storage, Study, StudySnapshot, TrialState};

/// A study's storage, checked to exist before anything opens it (opening a journal or
/// a PostgreSQL study creates it, which a command that only looks must not do).
pub struct Source {
    spec: String,
    study: String,
}

impl Source {
    /// The study at `spec` (named `study` in a database).
    pub fn new(spec: &str, study: &str) -> Result<Self, BoxError> {
        if knob_core::is_database_url(spec) {
            check_database_study(spec, study)?;
        } else {
            let path = Path::new(spec);
            if path.is_dir() {
                return Err(format!(
                    "{spec} is a folder; `knob studies --storage {spec}` lists the journals in it"
                )
                .into());
            }
            if !path.is_file() {
                return Err(format!("no journal at {spec}").into());
            }
        }
        Ok(Self {
            spec: spec.to_owned(),
            study: study.to_owned(),
        })
    }

    fn storage(&self) -> Result<Box<dyn Storage>, BoxError> {
        Ok(knob_core::open_storage(&self.spec, &self.study)?)
    }

    /// Reads the study, changing nothing.
    pub fn read(&self) -> Result<StudySnapshot, BoxError> {
        Ok(StudySnapshot::read(&mut *self.storage()?)?)
    }

    /// Opens the study to change it, with the space and directions it was created with.
    pub fn open(&self, snapshot: &StudySnapshot) -> Result<Study, BoxError> {
        Ok(Study::builder(snapshot.space.clone())
            .directions(snapshot.directions.clone())
            .sampler(knob_core::testing::UniformSampler)
            .storage(self.storage()?)
            .build()?)
    }
}

#[cfg(feature = "postgres")]
fn check_database_study(url: &str, study: &str) -> Result<(), BoxError> {
    let names: Vec<String> = knob_core::PostgresStorage::studies(url)?
        .into_iter()
        .map(|row| row.name)
        .collect();
    if names.iter().any(|n| n == study) {
        return Ok(());
    }
    let hint = knob_core::did_you_mean(study, names.iter().map(String::as_str))
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    Err(format!("the database has no study `{study}`{hint}; `knob studies` lists them").into())
}

#[cfg(not(feature = "postgres"))]
fn check_database_study(_url: &str, _study: &str) -> Result<(), BoxError> {
    Err("PostgreSQL studies need the `postgres` feature: \
         cargo run --release --features postgres --bin knob -- …"
        .into())
}

/// `knob studies`: one line per study.
pub fn list(spec: &str) -> Result<String, BoxError> {
    if knob_core::is_database_url(spec) {
        return list_database(spec);
    }
    let root = Path::new(spec);
    let mut journals = Vec::new();
    if root.is_dir() {
        find_journals(root, &mut journals)?;
        journals.sort();
    } else if root.is_file() {
        journals.push(root.to_owned());
    } else {
        return Err(format!("no journal or folder at {spec}").into());
    }
    if journals.is_empty() {
        return Ok(format!("no journals (*.jsonl) under {spec}\n"));
    }
    let mut rows = vec![["journal", "directions", "trials", "complete", "best"].map(String::from)];
    let mut skipped = Vec::new();
    for path in &journals {
        let source = Source {
            spec: path.display().to_string(),
            study: String::new(),
        };
        match source.read() {
            Ok(s) => rows.push([
                path.display().to_string(),
                directions(&s),
                s.history.len().to_string(),
                s.history.in_state(TrialState::Complete).count().to_string(),
                match s.directions.len() {
                    1 => s
                        .history
                        .best()
                        .and_then(|b| b.value)
                        .map_or("-".into(), knob_core::format_number),
                    _ => format!("front of {}", s.history.best_trials().len()),
                },
            ]),
            Err(e) => skipped.push(format!("{}: {e}", path.display())),
        }
    }
    let mut out = table(&rows);
    for line in skipped {
        out += &format!("not a study: {line}\n");
    }
    Ok(out)
}

#[cfg(feature = "postgres")]
fn list_database(url: &str) -> Result<String, BoxError> {
    let mut rows = vec![["study", "direction", "trials", "created"].map(String::from)];
    for s in knob_core::PostgresStorage::studies(url)? {
        rows.push([
            s.name,
            s.direction.unwrap_or_else(|| "-".into()),
            s.trials.to_string(),
            s.created,
        ]);
    }
    Ok(table(&rows))
}

#[cfg(not(feature = "postgres"))]
fn list_database(url: &str) -> Result<String, BoxError> {
    check_database_study(url, "").map(|()| String::new())
}

/// Every `*.jsonl` file under `dir`, at any depth.
fn find_journals(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BoxError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            find_journals(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    Ok(())
}

/// Left-aligned columns separated by two spaces.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out += cells.join("  ").trim_end();
        out += "\n";
    }
    out
}

/// A study's directions: `maximize`, or `maximize, minimize`.
pub fn directions(s: &StudySnapshot) -> String {
    s.directions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
