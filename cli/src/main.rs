//! `knob`: look at studies from the command line, whatever wrote them.
//!
//! ```text
//! knob studies --storage runs/                  # every study journal under a folder
//! knob show    --storage runs/…/study.jsonl     # states, leaderboard, best params
//! knob export  --storage … --format csv         # one row per trial (or jsonl)
//! knob report  --storage … --out DIR            # PNG, SVG, Markdown and HTML report
//! knob retry-failed --storage …                 # queue failed trials to run again
//! ```
//!
//! Every command but `retry-failed` only reads: it takes no lock and writes nothing,
//! so it is safe on a study that is running. `--storage` is a journal's path or (built
//! with the `postgres` feature) a `postgres://` URL with `--study NAME`.

mod export;
mod source;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use knob_core::{BoxError, StudySnapshot, TrialState};

use source::Source;

#[derive(Parser)]
#[command(
    name = "knob",
    version,
    about = "Inspect, export, report and retry knob studies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a study lives.
#[derive(clap::Args)]
struct StorageArgs {
    /// A journal's path, or a `postgres://` URL (with --study).
    #[arg(long)]
    storage: String,
    /// The study's name in a PostgreSQL database (a journal holds one study).
    #[arg(long, default_value = "default")]
    study: String,
}

#[derive(Subcommand)]
enum Command {
    /// Lists studies: every journal under a folder (or the one given), or every study
    /// of a PostgreSQL database.
    Studies {
        /// A folder to search for journals (`*.jsonl`), a journal, or a `postgres://` URL.
        #[arg(long)]
        storage: String,
    },
    /// Shows a study: its space, trial states, leaderboard and best params.
    Show {
        #[command(flatten)]
        storage: StorageArgs,
        /// Rows of the leaderboard.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Writes every trial as CSV (one row per trial, a column per parameter and user
    /// attribute) or JSON Lines (the whole trial, intermediate values included).
    Export {
        #[command(flatten)]
        storage: StorageArgs,
        /// The format.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// The file to write; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Draws the study's report (report.png, report.svg, report.md, report.html).
    Report {
        #[command(flatten)]
        storage: StorageArgs,
        /// The folder to write it to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Queues every failed trial that was not retried yet, so that the next
    /// `optimize` on the study runs its params again.
    RetryFailed {
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// An export format.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per trial.
    Jsonl,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), BoxError> {
    match cli.command {
        Command::Studies { storage } => {
            print!("{}", source::list(&storage)?);
        }
        Command::Show { storage, top } => {
            let snapshot = Source::new(&storage.storage, &storage.study)?.read()?;
            print!("{}", show(&snapshot, top));
        }
        Command::Export {
            storage,
            format,
            out,
        } => {
            let snapshot = Source::new(&storage.storage, &storage.study)?.read()?;
            let text = match format {
                Format::Csv => export::csv(&snapshot),
                Format::Jsonl => export::jsonl(&snapshot)?,
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
                None => print!("{text}"),
            }
        }
        Command::Report { storage, out } => {
            let snapshot = Source::new(&storage.storage, &storage.study)?.read()?;
            let title = format!("study {}", snapshot.location);
            let files = knob_callbacks::report::write_report(
                &out,
                &snapshot.history,
                &snapshot.space,
                &title,
                None,
            )?;
            for path in [&files.html, &files.png, &files.svg, &files.markdown] {
                println!("{}", path.display());
            }
        }
        Command::RetryFailed { storage } => {
            let source = Source::new(&storage.storage, &storage.study)?;
            let snapshot = source.read()?;
            if snapshot.failed_for_good.is_empty() {
                println!("no failed trials to retry");
                return Ok(());
            }
            let study = source.open(&snapshot)?;
            for t in &snapshot.failed_for_good {
                study.retry(t.number)?;
                println!("queued trial {} again ({})", t.number, t.params);
            }
            println!(
                "{} trials queued: the next optimize on this study runs them first",
                snapshot.failed_for_good.len()
            );
        }
    }
    Ok(())
}

/// `knob show`'s text.
fn show(s: &StudySnapshot, top: usize) -> String {
    let count = |state| s.history.in_state(state).count();
    let mut out = format!(
        "study:     {}\ndirection: {}\ntrials:    {} ({} complete, {} pruned, {} failed, {} running; {} queued)\n\nspace:\n",
        s.location,
        source::directions(s),
        s.history.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Failed),
        count(TrialState::Running),
        s.queued,
    );
    for p in s.space.params() {
        out += &format!("  {:<16} {}", p.name, p.domain);
        if let Some(when) = &p.when {
            out += &format!("  (when {when})");
        }
        out += "\n";
    }
    out += &format!("\nleaderboard:\n{}", s.leaderboard(top));
    if s.directions.len() > 1 {
        let front: Vec<String> = s
            .history
            .best_trials()
            .iter()
            .map(|t| t.number.to_string())
            .collect();
        out += &format!(
            "\nPareto front: {} trials ({}); the leaderboard lists them\n",
            front.len(),
            front.join(", ")
        );
    } else if let Some(best) = s.history.best() {
        out += &format!(
            "\nbest trial {}: value {}\n",
            best.number,
            knob_core::format_number(best.value.unwrap_or(f64::NAN))
        );
        for (name, value) in best.params.iter() {
            out += &format!("  {name} = {value}\n");
        }
        for (key, value) in &best.user_attrs {
            out += &format!("  [{key}] = {value}\n");
        }
    }
    out
}
