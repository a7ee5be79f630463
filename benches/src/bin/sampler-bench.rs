//! Runs samplers on standard test functions over seeds and prints one JSON line per run
//! (to `--out PATH` if given). `--function`, `--sampler` and `--trials` are accepted for
//! `--functions`, `--samplers` and `--budget`. `--summary FILE...` turns such output into a markdown table of final regret and a
//! PNG of the median regret curves (`--png PATH`, default `sampler-regret.png`). With
//! two samplers or more it also compares the first with each other one: the ratio of
//! median regrets with a bootstrap interval, and how often the first ends lower.
//!
//! Functions of several objectives (`zdt1`, `zdt2`, `dtlz2`, the constrained `zdt1c`)
//! write `"hypervolume": [...]` (of the feasible non-dominated trials so far, one per
//! trial) in place of `best_so_far`; their summary is the median hypervolume after each
//! of `--at` trials (default 50,100,200) and the first sampler's lead over the others.
//!
//! ```text
//! sampler-bench [--functions branin,hartmann6] [--samplers random,tpe,gp-startup10] [--seeds 10]
//!               [--budget 50] [--out runs.jsonl]
//! sampler-bench --function zdt1 --samplers nsga2,tpe,gp,random --trials 200 --seeds 10
//! sampler-bench --summary [--png regret.png] [--at 50,100,200] runs.jsonl [more.jsonl ...]
//! ```

use std::io::{BufRead, Write};

use knob_benches::hypervolume::{self, HypervolumeRun};
use knob_benches::regret::{comparison_table, plot_curves, run, summary_table, Run};
use knob_samplers::testing::{MultiObjectiveFunction, TestFunction};

/// A function to run samplers on.
enum Function {
    One(TestFunction),
    Several(MultiObjectiveFunction),
}

/// A `--summary` argument taken out of `files`: the value after `flag`.
fn take_flag(files: &mut Vec<&String>, flag: &str) -> Option<String> {
    let i = files.iter().position(|a| *a == flag)?;
    let value = files
        .get(i + 1)
        .unwrap_or_else(|| fail(&format!("{flag} needs a value")))
        .to_string();
    files.drain(i..i + 2);
    Some(value)
}

fn fail(message: &str) -> ! {
    eprintln!("sampler-bench: {message}");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--summary") {
        let mut files: Vec<&String> = args[1..].iter().collect();
        let png = std::path::PathBuf::from(
            take_flag(&mut files, "--png").unwrap_or_else(|| "sampler-regret.png".into()),
        );
        let at: Vec<usize> = take_flag(&mut files, "--at")
            .unwrap_or_else(|| "50,100,200".into())
            .split(',')
            .map(|k| {
                k.parse()
                    .unwrap_or_else(|_| fail("--at takes numbers: 50,100,200"))
            })
            .collect();
        if files.is_empty() {
            fail("--summary needs result files");
        }
        let mut runs = Vec::new();
        let mut several = Vec::new();
        for path in files {
            let file = std::fs::File::open(path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
            for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
                let line = line.unwrap_or_else(|e| fail(&format!("{path}: {e}")));
                if line.trim().is_empty() {
                    continue;
                }
                let bad =
                    |e: serde_json::Error| -> ! { fail(&format!("{path}, line {}: {e}", i + 1)) };
                if line.contains("\"hypervolume\"") {
                    several.push(
                        serde_json::from_str::<HypervolumeRun>(&line).unwrap_or_else(|e| bad(e)),
                    );
                } else {
                    runs.push(serde_json::from_str::<Run>(&line).unwrap_or_else(|e| bad(e)));
                }
            }
        }
        if !several.is_empty() {
            print!("{}", hypervolume::summary_table(&several, &at));
        }
        if runs.is_empty() {
            return;
        }
        print!("{}", summary_table(&runs));
        if let Some(table) = comparison_table(&runs) {
            print!("\n{table}");
        }
        plot_curves(&runs, &png).unwrap_or_else(|e| fail(&format!("{}: {e}", png.display())));
        println!("\nMedian regret curves: {}", png.display());
        return;
    }

    let mut functions: Vec<Function> = TestFunction::all()
        .iter()
        .copied()
        .map(Function::One)
        .collect();
    let mut samplers: Vec<String> = knob_samplers::NAMES.iter().map(|s| s.to_string()).collect();
    let (mut seeds, mut budget) = (10u64, 50usize);
    let mut out_path = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| fail(&format!("{flag} needs a value")))
                .clone()
        };
        match flag.as_str() {
            "--functions" | "--function" => {
                functions = value()
                    .split(',')
                    .map(|n| match TestFunction::by_name(n) {
                        Some(f) => Function::One(f),
                        None => Function::Several(
                            MultiObjectiveFunction::by_name(n)
                                .unwrap_or_else(|| fail(&format!("unknown function {n}"))),
                        ),
                    })
                    .collect()
            }
            "--samplers" | "--sampler" => {
                samplers = value().split(',').map(str::to_owned).collect();
                if let Some(Err(e)) = samplers
                    .iter()
                    .map(|s| knob_samplers::by_name(s))
                    .find(Result::is_err)
                {
                    fail(&e.to_string());
                }
            }
            "--seeds" => {
                seeds = value()
                    .parse()
                    .unwrap_or_else(|_| fail("--seeds takes a number"))
            }
            "--budget" | "--trials" => {
                budget = value()
                    .parse()
                    .unwrap_or_else(|_| fail(&format!("{flag} takes a number")))
            }
            "--out" => out_path = Some(std::path::PathBuf::from(value())),
            other => fail(&format!("unknown flag {other}")),
        }
    }
    let (mut out, name): (Box<dyn Write>, String) = match &out_path {
        Some(path) => {
            let file = std::fs::File::create(path)
                .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
            (Box::new(file), path.display().to_string())
        }
        None => (Box::new(std::io::stdout()), "stdout".into()),
    };
    for f in &functions {
        if let Function::Several(f) = f {
            if let Some(s) = samplers
                .iter()
                .find(|s| !knob_samplers::by_name(s).is_ok_and(|s| s.multi_objective()))
            {
                fail(&format!("{}: sampler {s} optimizes one objective", f.name));
            }
        }
    }
    for f in &functions {
        for s in &samplers {
            for seed in 0..seeds {
                let line = match f {
                    Function::One(f) => serde_json::to_string(&run(f, s, seed, budget)),
                    Function::Several(f) => {
                        serde_json::to_string(&hypervolume::run(f, s, seed, budget))
                    }
                };
                // One line per run, flushed, so a long benchmark can be watched and an
                // interrupted one keeps its finished runs.
                writeln!(out, "{}", line.expect("serializable"))
                    .and_then(|()| out.flush())
                    .unwrap_or_else(|e| fail(&format!("{name}: {e}")));
            }
        }
    }
}
