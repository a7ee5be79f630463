//! A parameter's values and their scale: the map between a value and its unit
//! coordinate.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::SpaceError;
use crate::params::Value;

/// How a numeric parameter is spread over the unit interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Uniform in the value itself (dropout, hidden units).
    #[default]
    Linear,
    /// Uniform in `ln(x)`: every decade gets the same share (learning rates, weight
    /// decay). Needs `low > 0`.
    Log,
    /// Uniform in `ln(1 - x)`, for values close to 1 such as a momentum β in
    /// [0.9, 0.999]: [0.9, 0.99] and [0.99, 0.999] get the same share. Needs
    /// `0 < low < high < 1`. Floats only.
    LogOneMinus,
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scale::Linear => "linear",
            Scale::Log => "log",
            Scale::LogOneMinus => "log_one_minus",
        })
    }
}

/// The values one parameter may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Domain {
    /// A real number in `[low, high]`.
    Float {
        /// Lower bound, included.
        low: f64,
        /// Upper bound, included.
        high: f64,
        /// How values spread over the range.
        #[serde(default)]
        scale: Scale,
    },
    /// An integer in `[low, high]`; each integer owns an equal slice of the unit
    /// interval on its scale, so a random sampler hits every value of a small range.
    Int {
        /// Lower bound, included.
        low: i64,
        /// Upper bound, included.
        high: i64,
        /// Linear or log.
        #[serde(default)]
        scale: Scale,
    },
    /// One of a list of values, without order.
    Categorical {
        /// The values, each listed once.
        choices: Vec<Value>,
    },
}

impl Domain {
    /// The unit coordinate of `value`, or `None` when the value is not in the domain.
    ///
    /// Integers and choices map to the centre of their slice, so that
    /// `from_unit(to_unit(v)) == v` exactly.
    pub fn to_unit(&self, value: &Value) -> Option<f64> {
        match (self, value) {
            (Domain::Float { low, high, scale }, value) => {
                let x = match value {
                    Value::Float(x) => *x,
                    Value::Int(i) => *i as f64,
                    _ => return None,
                };
                if !(x >= *low && x <= *high) {
                    return None;
                }
                let (a, b) = (warp(*scale, *low), warp(*scale, *high));
                Some(((warp(*scale, x) - a) / (b - a)).clamp(0.0, 1.0))
            }
            (Domain::Int { low, high, scale }, Value::Int(i)) => {
                if i < low || i > high {
                    return None;
                }
                let (a, b) = int_edges(*scale, *low, *high);
                let x = *i as f64;
                let centre = 0.5 * (warp(*scale, x - 0.5) + warp(*scale, x + 0.5));
                Some(((centre - a) / (b - a)).clamp(0.0, 1.0))
            }
            (Domain::Categorical { choices }, value) => {
                let k = choices.iter().position(|c| c == value)?;
                Some(Domain::choice_centre(k, choices.len()))
            }
            _ => None,
        }
    }

    /// The value at unit coordinate `u` (clamped to `[0, 1]`).
    pub fn from_unit(&self, u: f64) -> Value {
        let u = u.clamp(0.0, 1.0);
        match self {
            Domain::Float { low, high, scale } => {
                let (a, b) = (warp(*scale, *low), warp(*scale, *high));
                Value::Float(unwarp(*scale, a + u * (b - a)).clamp(*low, *high))
            }
            Domain::Int { low, high, scale } => {
                let (a, b) = int_edges(*scale, *low, *high);
                let x = unwarp(*scale, a + u * (b - a)).round() as i64;
                Value::Int(x.clamp(*low, *high))
            }
            Domain::Categorical { choices } => {
                choices[Domain::choice_index(u, choices.len())].clone()
            }
        }
    }

    /// Which of `k` equal slices of `[0, 1]` holds `u`: the index of the choice (or of
    /// the value, counted from the low end) that unit coordinate `u` stands for.
    /// Coordinates outside `[0, 1]` fall in the end slices.
    ///
    /// ```
    /// use knob_core::Domain;
    /// assert_eq!(Domain::choice_index(0.0, 3), 0);
    /// assert_eq!(Domain::choice_index(0.5, 3), 1);
    /// assert_eq!(Domain::choice_index(1.0, 3), 2);
    /// assert_eq!(Domain::choice_index(Domain::choice_centre(2, 3), 3), 2);
    /// ```
    pub fn choice_index(u: f64, k: usize) -> usize {
        ((u * k as f64) as usize).min(k - 1)
    }

    /// The centre of slice `i` of `k`: the unit coordinate a choice is stored at.
    pub fn choice_centre(i: usize, k: usize) -> f64 {
        (i as f64 + 0.5) / k as f64
    }

