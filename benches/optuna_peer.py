"""Optuna's samplers on sampler-bench's test functions, one JSON line per run in
sampler-bench's format, so `sampler-bench --summary` puts them beside knob's.

Usage: python optuna_peer.py [--samplers tpe,tpe-uni,gp,random] [--functions branin,...]
                             [--seeds 10] [--budget 50]

Functions of several objectives (zdt1, zdt2, dtlz2 and the constrained zdt1c, as
knob's MultiObjectiveFunction) write "hypervolume" per trial in place of
"best_so_far", for samplers nsga2, tpe, gp and random: constraints reach NSGA-II, the
TPE and the GP through Trial.set_constraint (Optuna 5's way; constraints_func is
deprecated there).

Needs `pip install optuna` (and `scipy` and `torch` for the GP). The functions, domains and
known minima are those of samplers/src/testing.rs; logscale_lr's beta is searched as
1 - beta on a log scale, as knob's LogOneMinus scale does.
"""
import argparse
import json
import math
import time

import optuna


def branin(x):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * math.cos(x[0]) + 10


HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
HARTMANN_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
HARTMANN_P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]


def hartmann(x, widths, centres):
    wells = zip(HARTMANN_ALPHA, widths, centres)
    return -sum(
        alpha * math.exp(-sum(a * (v - 1e-4 * p) ** 2 for v, a, p in zip(x, aa, pp)))
        for alpha, aa, pp in wells
    )


def hartmann6(x):
    return hartmann(x, HARTMANN_A, HARTMANN_P)


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def ackley(x):
    n = len(x)
    squares = sum(v * v for v in x) / n
    cosines = sum(math.cos(2 * math.pi * v) for v in x) / n
    return -20 * math.exp(-0.2 * math.sqrt(squares)) - math.exp(cosines) + 20 + math.e


def lowdim10(x):
    return 10 * (x[0] - 0.3) ** 2 + 10 * (x[1] - 0.7) ** 2 + 0.01 * sum((v - 0.5) ** 2 for v in x[2:])


def logscale_lr(x):
    lr, one_minus_beta = x
    return (math.log10(lr) + 2.5) ** 2 + (math.log10(one_minus_beta) + 2.2) ** 2


def goldstein_price(x):
    a, b = x
    first = 1 + (a + b + 1) ** 2 * (19 - 14 * a + 3 * a * a - 14 * b + 6 * a * b + 3 * b * b)
    second = 30 + (2 * a - 3 * b) ** 2 * (18 - 32 * a + 12 * a * a + 48 * b - 36 * a * b + 27 * b * b)
    return first * second


def six_hump_camel(x):
    a, b = x
    return (4 - 2.1 * a * a + a**4 / 3) * a * a + a * b + (-4 + 4 * b * b) * b * b


HARTMANN3_A = [[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]]
HARTMANN3_P = [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]


def hartmann3(x):
    return hartmann(x, HARTMANN3_A, HARTMANN3_P)


def styblinski_tang(x):
    return 0.5 * sum(v**4 - 16 * v * v + 5 * v for v in x)


def levy(x):
    w = [1 + (v - 1) / 4 for v in x]
    head = math.sin(math.pi * w[0]) ** 2
    middle = sum((wi - 1) ** 2 * (1 + 10 * math.sin(math.pi * wi + 1) ** 2) for wi in w[:-1])
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return head + middle + tail


def box(bounds):
    def suggest(trial):
        return [trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)]

    return suggest


def logscale_space(trial):
    return [
        trial.suggest_float("lr", 1e-5, 1.0, log=True),
        trial.suggest_float("one_minus_beta", 1e-3, 0.1, log=True),
    ]


FUNCTIONS = {
    "branin": (branin, box([(-5, 10), (0, 15)])),
    "hartmann6": (hartmann6, box([(0, 1)] * 6)),
    "rosenbrock4": (rosenbrock, box([(-5, 10)] * 4)),
    "ackley5": (ackley, box([(-32.768, 32.768)] * 5)),
    "lowdim10": (lowdim10, box([(0, 1)] * 10)),
    "logscale_lr": (logscale_lr, logscale_space),
    # Beyond the samplers issue's six (TestFunction::more in samplers/src/testing.rs).
    "goldstein_price": (goldstein_price, box([(-2, 2)] * 2)),
    "six_hump_camel": (six_hump_camel, box([(-3, 3), (-2, 2)])),
    "hartmann3": (hartmann3, box([(0, 1)] * 3)),
    "styblinski_tang5": (styblinski_tang, box([(-5, 5)] * 5)),
    "levy6": (levy, box([(-10, 10)] * 6)),
}


# Conditional spaces (TestFunction::conditional in samplers/src/testing.rs), declared
# define-by-run: a parameter is suggested only where knob's condition holds.
def hierarchical_space(trial):
    branch = trial.suggest_categorical("branch", ["a", "b", "c"])
    names = {"a": ["a0", "a1"], "b": ["b0", "b1", "b2"], "c": ["c0"]}[branch]
    return {"branch": branch, **{n: trial.suggest_float(n, 0, 1) for n in names}}


