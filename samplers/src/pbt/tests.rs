use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::*;
use knob_core::{Callback, EpochView, Logs, Scale};

/// A model that is one number: each epoch it moves toward 1 by `lr` times the gap and
/// is knocked back by `lr²`, so large rates are good early and small ones late. It
/// calls the context's callbacks as a real trainer does, with the number as `score`.
struct Walker;

impl Resumable for Walker {
    fn train_span(
        &mut self,
        p: &Params,
        from: Option<&Checkpoint>,
        epochs: Range<usize>,
        ctx: &mut TrialContext<'_>,
    ) -> Result<Span, BoxError> {
        let mut x = from.map_or(0.0, |c| {
            f64::from_le_bytes(c.as_bytes().try_into().expect("8 bytes"))
        });
        let lr = p.float("lr")?;
        let info = ctx.info().clone();
        ctx.callbacks.on_train_begin(&info)?;
        let mut logs = Logs::new();
        for epoch in epochs {
            x += lr * (1.0 - x) - lr * lr;
            logs = Logs::from([("score".to_owned(), x)]);
            let view = EpochView::new(&info);
            ctx.end_epoch(epoch, &logs, &view, x)?;
        }
        ctx.callbacks.on_train_end(&logs)?;
        Ok(Span {
            score: x,
            checkpoint: Checkpoint::new(x.to_le_bytes().to_vec()),
        })
    }
}

fn pbt() -> Pbt {
    let space = SearchSpace::builder()
        .float("lr", 1e-3, 0.9, Scale::Log)
        .int("width", 1, 4, Scale::Linear)
        .categorical("act", ["relu", "tanh", "gelu"])
        .build()
        .unwrap();
    Pbt::new(space)
        .direction(Direction::Maximize)
        .population(8)
        .epochs(12)
        .interval(2)
        .seed(5)
}

fn schedules(p: &Population) -> Vec<Vec<Step>> {
    p.members.iter().map(|m| m.history.clone()).collect()
}

#[test]
fn the_same_seed_gives_the_same_run_on_any_number_of_workers() {
    let one = pbt().run(&Workers::cpu(1), |_| Ok(Walker)).unwrap();
    let three = pbt().run(&Workers::cpu(3), |_| Ok(Walker)).unwrap();
    assert_eq!(schedules(&one), schedules(&three));
    assert_eq!(one.epochs_trained, 8 * 12);
    assert!(one.members.iter().all(|m| m.history.len() == 6));
    let other = pbt().seed(6).run(&Workers::cpu(1), |_| Ok(Walker)).unwrap();
    assert_ne!(schedules(&one), schedules(&other));
}

#[test]
fn the_bottom_quantile_copies_and_perturbs_the_top() {
    let run = pbt()
        .resample(0.0)
        .run(&Workers::cpu(2), |_| Ok(Walker))
        .unwrap();
    let space = &pbt().space;
    for generation in 1..6 {
        let before: Vec<&Step> = run
            .members
            .iter()
            .map(|m| &m.history[generation - 1])
            .collect();
        let mut ranked: Vec<usize> = (0..8).collect();
        ranked.sort_by(|&a, &b| {
            before[b]
                .score
                .unwrap()
                .total_cmp(&before[a].score.unwrap())
        });
        let (top, bottom) = (&ranked[..2], &ranked[6..]);
        for m in &run.members {
            let step = &m.history[generation];
            match step.copied_from {
                Some(winner) => {
                    assert!(bottom.contains(&m.id) && top.contains(&winner), "{step:?}");
                    // Every coordinate moved by the perturbation (or at least one
                    // slice for the integer and the choice), within the cube.
                    let from = space.to_unit(&before[winner].params).unwrap();
                    let to = space.to_unit(&step.params).unwrap();
                    let lr_moved = (to[0] - from[0]).abs();
                    assert!(
                        (lr_moved - 0.1).abs() < 1e-9 || to[0] == 0.0 || to[0] == 1.0,
                        "lr moved {lr_moved}"
                    );
                    assert_ne!(step.params.get("width"), before[winner].params.get("width"));
                }
                None => {
                    assert!(!bottom.contains(&m.id));
                    assert_eq!(step.params, m.history[generation - 1].params);
                }
            }
        }
    }
    // The best model's lineage runs through the members it copied.
    let best = run.best().unwrap();
    let lineage = run.lineage(best.id);
    assert_eq!(lineage.len(), 6);
    assert_eq!(lineage.last(), best.history.last());
    for g in 1..6 {
        if let Some(parent) = lineage[g].copied_from {
            assert_eq!(lineage[g - 1], run.members[parent].history[g - 1]);
        }
    }
    assert!(run.members.iter().any(|m| run.lineage(m.id) != m.history));
    // Selection helps: the best member beats the best of the initial draws left
    // alone, which is what the run's first generation scored on its own.
    let alone = pbt()
        .epochs(12)
        .interval(12)
        .run(&Workers::cpu(2), |_| Ok(Walker))
        .unwrap();
    let best = |p: &Population| p.best().unwrap().score().unwrap();
    assert!(
        best(&run) > best(&alone),
        "{} vs {}",
        best(&run),
        best(&alone)
    );
}