    /// How many distinct values the domain holds, or `None` for a continuum.
    pub fn cardinality(&self) -> Option<u64> {
        match self {
            Domain::Float { .. } => None,
            Domain::Int { low, high, .. } => Some(high.abs_diff(*low).saturating_add(1)),
            Domain::Categorical { choices } => Some(choices.len() as u64),
        }
    }

    pub(super) fn validate(&self, name: &str) -> std::result::Result<(), SpaceError> {
        let name = name.to_owned();
        match self {
            Domain::Float { low, high, scale } => {
                let (low, high) = (*low, *high);
                if !low.is_finite() || !high.is_finite() {
                    return Err(SpaceError::NonFiniteBound { name, low, high });
                }
                check_scaled_range(name.clone(), low, high, *scale)?;
                // Unit coordinates divide by the width on the scale: an infinite width
                // would make every point NaN, which a journal cannot hold.
                if !(warp(*scale, high) - warp(*scale, low)).is_finite() {
                    return Err(SpaceError::RangeTooWide {
                        name,
                        low: low.to_string(),
                        high: high.to_string(),
                        why: "its width overflows a 64-bit float".into(),
                    });
                }
                Ok(())
            }
            Domain::Int { low, high, scale } => {
                if *scale == Scale::LogOneMinus {
                    return Err(SpaceError::UnsupportedScale {
                        name,
                        scale: scale.to_string(),
                    });
                }
                check_scaled_range(name.clone(), *low as f64, *high as f64, *scale)?;
                // Integers are placed through f64, exact up to 2^53.
                if high.abs_diff(*low) > MAX_INT_WIDTH {
                    return Err(SpaceError::RangeTooWide {
                        name,
                        low: low.to_string(),
                        high: high.to_string(),
                        why: format!("an int range can span at most 2^53 = {MAX_INT_WIDTH} values, each of them exactly"),
                    });
                }
                Ok(())
            }
            Domain::Categorical { choices } => {
                if choices.is_empty() {
                    return Err(SpaceError::NoChoices { name });
                }
                for (i, c) in choices.iter().enumerate() {
                    if let Value::Float(x) = c {
                        if !x.is_finite() {
                            return Err(SpaceError::NonFiniteBound {
                                name,
                                low: *x,
                                high: *x,
                            });
                        }
                    }
                    if choices[..i].contains(c) {
                        return Err(SpaceError::DuplicateChoice {
                            name,
                            choice: c.to_string(),
                        });
                    }
                }
                Ok(())
            }
        }
    }
}

/// The widest int range whose every value the unit interval can tell apart.
const MAX_INT_WIDTH: u64 = 1 << 53;

fn check_scaled_range(
    name: String,
    low: f64,
    high: f64,
    scale: Scale,
) -> std::result::Result<(), SpaceError> {
    if low >= high {
        return Err(SpaceError::EmptyRange { name, low, high });
    }
    match scale {
        Scale::Log if low <= 0.0 => Err(SpaceError::NonPositiveLogBound { name, low }),
        Scale::LogOneMinus if low <= 0.0 || high >= 1.0 => {
            Err(SpaceError::LogOneMinusBound { name, low, high })
        }
        _ => Ok(()),
    }
}

/// The coordinate in which a scale is uniform, increasing in `x`.
fn warp(scale: Scale, x: f64) -> f64 {
    match scale {
        Scale::Linear => x,
        Scale::Log => x.ln(),
        Scale::LogOneMinus => -(1.0 - x).ln(),
    }
}

fn unwarp(scale: Scale, w: f64) -> f64 {
    match scale {
        Scale::Linear => w,
        Scale::Log => w.exp(),
        Scale::LogOneMinus => 1.0 - (-w).exp(),
    }
}

/// The warped edges of an integer range: each integer `i` owns `[i - 0.5, i + 0.5]`.
/// A log-scaled range has `low >= 1`, so `low - 0.5` stays positive.
fn int_edges(scale: Scale, low: i64, high: i64) -> (f64, f64) {
    let (low, high) = (low as f64, high as f64);
    (warp(scale, low - 0.5), warp(scale, high + 0.5))
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Float { low, high, scale } => write!(f, "float [{low}, {high}] ({scale})"),
            Domain::Int { low, high, scale } => write!(f, "int [{low}, {high}] ({scale})"),
            Domain::Categorical { choices } => {
                let names: Vec<String> = choices.iter().map(Value::to_string).collect();
                write!(f, "one of [{}]", names.join(", "))
            }
        }
    }
}
