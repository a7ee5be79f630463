//! The claims of `pruning-bench`, checked on three seeds: ASHA keeps the best accuracy
//! of an unpruned study within half a point in at most half the epochs, and PBT beats
//! random search at the same epoch budget.

use knob_benches::pruning::{run_seed, Setup, Summary};

#[test]
fn asha_saves_epochs_and_pbt_beats_random_search() {
    let setup = Setup::default();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|seed| s.spawn(move || run_seed(&setup, seed).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let m = Summary::of(&results);
    println!("{}", serde_json::to_string(&m).unwrap());
    assert!(
        m.asha_best_acc >= m.none_best_acc - 0.005,
        "ASHA lost more than half a point: {m:?}"
    );
    assert!(
        m.asha_epochs <= 0.5 * m.none_epochs,
        "ASHA trained more than half the epochs: {m:?}"
    );
    assert!(
        m.pbt_best_acc > m.random_same_budget_best_acc,
        "PBT did not beat random search at its budget: {m:?}"
    );
    for r in &results {
        assert_eq!(r.none_epochs, setup.trials * setup.epochs);
    }
}
