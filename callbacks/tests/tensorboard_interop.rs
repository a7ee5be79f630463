//! Logs written by knob read back through the real TensorBoard reader.
//!
//! A small study trains the digits MLP with the TensorBoard and ConfusionMatrix
//! callbacks; `tools/tb_inspect.py` (TensorBoard's own reader and HParams plugin, with
//! an independent check of every record's CRCs) must then find every scalar,
//! histogram, image and HParams session. It needs Python with the `tensorboard`
//! package: `KNOB_TB_PYTHON`, else `.venv-tb/bin/python` at the workspace root, which
//! this test creates with pip when it is missing. Without Python the test fails; it
//! never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use knob_callbacks::tensorboard::{summary, RunWriter};
use knob_callbacks::{write_experiment, ConfusionMatrix, TensorBoard, UpdateFreq};
use knob_core::{CallbackList, Direction, Scale, SearchSpace, Study, Workers};
use knob_samplers::{Pbt, RandomSampler};
use knob_trainers::{data, MlpTrainer};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

/// A Python that can import tensorboard, installing one into `.venv-tb` if needed.
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("KNOB_TB_PYTHON") {
        return p.into();
    }
    let venv = workspace().join(".venv-tb");
    let python = venv.join("bin/python");
    let has_tensorboard = |py: &Path| {
        Command::new(py)
            .args(["-c", "import tensorboard"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has_tensorboard(&python) {
        let made = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "could not create {} with python3 -m venv",
            venv.display()
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "tensorboard"])
            .status();
        assert!(
            pip.is_ok_and(|s| s.success()),
            "pip could not install tensorboard into {}",
            venv.display()
        );
    }
    assert!(
        has_tensorboard(&python),
        "{} cannot import tensorboard",
        python.display()
    );
    python
}

