//! The errors of the trainers crate: a config the MLP cannot use, and data it cannot
//! read. Both name the parameter or file at fault.

use std::path::PathBuf;

/// Params that do not make an MLP [`Config`](crate::Config).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A param the MLP does not read: tuning it would change nothing.
    #[error(
        "parameter `{name}`: the MLP trainer does not read it{}; it reads {}, and units_0, \
         units_1, ... for per-layer widths",
        .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        crate::Config::PARAM_NAMES.join(", ")
    )]
    UnknownParam {
        /// The name.
        name: String,
        /// A known name it is close to.
        suggestion: Option<&'static str>,
    },
    /// A value the MLP cannot train with.
    #[error("parameter `{name}`: {why}")]
    Invalid {
        /// The parameter.
        name: String,
        /// What is wrong with its value.
        why: String,
    },
    /// A param of the wrong type.
    #[error(transparent)]
    Param(#[from] knob_core::Error),
}

/// A dataset that cannot be read or built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// An IDX file that cannot be read, or whose contents are not what MNIST's are.
    #[error("IDX file {path}: {why}")]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Features and labels whose sizes disagree, or a label outside the classes.
    #[error("{0}")]
    Shape(String),
}
