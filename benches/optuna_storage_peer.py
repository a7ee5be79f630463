"""Optuna's RDB storage on the job storage-bench runs, printing storage-bench's JSON line,
so the two can be set side by side in one run.

P processes ask and tell a trivial objective (x^2 + y^2 over [-5, 5]^2) with random
sampling on one fresh study in the PostgreSQL database at URL until it holds TRIALS
trials; then the study is read back for duplicate numbers and lost trials.

Usage: python optuna_storage_peer.py --storage postgresql://user:pw@host/db \
           [--procs 4] [--trials 400]

Needs `pip install optuna psycopg2-binary`.
"""
import argparse
import json
import multiprocessing
import time
import uuid

import optuna


def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    return x * x + y * y


def worker(url, name, trials, seed):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=name, storage=url, sampler=optuna.samplers.RandomSampler(seed=seed)
    )
    # MaxTrialsCallback stops every process once the study holds `trials` trials, as
    # knob's optimize(n) tops a shared study up to n.
    stop = optuna.study.MaxTrialsCallback(trials, states=None)
    study.optimize(objective, n_trials=trials, callbacks=[stop])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", required=True)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--trials", type=int, default=400)
    args = parser.parse_args()
    # SQLAlchemy picks its driver from the scheme; psycopg2 is the one installed above.
    url = args.storage.replace("postgres://", "postgresql://", 1)
    url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"storage-bench-{uuid.uuid4().hex[:16]}"
    optuna.create_study(study_name=name, storage=url)
    started = time.perf_counter()
    procs = [
        multiprocessing.Process(target=worker, args=(url, name, args.trials, seed))
        for seed in range(args.procs)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - started
    study = optuna.load_study(study_name=name, storage=url)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    print(
        json.dumps(
            {
                "storage": "optuna-rdb-postgres",
                "procs": args.procs,
                "trials": complete,
                "seconds": seconds,
                "trials_per_sec": complete / seconds,
                "duplicate_numbers": len(numbers) - len(set(numbers)),
                "lost": max(0, args.trials - complete),
            }
        )
    )
    optuna.delete_study(study_name=name, storage=url)


if __name__ == "__main__":
    main()
