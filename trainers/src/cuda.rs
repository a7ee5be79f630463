//! Training on NVIDIA GPUs (the `cuda` feature): one trainer per GPU.

use dfdx::prelude::Cuda;
use knob_core::{BoxError, DeviceError};

use crate::mlp::MlpDevice;

impl MlpDevice for Cuda {
    const FAILS_BY_PANIC: bool = true;

    fn build(ordinal: usize, seed: u64) -> Result<Self, BoxError> {
        Cuda::try_build(ordinal, seed)
            .map_err(|e| DeviceError::new(format!("CUDA device {ordinal}: {e:?}")).into())
    }
}

/// How many CUDA devices the driver sees (0 when there is no driver or no GPU), so a
/// study can run one worker per GPU: `study.optimize(n, gpu_count(), |w| MlpTrainer::<Cuda>::on_device(.., w), ..)`.
pub fn gpu_count() -> usize {
    cudarc::driver::CudaDevice::count().map_or(0, |n| n.max(0) as usize)
}