#[test]
fn a_killed_run_resumes_to_the_same_end() {
    let dir = tempfile::tempdir().unwrap();
    let whole = pbt().run(&Workers::cpu(1), |_| Ok(Walker)).unwrap();
    // The factory is called once per generation with one worker: fail the fourth.
    let calls = AtomicUsize::new(0);
    let err = pbt()
        .directory(dir.path())
        .run(&Workers::cpu(1), |_| {
            if calls.fetch_add(1, Ordering::SeqCst) == 3 {
                return Err("killed".into());
            }
            Ok(Walker)
        })
        .unwrap_err();
    assert!(err.to_string().contains("killed"), "{err}");
    let ckpts = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("g3-")
        })
        .count();
    assert_eq!(
        ckpts, 8,
        "only the last finished generation's checkpoints remain"
    );
    let resumed = pbt()
        .directory(dir.path())
        .run(&Workers::cpu(2), |_| Ok(Walker))
        .unwrap();
    assert_eq!(resumed.epochs_trained, 8 * 6, "three generations left");
    assert_eq!(schedules(&resumed), schedules(&whole));

    let err = pbt()
        .seed(9)
        .directory(dir.path())
        .run(&Workers::cpu(1), |_| Ok(Walker));
    assert!(err.unwrap_err().to_string().contains("seed 5"));
}

#[test]
fn checkpoint_names_outside_the_population_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let population = dir.path().join("population");
    let calls = AtomicUsize::new(0);
    pbt()
        .directory(&population)
        .run(&Workers::cpu(1), |_| {
            if calls.fetch_add(1, Ordering::SeqCst) == 2 {
                return Err("killed".into());
            }
            Ok(Walker)
        })
        .unwrap_err();
    let file = population.join("population.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(dir.path().join("secret"), b"12345678").unwrap();
    let first = text.find(".ckpt\"").unwrap();
    let start = text[..first].rfind('"').unwrap() + 1;
    let hostile = format!("{}../secret{}", &text[..start], &text[first + 5..]);
    std::fs::write(&file, hostile).unwrap();
    let e = pbt()
        .directory(&population)
        .run(&Workers::cpu(1), |_| Ok(Walker))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("population file ")
            && e.contains("population.json")
            && e.contains("../secret")
            && e.contains("not a file name inside"),
        "{e}"
    );
}

#[test]
fn a_failing_member_is_replaced_and_an_all_failing_generation_stops_the_run() {
    struct FailsFirst(Walker);
    impl Resumable for FailsFirst {
        fn train_span(
            &mut self,
            p: &Params,
            from: Option<&Checkpoint>,
            epochs: Range<usize>,
            ctx: &mut TrialContext<'_>,
        ) -> Result<Span, BoxError> {
            if ctx.info().number == 0 && epochs.start == 0 {
                panic!("member 0 cannot start");
            }
            self.0.train_span(p, from, epochs, ctx)
        }
    }
    let run = pbt()
        .run(&Workers::cpu(2), |_| Ok(FailsFirst(Walker)))
        .unwrap();
    let first = &run.members[0].history;
    assert!(first[0]
        .error
        .as_deref()
        .unwrap()
        .contains("member 0 cannot start"));
    assert!(
        first[1].copied_from.is_some(),
        "the failed member copies a good one"
    );
    assert!(run.members[0].score().is_some());

    struct Broken;
    impl Resumable for Broken {
        fn train_span(
            &mut self,
            _: &Params,
            _: Option<&Checkpoint>,
            _: Range<usize>,
            _: &mut TrialContext<'_>,
        ) -> Result<Span, BoxError> {
            Err("no data".into())
        }
    }
    let err = pbt()
        .run(&Workers::cpu(2), |_| Ok(Broken))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("every member failed") && err.contains("no data"),
        "{err}"
    );
}

#[test]
fn invalid_settings_are_refused_by_name() {
    let err = |p: Pbt| {
        p.run(&Workers::cpu(1), |_| Ok(Walker))
            .unwrap_err()
            .to_string()
    };
    assert!(err(pbt().population(1)).contains("population"));
    assert!(err(pbt().interval(0)).contains("interval"));
    assert!(err(pbt().quantile(0.7)).contains("quantile"));
    assert!(err(pbt().resample(2.0)).contains("resample"));
}

#[test]
fn callbacks_watch_every_member_across_generations() {
    use knob_core::{Control, LambdaCallback};
    // (member, epoch, lr, score) for every epoch trained.
    let seen = Arc::new(Mutex::new(Vec::<(u64, usize, f64, f64)>::new()));
    let sink = seen.clone();
    let population = pbt()
        .run_with_callbacks(
            &Workers::cpu(2),
            |_| Ok(Walker),
            move |info| {
                let (member, lr) = (info.number, info.params.float("lr").unwrap());
                let sink = sink.clone();
                CallbackList::new().with(LambdaCallback::new().epoch_end(move |epoch, logs, _| {
                    sink.lock()
                        .unwrap()
                        .push((member, epoch, lr, logs["score"]));
                    Ok(Control::Continue)
                }))
            },
        )
        .unwrap();
    let seen = seen.lock().unwrap();
    for m in &population.members {
        let mine: Vec<_> = seen.iter().filter(|s| s.0 == m.id as u64).collect();
        let mut epochs: Vec<usize> = mine.iter().map(|s| s.1).collect();
        epochs.sort_unstable();
        assert_eq!(epochs, (0..12).collect::<Vec<_>>(), "member {}", m.id);
        for step in &m.history {
            let last = mine
                .iter()
                .find(|s| s.1 == step.epochs.end - 1)
                .expect("the span's last epoch");
            assert_eq!(last.2, step.params.float("lr").unwrap());
            assert_eq!(Some(last.3), step.score);
        }
    }
}
