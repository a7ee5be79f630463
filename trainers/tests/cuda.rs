//! The MLP on a GPU (build with `--features cuda` on a machine with CUDA and a GPU).
#![cfg(feature = "cuda")]

use knob_core::{CallbackList, Params, Trainer, TrialContext};
use knob_trainers::{data, gpu_count, Cuda, MlpTrainer};

#[test]
fn learns_digits_on_every_gpu() {
    let gpus = gpu_count();
    assert!(
        gpus > 0,
        "the cuda feature is on but the driver sees no GPU"
    );
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    for ordinal in 0..gpus {
        let mut trainer =
            MlpTrainer::<Cuda>::on_device(train.clone(), valid.clone(), ordinal).unwrap();
        let p = Params::from_iter([
            ("lr", 3e-3.into()),
            ("epochs", 15.into()),
            ("batch_size", 32.into()),
        ]);
        let mut ctx = TrialContext::standalone(p.clone()).with_callbacks(CallbackList::new());
        let accuracy = trainer.fit(&p, &mut ctx).unwrap();
        assert!(accuracy >= 0.96, "GPU {ordinal}: {accuracy}");
    }
}
