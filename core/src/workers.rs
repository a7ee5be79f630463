//! Where a study's workers train: their devices, and the error that blames a device.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A device a worker trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// The CPU (a worker is one thread; its trainer may start more).
    Cpu,
    /// The GPU with this ordinal.
    Gpu(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Gpu(ordinal) => write!(f, "gpu:{ordinal}"),
        }
    }
}

/// A worker as its trainer factory sees it: its index and its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    /// 0-based, unique within one `optimize` call.
    pub index: usize,
    /// The device it trains on.
    pub device: Device,
}

/// The workers of a study, one device each: the placement
/// [`Study::optimize_on`](crate::Study::optimize_on) runs with.
///
/// Several workers may share a device (two per GPU keeps a small model's GPU busy
/// while the other worker evaluates). It parses from a command-line form:
///
/// ```
/// use knob_core::{Device, Workers};
/// let w: Workers = "gpu:0,1,1".parse()?;
/// assert_eq!(w.devices(), [Device::Gpu(0), Device::Gpu(1), Device::Gpu(1)]);
/// assert_eq!("cpu:4".parse::<Workers>()?, Workers::cpu(4));
/// assert_eq!("4".parse::<Workers>()?, Workers::cpu(4));
/// assert!("tpu:0".parse::<Workers>().is_err());
/// # Ok::<(), knob_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workers {
    devices: Vec<Device>,
}

impl Workers {
    /// `n` workers on the CPU: one per core is the usual choice.
    pub fn cpu(n: usize) -> Self {
        Self {
            devices: vec![Device::Cpu; n],
        }
    }

    /// One worker per GPU ordinal given (for example `0..gpu_count()`).
    pub fn gpus(ordinals: impl IntoIterator<Item = usize>) -> Self {
        Self::on(ordinals.into_iter().map(Device::Gpu))
    }

    /// One worker per device listed, in order.
    pub fn on(devices: impl IntoIterator<Item = Device>) -> Self {
        Self {
            devices: devices.into_iter().collect(),
        }
    }

    /// The device of each worker, by worker index.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// How many workers.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// The workers, with their indices.
    pub fn iter(&self) -> impl Iterator<Item = Worker> + '_ {
        self.devices
            .iter()
            .enumerate()
            .map(|(index, &device)| Worker { index, device })
    }
}

impl FromStr for Workers {
    type Err = Error;

    /// `N` or `cpu:N` (N CPU workers), or `gpu:I,J,...` (a worker per listed ordinal).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: String| Error::Config(format!("workers `{s}`: {why}"));
        let (kind, list) = s.split_once(':').unwrap_or(("cpu", s));
        let number = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| bad(format!("`{t}` is not a non-negative integer")))
        };
        let workers = match kind.trim() {
            "cpu" => Workers::cpu(number(list)?),
            "gpu" => Workers::gpus(list.split(',').map(number).collect::<Result<Vec<_>>>()?),
            other => return Err(bad(format!("unknown device kind `{other}`"))),
        };
        if workers.is_empty() {
            return Err(bad("no workers".into()));
        }
        Ok(workers)
    }
}

/// An error that blames the device rather than the params: a GPU out of memory, a
/// lost device, a driver failure. A trainer returns it (boxed) from `fit`, and
/// `optimize` then retries the trial once on another worker instead of failing it.
///
/// ```
/// use knob_core::{BoxError, DeviceError};
/// let e: BoxError = DeviceError::new("CUDA out of memory").into();
/// assert!(e.downcast_ref::<DeviceError>().is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError {
    message: String,
}

impl DeviceError {
    /// A device error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device error: {}", self.message)
    }
}

impl std::error::Error for DeviceError {}
