//! The `knob` command on journals made here: every state, user attributes, a torn last
//! line, a journal of the first format, and (with the `postgres` feature) a study in
//! PostgreSQL.

use std::path::Path;
use std::process::{Command, Output};

use knob_core::{JournalStorage, Outcome, Scale, SearchSpace, Study, StudySnapshot};

fn knob(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_knob"))
        .args(args)
        .output()
        .expect("the knob binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "knob failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A study of 12 trials: 9 complete (with intermediate values and an attribute), 2
/// failed, 1 pruned.
fn make_study(storage: impl FnOnce(knob_core::StudyBuilder) -> knob_core::StudyBuilder) -> Study {
    let space = SearchSpace::builder()
        .float("lr", 1e-4, 1e-1, Scale::Log)
        .categorical("optimizer", ["adam", "sgd"])
        .float("momentum", 0.8, 0.99, Scale::LogOneMinus)
        .when_in("optimizer", ["sgd"])
        .build()
        .unwrap();
    let study = storage(Study::builder(space))
        .direction(knob_core::Direction::Maximize)
        .sampler(knob_core::testing::UniformSampler)
        .seed(5)
        .build()
        .unwrap();
    for i in 0..12 {
        let t = study.ask().unwrap().unwrap();
        let lr = t.params.float("lr").unwrap();
        let value = -(lr.log10() + 2.0).powi(2);
        study.report(t.number, 0, value - 1.0).unwrap();
        study.report(t.number, 1, value).unwrap();
        let outcome = match i {
            3 | 8 => Outcome::Failed("loss is NaN, \"diverged\"".into()),
            5 => Outcome::Pruned,
            _ => {
                study.set_user_attr(t.number, "params", 1000 + i).unwrap();
                Outcome::Complete(value)
            }
        };
        study.tell(t.number, outcome).unwrap();
    }
    study
}

fn journal_study(dir: &Path) -> String {
    let path = dir.join("a").join("study.jsonl");
    make_study(|b| b.journal(&path));
    path.display().to_string()
}

#[test]
fn show_lists_states_the_leaderboard_and_the_best_params() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_study(dir.path());
    let text = stdout(&knob(&["show", "--storage", &journal, "--top", "3"]));
    assert!(
        text.contains("12 (9 complete, 1 pruned, 2 failed, 0 running; 0 queued)"),
        "{text}"
    );
    assert!(text.contains("\ndirection: maximize\n"), "{text}");
    assert!(
        text.contains("momentum") && text.contains("(when `optimizer` is one of [sgd])"),
        "{text}"
    );
    assert!(text.contains("failed for good: 2 trials"), "{text}");
    let snapshot = StudySnapshot::read(&mut JournalStorage::open(&journal).unwrap()).unwrap();
    let best = snapshot.history.best().unwrap();
    assert!(
        text.contains(&format!("best trial {}:", best.number)),
        "{text}"
    );
    assert!(
        text.contains("[params] = "),
        "the best trial's attributes: {text}"
    );
    // Three leaderboard rows, ranks 1 to 3.
    assert!(
        text.contains("\n   3 ") && !text.contains("\n   4 "),
        "{text}"
    );
}

#[test]
fn export_writes_every_trial_as_csv_or_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_study(dir.path());
    let csv = stdout(&knob(&["export", "--storage", &journal, "--format", "csv"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 13, "a header and 12 rows:\n{csv}");
    assert_eq!(
        lines[0],
        "number,state,value,started,finished,seconds,lr,optimizer,momentum,attr:params,error"
    );
    assert!(lines[4].starts_with("3,failed,,"), "{}", lines[4]);
    assert!(
        lines[4].ends_with(",\"loss is NaN, \"\"diverged\"\"\""),
        "an error with a comma and quotes is quoted: {}",
        lines[4]
    );
    let out = dir.path().join("trials.jsonl");
    stdout(&knob(&[
        "export",
        "--storage",
        &journal,
        "--format",
        "jsonl",
        "--out",
        out.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&out).unwrap();
    let trials: Vec<knob_core::Trial> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(trials.len(), 12);
    assert_eq!(trials[0].intermediate.len(), 2);
    assert_eq!(trials[5].state, knob_core::TrialState::Pruned);
}

#[test]
fn report_writes_an_html_page_that_parses_and_holds_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_study(dir.path());
    let out = dir.path().join("report");
    let text = stdout(&knob(&[
        "report",
        "--storage",
        &journal,
        "--out",
        out.to_str().unwrap(),
    ]));
    for name in ["report.html", "report.png", "report.svg", "report.md"] {
        assert!(
            text.contains(name) && out.join(name).is_file(),
            "{name}: {text}"
        );
    }
    // Parsed strictly (as XML) by Python's standard library: every tag closed, every
    // entity valid, and one row per trial with its state.
    let check = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = {"s": "http://www.w3.org/2000/svg"}
rows = root.findall(".//table[@class='trials']/tbody/tr")
print(len(rows), ",".join(r.get("class") for r in rows), len(root.findall(".//s:svg", ns)))
"#;
    let parsed = Command::new("python3")
        .args(["-c", check, out.join("report.html").to_str().unwrap()])
        .output()
        .expect("python3 runs");
    let parsed = stdout(&parsed);
    let expected_states = "complete,complete,complete,failed,complete,pruned,complete,complete,failed,complete,complete,complete";
    assert_eq!(parsed.trim(), format!("12 {expected_states} 1"));
}

#[test]
fn retry_failed_queues_each_failed_trial_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_study(dir.path());
    let text = stdout(&knob(&["retry-failed", "--storage", &journal]));
    assert!(
        text.contains("queued trial 3 again") && text.contains("queued trial 8 again"),
        "{text}"
    );
    assert!(text.contains("2 trials queued"), "{text}");
    let again = stdout(&knob(&["retry-failed", "--storage", &journal]));
    assert!(again.contains("no failed trials to retry"), "{again}");
    let snapshot = StudySnapshot::read(&mut JournalStorage::open(&journal).unwrap()).unwrap();
    assert_eq!(snapshot.queued, 2);
    assert!(snapshot.failed_for_good.is_empty());
    // The study runs them next, with the failed trials' params.
    let study = Study::builder(snapshot.space.clone())
        .direction(snapshot.direction)
        .sampler(knob_core::testing::UniformSampler)
        .journal(&journal)
        .build()
        .unwrap();
    let next = study.ask().unwrap().unwrap();
    assert_eq!(next.params, snapshot.history.trials()[3].params);
}

#[test]
fn a_study_of_two_objectives_is_shown_exported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mo.jsonl");
    let space = SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    let study = Study::builder(space)
        .directions([
            knob_core::Direction::Maximize,
            knob_core::Direction::Minimize,
        ])
        .sampler(knob_core::testing::UniformSampler)
        .journal(&path)
        .seed(2)
        .build()
        .unwrap();
    for i in 0..10 {
        let t = study.ask().unwrap().unwrap();
        let x = t.params.float("x").unwrap();
        let outcome = match i {
            4 => Outcome::Failed("out of memory".into()),
            _ => Outcome::constrained([x, x * x], [x - 0.9]),
        };
        study.tell(t.number, outcome).unwrap();
    }
    let front = study.best_trials().unwrap();
    drop(study);
    let journal = path.to_str().unwrap();

    let shown = stdout(&knob(&["show", "--storage", journal]));
    assert!(shown.contains("direction: maximize, minimize"), "{shown}");
    let line = format!("Pareto front: {} trials", front.len());
    assert!(
        shown.contains(&line) && shown.contains("value 2"),
        "{shown}"
    );
    let listed = stdout(&knob(&[
        "studies",
        "--storage",
        dir.path().to_str().unwrap(),
    ]));
    let of = format!("front of {}", front.len());
    assert!(
        listed.contains("maximize, minimize") && listed.contains(&of),
        "{listed}"
    );

    let csv = stdout(&knob(&["export", "--storage", journal, "--format", "csv"]));
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("number,state,value_1,value_2,constraint_1,started"),
        "{csv}"
    );
    let second: Vec<&str> = lines.nth(1).unwrap().split(',').collect();
    let (x, size, c): (f64, f64, f64) = (
        second[2].parse().unwrap(),
        second[3].parse().unwrap(),
        second[4].parse().unwrap(),
    );
    assert_eq!((size, c), (x * x, x - 0.9));

    let retried = stdout(&knob(&["retry-failed", "--storage", journal]));
    assert!(retried.contains("trial 4"), "{retried}");
}

