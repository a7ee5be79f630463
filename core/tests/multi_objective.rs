//! Studies of several objectives and studies with constraints: what the journal keeps,
//! what counts as best, and what is refused.

use knob_core::testing::UniformSampler;
use knob_core::{
    BoxError, CallbackList, Direction, History, KnobRng, NopPruner, Outcome, Params, Scale,
    SearchSpace, Study, Trainer, TrialContext, TrialState,
};

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap()
}

const TWO: [Direction; 2] = [Direction::Maximize, Direction::Minimize];

/// Accuracy rises with x, size with x squared; x above 0.9 is too large to deploy.
struct AccuracyAndSize;

impl Trainer for AccuracyAndSize {
    fn fit_objectives(
        &mut self,
        params: &Params,
        ctx: &mut TrialContext<'_>,
    ) -> Result<Vec<f64>, BoxError> {
        let x = params.float("x")?;
        ctx.set_constraints([x - 0.9]);
        Ok(vec![x, x * x])
    }
}

#[test]
fn a_journal_keeps_every_objective_and_constraint_and_its_directions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mo.jsonl");
    let open = || {
        Study::builder(space())
            .directions(TWO)
            .sampler(UniformSampler)
            .journal(&path)
            .seed(4)
            .build()
    };
    let study = open().unwrap();
    let summary = study
        .optimize(40, 2, |_| Ok(AccuracyAndSize), |_| CallbackList::new())
        .unwrap();
    assert_eq!(summary.completed, 40);
    assert!(summary.best.is_none());
    let front = study.best_trials().unwrap();
    assert_eq!(summary.front, front);
    assert!(summary.to_string().contains("Pareto front"), "{summary}");
    drop(study);

    let study = open().unwrap();
    assert_eq!(study.directions(), TWO);
    let trials = study.trials().unwrap();
    for t in &trials {
        let x = t.params.float("x").unwrap();
        assert_eq!(t.values(), [x, x * x], "trial {}", t.number);
        assert_eq!(t.value, Some(x));
        assert_eq!(t.constraints, [x - 0.9]);
        assert_eq!(t.is_feasible(), x <= 0.9);
    }
    // Every feasible trial trades accuracy for size, so the front is all of them.
    let feasible = trials.iter().filter(|t| t.is_feasible()).count();
    assert!(feasible < trials.len(), "some x above 0.9 in 40 draws");
    assert_eq!(study.best_trials().unwrap(), front);
    assert_eq!(front.len(), feasible);
    assert!(front.iter().all(|t| t.is_feasible()));
    let board = study.leaderboard(3).unwrap().to_string();
    assert!(
        board.contains("value 1") && board.contains("value 2"),
        "{board}"
    );
    drop(study);

    let e = Study::builder(space())
        .directions([Direction::Maximize, Direction::Maximize])
        .sampler(UniformSampler)
        .journal(&path)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("created to maximize, minimize, not maximize, maximize"),
        "{e}"
    );
}

#[test]
fn a_front_dominated_trial_and_an_infeasible_one_are_not_best() {
    let study = Study::builder(space())
        .directions([Direction::Minimize, Direction::Minimize])
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let tell = |outcome: Outcome| {
        let t = study.ask().unwrap().unwrap();
        study.tell(t.number, outcome).unwrap();
        t.number
    };
    let a = tell(Outcome::values([1.0, 3.0]));
    let b = tell(Outcome::values([2.0, 2.0]));
    tell(Outcome::values([2.5, 2.5])); // dominated by b
    tell(Outcome::constrained([0.0, 0.0], [0.1])); // dominates all, infeasible
    let c = tell(Outcome::constrained([3.0, 1.0], [-1.0, 0.0]));
    let front: Vec<u64> = study
        .best_trials()
        .unwrap()
        .iter()
        .map(|t| t.number)
        .collect();
    assert_eq!(front, [a, b, c]);
    let e = study.best_trial().err().unwrap().to_string();
    assert!(
        e.contains("2 objectives") && e.contains("best_trials()"),
        "{e}"
    );
}