/// Runs `tb_inspect.py` on `logdir` with `requires`; `--strict` also fails on its
/// warnings (points RustBoard would drop, torn tails).
fn inspect(logdir: &Path, requires: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(python());
    cmd.arg(workspace().join("tools/tb_inspect.py"))
        .arg(logdir)
        .arg("--compact")
        .arg("--strict");
    for r in requires {
        cmd.arg("--require").arg(r);
    }
    let out = cmd.output().expect("running tb_inspect.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Serves `logdir` with TensorBoard's own server and the flags knob tells users to
/// run it with, and reads it back through the HTTP API the dashboard's pages use.
fn serve(logdir: &Path) -> serde_json::Value {
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tb_serve.py"))
        .arg(logdir)
        .args(knob_callbacks::tensorboard::VIEW_FLAGS.split_whitespace())
        .output()
        .expect("running tb_serve.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tb_serve.py failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn a_study_logs_what_tensorboard_reads() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("tb");
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let space = SearchSpace::builder()
        .float("lr", 1e-3, 1e-2, Scale::Log)
        .int("units", 16, 64, Scale::Log)
        .categorical("activation", ["relu", "tanh"])
        .build()
        .unwrap();
    let study = Study::builder(space.clone())
        .direction(Direction::Maximize)
        .sampler(RandomSampler::new())
        .build()
        .unwrap();
    let callbacks = |_: &knob_core::TrialInfo| {
        CallbackList::new()
            .with(
                TensorBoard::new(&logdir)
                    .histogram_freq(1)
                    .update_freq(UpdateFreq::Every(10))
                    .write_images(true)
                    .experiment_name("digits")
                    .objective("val_accuracy"),
            )
            .with(ConfusionMatrix::new(&logdir).save_to(dir.path().join("png")))
    };
    let epochs = knob_core::Params::from_iter([("epochs", 3.into())]);
    let trainer =
        |_| MlpTrainer::new(train.clone(), valid.clone()).map(|t| t.defaults(epochs.clone()));
    study.optimize(2, 2, trainer, callbacks).unwrap();
    // The first trial's callback wrote the experiment from the trial's space: once.
    assert!(!write_experiment(&logdir, "digits", &space, &["val_loss"], "val_loss").unwrap());

    // A text summary too, written directly.
    let mut notes = RunWriter::create(&logdir.join("notes")).unwrap();
    notes
        .write(0, vec![summary::text("readme", "knob **study**")])
        .unwrap();
    drop(notes);

    let (ok, report) = inspect(
        &logdir,
        &[
            "scalar:epoch_loss@*/train==6",
            "scalar:epoch_accuracy@*/validation==6",
            "scalar:batch_loss>=4",
            "histogram:dense_0/kernel==6",
            "histogram:*>=24",
            "image:confusion_matrix==6",
            "image:input_images==2",
            "image:dense_1/kernel/image==6",
            "text:readme==1",
            "hparams==2",
            "hparam:lr==2",
            "metric:epoch_accuracy@validation==2",
            "metric:epoch_loss@train==2",
        ],
    );
    assert!(ok, "tb_inspect found problems:\n{report}");
    // What the dashboard shows, through TensorBoard's HTTP data API: every epoch's
    // confusion matrix (the viewing flags keep them all), histograms, curves, and the
    // HParams table with the objective as its first metric and both sessions a success.
    let served = serve(&logdir);
    for trial in ["trial_0000", "trial_0001"] {
        let count = |kind: &str, key: String| served[kind][&key].as_u64().unwrap_or(0);
        assert_eq!(
            count("images", format!("{trial}/confusion|confusion_matrix")),
            3,
            "{served}"
        );
        assert_eq!(
            count("images", format!("{trial}/train|input_images")),
            1,
            "{served}"
        );
        assert_eq!(
            count("histograms", format!("{trial}/train|dense_0/kernel")),
            3,
            "{served}"
        );
        let tags = served["scalars"][format!("{trial}/validation")].to_string();
        assert!(tags.contains("epoch_accuracy"), "{served}");
        assert_eq!(served["sessions"][trial], "STATUS_SUCCESS", "{served}");
    }
    let metrics = served["metrics"].as_array().unwrap();
    assert_eq!(metrics[0], "validation/epoch_accuracy", "{served}");
    assert!(
        metrics.iter().any(|m| m == "train/epoch_lr"),
        "every logged value is a column: {served}"
    );
    let pngs = std::fs::read_dir(dir.path().join("png")).unwrap().count();
    assert_eq!(pngs, 6, "confusion matrices saved to disk");
    if let Ok(keep) = std::env::var("KNOB_KEEP_TB") {
        let _ = std::fs::remove_dir_all(&keep);
        std::fs::rename(dir.path(), &keep).unwrap();
        std::mem::forget(dir);
    }
}

#[test]
fn population_members_log_one_curve_and_one_session_each() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("tb");
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let space = SearchSpace::builder()
        .float("lr", 1e-3, 1e-1, Scale::Log)
        .build()
        .unwrap();
    // Three generations of two epochs: each member's run gets a file per generation.
    Pbt::new(space)
        .direction(Direction::Maximize)
        .population(2)
        .epochs(6)
        .interval(2)
        .run_with_callbacks(
            &Workers::cpu(2),
            |_| MlpTrainer::new(train.clone(), valid.clone()),
            |_| CallbackList::new().with(TensorBoard::new(&logdir)),
        )
        .unwrap();
    let (ok, report) = inspect(
        &logdir,
        &[
            "scalar:epoch_loss@trial_0000/train==6",
            "scalar:epoch_accuracy@trial_0001/validation==6",
            "hparams==2",
        ],
    );
    assert!(ok, "tb_inspect found problems:\n{report}");
}

#[test]
fn conditional_parameters_have_a_value_in_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("tb");
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let space = SearchSpace::builder()
        .float("lr", 1e-3, 1e-2, Scale::Log)
        .categorical("optimizer", ["adam", "sgd"])
        .float("momentum", 0.5, 0.95, Scale::LogOneMinus)
        .when_in("optimizer", ["sgd"])
        .build()
        .unwrap();
    let study = Study::builder(space)
        .direction(Direction::Maximize)
        .sampler(RandomSampler::new())
        .build()
        .unwrap();
    // One trial of each optimizer: momentum is inactive in the first.
    for optimizer in ["adam", "sgd"] {
        let mut params =
            knob_core::Params::from_iter([("lr", 0.005.into()), ("optimizer", optimizer.into())]);
        if optimizer == "sgd" {
            params.insert("momentum".to_owned(), knob_core::Value::Float(0.9));
        }
        study.enqueue(params).unwrap();
    }
    let epochs = knob_core::Params::from_iter([("epochs", 1.into())]);
    study
        .optimize(
            2,
            1,
            |_| MlpTrainer::new(train.clone(), valid.clone()).map(|t| t.defaults(epochs.clone())),
            |_| CallbackList::new().with(TensorBoard::new(&logdir)),
        )
        .unwrap();
    let (ok, report) = inspect(
        &logdir,
        &["hparams==2", "hparam:momentum==2", "hparam:optimizer==2"],
    );
    assert!(ok, "tb_inspect found problems:\n{report}");
    assert!(
        report.contains("\"inactive\""),
        "the adam trial's momentum: {report}"
    );
}

#[test]
fn sessions_end_with_the_trials_status() {
    use knob_core::{BoxError, Callback, EpochView, Logs, Params, Pruner, Trainer, TrialContext};
    /// Three epochs of a closed form; fails when x < 0.3.
    struct Curve;
    impl Trainer for Curve {
        fn fit(&mut self, p: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
            let x = p.float("x")?;
            let info = ctx.info().clone();
            ctx.callbacks.on_train_begin(&info)?;
            let mut logs = Logs::new();
            for epoch in 0..3 {
                logs = Logs::from([("val_loss".to_owned(), x)]);
                if ctx
                    .end_epoch(epoch, &logs, &EpochView::new(&info), x)?
                    .is_stop()
                {
                    break;
                }
                if x < 0.3 {
                    return Err("x below 0.3".into());
                }
            }
            ctx.callbacks.on_train_end(&logs)?;
            Ok(x)
        }
    }
    /// Prunes values above 0.8.
    struct Above;
    impl Pruner for Above {
        fn should_prune(&self, t: &knob_core::Trial, _: &knob_core::History) -> bool {
            t.intermediate.values().any(|&v| v > 0.8)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("tb");
    let space = SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    let study = Study::builder(space)
        .sampler(RandomSampler::new())
        .pruner(Above)
        .build()
        .unwrap();
    for x in [0.5, 0.9, 0.1] {
        study.enqueue(Params::from_iter([("x", x.into())])).unwrap();
    }
    study
        .optimize(
            3,
            1,
            |_| Ok(Curve),
            |_| CallbackList::new().with(TensorBoard::new(&logdir)),
        )
        .unwrap();
    let (ok, report) = inspect(&logdir, &["hparams==3"]);
    assert!(ok, "tb_inspect found problems:\n{report}");
    // Complete, pruned and failed: each status once in the sessions read from disk and
    // once in what TensorBoard's dashboard serves.
    for status in ["STATUS_SUCCESS", "STATUS_UNKNOWN", "STATUS_FAILURE"] {
        assert_eq!(report.matches(status).count(), 2, "{status}: {report}");
    }
}

/// Starts TensorBoard on `logdir` with `flags` and asks its HTTP data API how many images
/// of `run`/`tag` it serves, once the count stops growing.
const SERVE_AND_COUNT: &str = r#"
import json, socket, subprocess, sys, time, urllib.parse, urllib.request
logdir, run, tag, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
tb = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", logdir,
                       "--host", "127.0.0.1", "--port", str(port), *flags],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}/data/plugin/images"
seen, deadline = [], time.time() + 120
try:
    while time.time() < deadline:
        time.sleep(1)
        try:
            tags = json.load(urllib.request.urlopen(base + "/tags", timeout=5))
        except OSError:
            continue
        if tag not in tags.get(run, {}):
            continue
        query = urllib.parse.urlencode({"run": run, "tag": tag, "sample": 0})
        seen.append(len(json.load(urllib.request.urlopen(base + "/images?" + query, timeout=5))))
        if len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]:
            break
finally:
    tb.kill()
print(json.dumps({"images": seen[-1] if seen else None}))
"#;

#[test]
fn the_viewing_command_shows_every_epochs_image() {
    const EPOCHS: i64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("tb");
    let mut run = RunWriter::create(&logdir.join("trial_0000/confusion")).unwrap();
    for step in 0..EPOCHS {
        let pixels = vec![step as f32 / EPOCHS as f32; 64];
        let png = summary::png_gray(&pixels, 8, 8);
        run.write(step, vec![summary::image("confusion_matrix", png, 8, 8, 1)])
            .unwrap();
    }
    run.flush().unwrap();
    drop(run);
    let out = Command::new(python())
        .arg("-c")
        .arg(SERVE_AND_COUNT)
        .arg(&logdir)
        .args(["trial_0000/confusion", "confusion_matrix"])
        .args(knob_callbacks::tensorboard::VIEW_FLAGS.split_whitespace())
        .output()
        .expect("running TensorBoard");
    let text = String::from_utf8_lossy(&out.stdout);
    let served: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(served["images"], EPOCHS, "TensorBoard served {served}");
}