#[test]
fn old_and_torn_journals_are_read_and_bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // The first journal format, from the core crate's corpus.
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/tests/corpus/journal-v1.jsonl"
    );
    let old = dir.path().join("old.jsonl");
    std::fs::copy(corpus, &old).unwrap();
    let text = stdout(&knob(&["show", "--storage", old.to_str().unwrap()]));
    assert!(text.contains("best trial"), "{text}");
    // A torn last line (a process killed mid-write) is skipped.
    let journal = journal_study(dir.path());
    let whole = stdout(&knob(&["export", "--storage", &journal]));
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(br#"{"event":"trial_started","number":12,"par"#);
    std::fs::write(&journal, bytes).unwrap();
    assert_eq!(stdout(&knob(&["export", "--storage", &journal])), whole);
    // Every journal under the folder is listed.
    let list = stdout(&knob(&[
        "studies",
        "--storage",
        dir.path().to_str().unwrap(),
    ]));
    assert!(
        list.contains("old.jsonl") && list.contains("a/study.jsonl  maximize"),
        "{list}"
    );
    // A missing journal is named and not created; a folder gets a hint.
    let missing = dir.path().join("nope.jsonl");
    let out = knob(&["show", "--storage", missing.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no journal at") && err.contains("nope.jsonl"),
        "{err}"
    );
    assert!(!missing.exists());
    let out = knob(&["show", "--storage", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a folder; `knob studies"), "{err}");
    // A line that is not an event names the journal and the line.
    let bad = dir.path().join("bad.jsonl");
    let mut text = std::fs::read_to_string(&old).unwrap();
    text.insert_str(text.find('\n').unwrap() + 1, "{\"event\":\"nonsense\"}\n");
    std::fs::write(&bad, text).unwrap();
    let out = knob(&["show", "--storage", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("bad.jsonl") && err.contains("line 2"),
        "{err}"
    );
}

#[cfg(feature = "postgres")]
#[test]
fn a_postgresql_study_is_listed_shown_and_retried() {
    let url = std::env::var("KNOB_PG_URL").expect("KNOB_PG_URL names the test database");
    let name = format!("knob-cli-{}", std::process::id());
    knob_core::PostgresStorage::delete_study(&url, &name).unwrap();
    make_study(|b| b.storage_at(&url, &name));
    let list = stdout(&knob(&["studies", "--storage", &url]));
    assert!(list.contains(&name), "{list}");
    let text = stdout(&knob(&["show", "--storage", &url, "--study", &name]));
    assert!(
        text.contains("12 (9 complete, 1 pruned, 2 failed"),
        "{text}"
    );
    let text = stdout(&knob(&[
        "retry-failed",
        "--storage",
        &url,
        "--study",
        &name,
    ]));
    assert!(text.contains("2 trials queued"), "{text}");
    let out = knob(&["show", "--storage", &url, "--study", &format!("{name}x")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no study") && err.contains(&format!("did you mean `{name}`")),
        "{err}"
    );
    knob_core::PostgresStorage::delete_study(&url, &name).unwrap();
}