#[test]
fn wrong_counts_and_non_finite_values_fail_the_trial_with_a_reason() {
    let study = Study::builder(space())
        .directions(TWO)
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let cases = [
        (
            Outcome::Complete(0.5),
            "returned 1 objective value for a study of 2 objectives",
        ),
        (
            Outcome::values([0.5, 0.2, 0.1]),
            "returned 3 objective values for a study of 2 objectives",
        ),
        (Outcome::values([0.5, f64::NAN]), "objective value is NaN"),
        (
            Outcome::constrained([0.5, 0.2], [f64::INFINITY]),
            "constraint value is inf",
        ),
    ];
    for (outcome, reason) in cases {
        let t = study.ask().unwrap().unwrap();
        study.tell(t.number, outcome).unwrap();
        let t = &study.trials().unwrap()[t.number as usize];
        assert_eq!(t.state, TrialState::Failed);
        assert!(
            t.error.as_deref().unwrap().contains(reason),
            "{:?}",
            t.error
        );
    }
}

#[test]
fn one_objective_with_constraints_ranks_infeasible_trials_last() {
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .build()
        .unwrap();
    for (value, constraint) in [(0.1, 2.0), (0.5, -1.0), (0.3, 0.5), (0.7, 0.0)] {
        let t = study.ask().unwrap().unwrap();
        study
            .tell(t.number, Outcome::constrained([value], [constraint]))
            .unwrap();
    }
    assert_eq!(study.best_trial().unwrap().unwrap().number, 1);
    let history = study.history().unwrap();
    let losses: Vec<(u64, f64)> = history.observations().map(|o| (o.number, o.loss)).collect();
    // Feasible trials keep their loss; infeasible ones rank behind the worst feasible
    // (0.7) by their violation.
    assert_eq!(losses, [(0, 2.7), (1, 0.5), (2, 1.2), (3, 0.7)]);
    let board = study.leaderboard(10).unwrap();
    let shown: Vec<u64> = board.rows.iter().map(|t| t.number).collect();
    assert_eq!(
        shown,
        [1, 3],
        "infeasible trials are not on the leaderboard"
    );
    assert_eq!(board.infeasible, 2);
    let text = board.to_string();
    assert!(
        text.ends_with("2 complete trials break a constraint and are not ranked\n"),
        "{text}"
    );
}

#[test]
fn a_leaderboard_of_infeasible_trials_only_says_so() {
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .build()
        .unwrap();
    assert_eq!(
        study.leaderboard(5).unwrap().to_string(),
        "(no complete trials)\n"
    );
    let board = |violation: f64| {
        let t = study.ask().unwrap().unwrap();
        study
            .tell(t.number, Outcome::constrained([0.1], [violation]))
            .unwrap();
        study.leaderboard(5).unwrap().to_string()
    };
    assert_eq!(
        board(1.0),
        "(no feasible complete trials)\n1 complete trial breaks a constraint and is not ranked\n"
    );
    assert_eq!(
        board(0.5),
        "(no feasible complete trials)\n2 complete trials break a constraint and are not ranked\n"
    );
}

/// A sampler that never said it handles several objectives.
struct FirstObjectiveOnly;

impl knob_core::Sampler for FirstObjectiveOnly {
    fn suggest(
        &mut self,
        space: &SearchSpace,
        _: &History,
        _: &mut KnobRng,
    ) -> knob_core::Result<Option<Vec<f64>>> {
        Ok(Some(vec![0.5; space.len()]))
    }
}

#[test]
fn samplers_of_one_objective_and_pruners_are_refused() {
    let e = Study::builder(space())
        .directions(TWO)
        .sampler(FirstObjectiveOnly)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("sampler FirstObjectiveOnly optimizes one objective") && e.contains("NsgaII"),
        "{e}"
    );
    let e = Study::builder(space())
        .directions(TWO)
        .sampler(UniformSampler)
        .pruner(NopPruner)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("cannot prune") && e.contains("remove .pruner"),
        "{e}"
    );
    let e = Study::builder(space())
        .directions([])
        .sampler(UniformSampler)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("at least one objective"), "{e}");
}

/// Implements neither fit nor fit_objectives.
struct Forgetful;
impl Trainer for Forgetful {}

#[test]
fn a_trainer_without_fit_fails_its_trials_with_a_reason() {
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let summary = study
        .optimize(2, 1, |_| Ok(Forgetful), |_| CallbackList::new())
        .unwrap();
    assert_eq!(summary.failed, 2);
    let e = study.trials().unwrap()[0].error.clone().unwrap();
    assert!(
        e.contains("neither Trainer::fit nor Trainer::fit_objectives"),
        "{e}"
    );
}