def hierarchical(p):
    if p["branch"] == "a":
        return 1 + (p["a0"] - 0.2) ** 2 + (p["a1"] - 0.7) ** 2
    if p["branch"] == "b":
        return 2 * (p["b0"] - 0.8) ** 2 + 2 * (p["b1"] - 0.3) ** 2 + (p["b2"] - 0.5) ** 2
    return 0.5 + 2 * abs(p["c0"] - 0.4)


def network_space(trial):
    layers = trial.suggest_int("layers", 1, 4)
    return {"layers": layers, **{f"w{i}": trial.suggest_float(f"w{i}", 0, 1) for i in range(layers)}}


def network(p):
    widths = sum((p[f"w{i}"] - (0.2 + 0.2 * i)) ** 2 for i in range(p["layers"]))
    return 0.15 * (p["layers"] - 3) ** 2 + widths


FUNCTIONS["hierarchical"] = (hierarchical, hierarchical_space)
FUNCTIONS["network"] = (network, network_space)
SIX = ["branin", "hartmann6", "rosenbrock4", "ackley5", "lowdim10", "logscale_lr"]


def zdt_g(x):
    return 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)


def zdt1(x):
    g = zdt_g(x)
    return [x[0], g * (1.0 - math.sqrt(x[0] / g))]


def zdt2(x):
    g = zdt_g(x)
    return [x[0], g * (1.0 - (x[0] / g) ** 2)]


def dtlz2(x):
    g = sum((v - 0.5) ** 2 for v in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return [
        (1 + g) * math.cos(a) * math.cos(b),
        (1 + g) * math.cos(a) * math.sin(b),
        (1 + g) * math.sin(a),
    ]


# name: (objectives, constraints, reference point), each on [0, 1]^6.
MULTI = {
    "zdt1": (zdt1, lambda x: [], [1.1, 11.0]),
    "zdt2": (zdt2, lambda x: [], [1.1, 11.0]),
    "dtlz2": (dtlz2, lambda x: [], [1.1, 1.1, 1.1]),
    "zdt1c": (zdt1, lambda x: [0.2 - abs(x[0] - 0.5)], [1.1, 11.0]),
}


def make_multi_sampler(name, seed):
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SystemExit(f"unknown sampler {name} for several objectives; known: nsga2, tpe, gp, random")


def run_multi(function, sampler_name, seed, budget):
    import numpy as np
    from optuna._hypervolume import compute_hypervolume

    objectives, constraints, reference = MULTI[function]
    study = optuna.create_study(
        directions=["minimize"] * len(reference),
        sampler=make_multi_sampler(sampler_name, seed),
    )
    feasible, curve, started = [], [], time.perf_counter()
    for _ in range(budget):
        trial = study.ask()
        x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(6)]
        values, c = objectives(x), constraints(x)
        for i, value in enumerate(c):
            trial.set_constraint(f"c{i}", value)
        study.tell(trial, values)
        if all(v <= 0 for v in c):
            feasible.append(values)
        inside = [f for f in feasible if all(a < r for a, r in zip(f, reference))]
        hv = compute_hypervolume(np.array(inside), np.array(reference)) if inside else 0.0
        curve.append(float(hv))
    return {
        "function": function,
        "sampler": f"optuna-{sampler_name}",
        "seed": seed,
        "budget": budget,
        "hypervolume": curve,
        "seconds": time.perf_counter() - started,
    }


def make_sampler(name, seed):
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe-group":
        # Optuna's TPE for conditional spaces: joint kernels per group of parameters
        # that appear together.
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    if name == "tpe-uni":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SystemExit(f"unknown sampler {name}; known: tpe, tpe-group, tpe-uni, gp, random")


def run(function, sampler_name, seed, budget):
    objective, space = FUNCTIONS[function]
    study = optuna.create_study(sampler=make_sampler(sampler_name, seed))
    best, best_so_far, in_sampler, last = math.inf, [], 0.0, 0.0
    for _ in range(budget):
        # ask() is where the sampler works (its suggest calls happen inside).
        start = time.perf_counter()
        trial = study.ask()
        x = space(trial)
        last = time.perf_counter() - start
        in_sampler += last
        value = objective(x)
        study.tell(trial, value)
        best = min(best, value)
        best_so_far.append(best)
    return {
        "function": function,
        "sampler": f"optuna-{sampler_name}",
        "seed": seed,
        "budget": budget,
        "best_so_far": best_so_far,
        "sampler_seconds": in_sampler,
        "latency_last_ms": last * 1e3,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samplers", default="tpe")
    parser.add_argument("--functions", default=",".join(SIX))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=50)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for function in args.functions.split(","):
        if function not in FUNCTIONS and function not in MULTI:
            known = ", ".join(list(FUNCTIONS) + list(MULTI))
            raise SystemExit(f"unknown function {function}; known: {known}")
        runner = run_multi if function in MULTI else run
        for sampler_name in args.samplers.split(","):
            for seed in range(args.seeds):
                print(json.dumps(runner(function, sampler_name, seed, args.budget)), flush=True)


if __name__ == "__main__":
    main()
