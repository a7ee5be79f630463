//! Fuzzing the two parsers that read files a user or a crash may have damaged: the
//! journal (its lines and the fold of its events into a study) and search-space files.
//!
//! Inputs are arbitrary bytes, and mutations (flipped, cut, inserted, repeated and
//! swapped bytes and lines) of the stored corpus in `tests/corpus/` plus a journal
//! written by this build. No input may panic; every journal error names a line that
//! exists. Run longer with `PROPTEST_CASES=100000 cargo test -p knob-core --test
//! fuzz_parsers --release`.

use std::path::Path;

use knob_core::testing::UniformSampler;
use knob_core::{
    Error, JournalStorage, Outcome, Params, Scale, SearchSpace, Storage, Study, TrialState,
};
use proptest::prelude::*;

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name),
    )
    .unwrap()
}

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("x", -1.0, 1.0, Scale::Linear)
        .float("y", -1.0, 1.0, Scale::Linear)
        .build()
        .unwrap()
}

/// A journal with every kind of event this build writes.
fn fresh_journal() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    {
        let study = Study::builder(space())
            .sampler(UniformSampler)
            .journal(&path)
            .heartbeat(std::time::Duration::from_millis(5))
            .build()
            .unwrap();
        let a = study.ask().unwrap().unwrap();
        study.report(a.number, 0, 0.5).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        study.tell(a.number, Outcome::Complete(0.25)).unwrap();
        study
            .enqueue(Params::from_iter([("x", 0.0.into()), ("y", 0.5.into())]))
            .unwrap();
        let b = study.ask().unwrap().unwrap();
        study.tell(b.number, Outcome::Pruned).unwrap();
        study.ask().unwrap().unwrap(); // left running: the reopen below requeues it
    }
    drop(
        Study::builder(space())
            .sampler(UniformSampler)
            .journal(&path)
            .build()
            .unwrap(),
    );
    std::fs::read(&path).unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    RepeatLine(usize),
    SwapLines(usize, usize),
    JoinLines(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            at,
            prop::sample::select(b"{}[]\",:0123456789.-eE \n\\ntruefalsenull".to_vec())
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        at.prop_map(Mutation::Delete),
        at.prop_map(Mutation::Truncate),
        at.prop_map(Mutation::RepeatLine),
        (at, at).prop_map(|(i, j)| Mutation::SwapLines(i, j)),
        at.prop_map(Mutation::JoinLines),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(i, b) if !bytes.is_empty() => bytes[i % len] ^= b,
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % len);
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::RepeatLine(_) | Mutation::SwapLines(..) | Mutation::JoinLines(_) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
                if lines.is_empty() {
                    continue;
                }
                let n = lines.len();
                match *m {
                    Mutation::RepeatLine(i) => lines.insert(i % n, lines[i % n].clone()),
                    Mutation::SwapLines(i, j) => lines.swap(i % n, j % n),
                    Mutation::JoinLines(i) if n > 1 => {
                        let next = lines.remove((i % (n - 1)) + 1);
                        lines[i % (n - 1)].push_str(&next);
                    }
                    _ => {}
                }
                bytes = (lines.join("\n") + "\n").into_bytes();
            }
            _ => {}
        }
    }
    bytes
}

/// Reads `bytes` as a journal, raw and through a study; nothing may panic, and a
/// journal error must name one of its lines.
fn check_journal(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    std::fs::write(&path, bytes).unwrap();
    let lines = bytes.split(|&b| b == b'\n').count();
    let names_a_line = |e: &Error| match e {
        Error::CorruptJournal { line, .. } => (1..=lines).contains(line),
        _ => true,
    };
    if let Err(e) = JournalStorage::open(&path).unwrap().read_new() {
        assert!(names_a_line(&e), "{e} (file of {lines} lines)");
    }
    match Study::builder(space())
        .sampler(UniformSampler)
        .journal(&path)
        .build()
    {
        Ok(study) => {
            // A study that opened is usable: it can run a trial to the end. (A mutated
            // owner may be another live host's, so running trials may stay running.)
            let t = study.ask().unwrap().unwrap();
            study.tell(t.number, Outcome::Complete(0.0)).unwrap();
            assert_eq!(
                study.trials().unwrap()[t.number as usize].state,
                TrialState::Complete
            );
        }
        Err(e) => assert!(names_a_line(&e), "{e} (file of {lines} lines)"),
    }
}

/// Parses `text` as both file formats; nothing may panic, every error says where, and
/// a space that parses works.
fn check_space(text: &str) {
    for parsed in [
        SearchSpace::from_json_str(text),
        SearchSpace::from_toml_str(text),
    ] {
        match parsed {
            Ok(space) => {
                let params = space.from_unit(&vec![0.37; space.len()]).unwrap();
                let unit = space.to_unit(&params).unwrap();
                assert!(unit.iter().all(|u| (0.0..=1.0).contains(u)), "{unit:?}");
            }
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("line"), "no position in: {e}");
            }
        }
    }
}

#[test]
fn the_stored_corpus_parses() {
    for name in ["space.toml", "space.json"] {
        let text = String::from_utf8(corpus(name)).unwrap();
        let parsed = if name.ends_with("toml") {
            SearchSpace::from_toml_str(&text)
        } else {
            SearchSpace::from_json_str(&text)
        };
        assert!(parsed.is_ok(), "{name}: {parsed:?}");
    }
    // A journal written before heartbeats and single-event requeues still opens, with
    // its retry already taken and its queued params waiting.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.jsonl");
    std::fs::write(&path, corpus("journal-v1.jsonl")).unwrap();
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .journal(&path)
        .build()
        .unwrap();
    let states: Vec<TrialState> = study.trials().unwrap().iter().map(|t| t.state).collect();
    use TrialState::*;
    assert_eq!(states, [Complete, Failed, Pruned]);
    let next = study.ask().unwrap().unwrap();
    assert_eq!(
        next.params,
        Params::from_iter([("x", 0.0.into()), ("y", 0.0.into())])
    );
    check_journal(&fresh_journal());
}

proptest! {
    #[test]
    fn journals_of_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check_journal(&bytes);
    }

    #[test]
    fn mutated_journals(old in any::<bool>(), mutations in prop::collection::vec(mutation(), 1..6)) {
        let seed = if old { corpus("journal-v1.jsonl") } else { fresh_journal() };
        check_journal(&mutate(seed, &mutations));
    }

    #[test]
    fn space_files_of_arbitrary_text(text in "\\PC{0,300}") {
        check_space(&text);
    }

    #[test]
    fn mutated_space_files(json in any::<bool>(), mutations in prop::collection::vec(mutation(), 1..6)) {
        let seed = corpus(if json { "space.json" } else { "space.toml" });
        check_space(&String::from_utf8_lossy(&mutate(seed, &mutations)));
    }
}
