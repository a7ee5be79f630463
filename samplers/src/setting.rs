//! The error of a sampler or pruner setting that is out of its range: setters refuse
//! it instead of quietly using the nearest valid value.

/// A setting a sampler or pruner cannot work with.
///
/// ```
/// let err = knob_samplers::GpSampler::new().startup(1).err().unwrap();
/// assert_eq!(err.to_string(), "GpSampler::startup: 1 is invalid: it must be at least 2");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{owner}::{setting}: {value} is invalid: it must be {expected}")]
pub struct InvalidSetting {
    /// The sampler or pruner (`GpSampler`).
    pub owner: &'static str,
    /// The setter (`startup`).
    pub setting: &'static str,
    /// The value given.
    pub value: String,
    /// What it must be (`at least 2`).
    pub expected: &'static str,
}

/// `Ok(())` when `ok`, else the error for `value` of `owner::setting`.
pub(crate) fn require(
    ok: bool,
    owner: &'static str,
    setting: &'static str,
    value: impl std::fmt::Display,
    expected: &'static str,
) -> Result<(), InvalidSetting> {
    if ok {
        Ok(())
    } else {
        Err(InvalidSetting {
            owner,
            setting,
            value: value.to_string(),
            expected,
        })
    }
}
