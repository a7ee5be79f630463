"""Optuna's samplers on the job users run, beside `job-bench`: the same conditional space
as tune_digits, each trial trained by knob's own MLP through `job-bench --eval`, so equal
params give equal accuracy whoever proposes them. One JSON line per run, in job-bench's
format, so `job-bench --summary` puts them side by side.

Usage: python optuna_job_peer.py [--samplers tpe,gp,random] [--seeds 30] [--first-seed 0]
                                 [--trials 20] [--jobs 2] [--bench target/release/job-bench]

Needs `pip install optuna==5.0.0` (and `scipy` and `torch` for the GP). The 1-β
parameters are searched as 1 - β on a log scale, as knob's LogOneMinus scale does.
"""
import argparse
import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def params_of(trial):
    """tune_digits's conditional space, define-by-run."""
    p = {"lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True)}
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"])
    p["optimizer"] = optimizer
    momentum = {"adam": "beta1", "sgd": "momentum", "rmsprop": "rho"}[optimizer]
    p[momentum] = 1 - trial.suggest_float(f"one_minus_{momentum}", 0.01, 0.2, log=True)
    p["layers"] = trial.suggest_int("layers", 1, 3)
    for i in range(p["layers"]):
        p[f"units_{i}"] = trial.suggest_int(f"units_{i}", 32, 512, log=True)
    p["dropout"] = trial.suggest_float("dropout", 0.0, 0.5)
    p["batch_size"] = trial.suggest_categorical("batch_size", [32, 64, 128])
    return p


def make_sampler(name, seed):
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SystemExit(f"unknown sampler {name}")


class Evaluator:
    """One `job-bench --eval` process per worker thread."""

    def __init__(self, bench):
        self.proc = subprocess.Popen([bench, "--eval"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def accuracy(self, params):
        self.proc.stdin.write(json.dumps(params) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["accuracy"]


def run(evaluator, sampler_name, seed, trials):
    study = optuna.create_study(direction="maximize", sampler=make_sampler(sampler_name, seed))
    accuracy, started = [], time.time()
    for _ in range(trials):
        trial = study.ask()
        value = evaluator.accuracy(params_of(trial))
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, value)
        accuracy.append(value)
    return {"sampler": f"optuna-{sampler_name}", "seed": seed, "accuracy": accuracy,
            "seconds": time.time() - started}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samplers", default="tpe,gp,random")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--bench", default="target/release/job-bench")
    args = parser.parse_args()
    work = [(s, seed) for s in args.samplers.split(",")
            for seed in range(args.first_seed, args.first_seed + args.seeds)]
    local, lock = threading.local(), threading.Lock()

    def one(item):
        if not hasattr(local, "evaluator"):
            local.evaluator = Evaluator(args.bench)
        line = json.dumps(run(local.evaluator, item[0], item[1], args.trials))
        with lock:
            print(line, flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one, work))


if __name__ == "__main__":
    main()
