//! The search space: ordered named parameters and their map to the unit cube.
//!
//! Every sampler works in `[0, 1]^d` and never sees a scale. The space turns a unit
//! point into [`Params`] and back, so that log sampling of a learning rate, log
//! sampling of `1 - β` for a momentum, coarse-to-fine zooming and Gaussian-process
//! modelling all reduce to uniform work in the cube.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, SpaceError};
use crate::params::{Params, Value};

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

    fn validate(&self, name: &str) -> std::result::Result<(), SpaceError> {
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

/// One named parameter of a search space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The name trainers read it by.
    pub name: String,
    /// Its values.
    #[serde(flatten)]
    pub domain: Domain,
    /// Where good values are believed to lie, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<Prior>,
}

impl Param {
    /// Checks the name, the domain and the prior.
    fn validate(&self) -> std::result::Result<(), SpaceError> {
        if self.name.is_empty() {
            return Err(SpaceError::EmptyName);
        }
        self.domain.validate(&self.name)?;
        let Some(prior) = &self.prior else {
            return Ok(());
        };
        let numeric = !matches!(self.domain, Domain::Categorical { .. });
        let message = if !numeric {
            "priors apply to float and int parameters".to_owned()
        } else if self.prior_unit().is_none() {
            format!("its centre {} is outside {}", prior.center, self.domain)
        } else if !(prior.spread > 0.0 && prior.spread.is_finite()) {
            format!("its spread must be positive, got {}", prior.spread)
        } else {
            return Ok(());
        };
        Err(SpaceError::InvalidPrior {
            name: self.name.clone(),
            message,
        })
    }

    /// The prior as a centre and a spread in the unit interval, when there is one.
    pub fn prior_unit(&self) -> Option<(f64, f64)> {
        let prior = self.prior.as_ref()?;
        Some((self.domain.to_unit(&prior.center)?, prior.spread))
    }
}

/// A prior belief about a numeric parameter: good values lie near `center`.
///
/// `spread` is a standard deviation in the unit interval, that is on the parameter's
/// own scale: with a log-scaled learning rate on [1e-5, 1e-1], a spread of 0.25 means
/// "within about one decade". Random sampling draws from the prior (a normal truncated
/// to the range); the GP sampler weights its acquisition by it, less as evidence
/// accumulates; TPE uses it in place of its flat prior kernel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// The most likely good value.
    pub center: Value,
    /// How far from it good values may lie, as a fraction of the unit interval.
    pub spread: f64,
}

/// An ordered list of named, validated parameters.
///
/// ```
/// use knob_core::{Scale, SearchSpace};
/// let space = SearchSpace::builder()
///     .float("lr", 1e-4, 1e-1, Scale::Log)
///     .float("momentum", 0.9, 0.999, Scale::LogOneMinus)
///     .int("hidden_units", 50, 100, Scale::Linear)
///     .int("layers", 2, 4, Scale::Linear)
///     .categorical("batch_size", [32, 64, 128])
///     .build()?;
/// let params = space.from_unit(&[0.5, 0.5, 0.0, 1.0, 0.5])?;
/// assert!((params.float("lr")? - 10f64.powf(-2.5)).abs() < 1e-12);
/// assert!((params.float("momentum")? - 0.99).abs() < 1e-12);
/// assert_eq!(params.int("hidden_units")?, 50);
/// assert_eq!(params.int("layers")?, 4);
/// assert_eq!(params.int("batch_size")?, 64);
/// # Ok::<(), knob_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SpaceFile")]
pub struct SearchSpace {
    params: Vec<Param>,
}

/// The form a space file deserializes into: each parameter is checked as it is read
/// ([`ParamFile`]), so that the parser can say where a bad one is; the whole space (two
/// parameters with one name) after.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceFile {
    params: Vec<ParamFile>,
}

impl TryFrom<SpaceFile> for SearchSpace {
    type Error = SpaceError;
    fn try_from(file: SpaceFile) -> std::result::Result<Self, SpaceError> {
        SearchSpace::new(file.params.into_iter().map(|p| p.0).collect())
    }
}

/// One checked parameter of a space file. Its keys are checked by hand, since serde
/// cannot refuse unknown keys next to a flattened enum, and a misspelt `scale` must not
/// silently search linearly.
struct ParamFile(Param);

impl<'de> Deserialize<'de> for ParamFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let fields = serde_json::Map::deserialize(d)?;
        let param = param_from_fields(fields).map_err(serde::de::Error::custom)?;
        param.validate().map_err(serde::de::Error::custom)?;
        Ok(ParamFile(param))
    }
}

/// A parameter from its keys, checked against its type's.
fn param_from_fields(
    fields: serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<Param, SpaceError> {
    const NUMERIC: &[&str] = &["name", "type", "low", "high", "scale", "prior"];
    const CATEGORICAL: &[&str] = &["name", "type", "choices"];
    let name = fields
        .get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let kind = fields.get("type").and_then(serde_json::Value::as_str);
    let allowed = match kind {
        Some("float" | "int") => NUMERIC,
        Some("categorical") => CATEGORICAL,
        _ => &[][..],
    };
    if let Some(kind) = kind.filter(|_| !allowed.is_empty()) {
        if let Some(key) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(SpaceError::UnknownKey {
                name,
                key: key.clone(),
                kind: kind.to_owned(),
                allowed: allowed.join(", "),
                hint: crate::spelling::hint(key, allowed.iter().copied()),
            });
        }
    }
    serde_json::from_value(serde_json::Value::Object(fields)).map_err(|e| SpaceError::Malformed {
        name,
        message: e.to_string(),
    })
}

/// Parses a space file's text with `parse`, naming the source and, for a space-wide
/// error that the parser could not place, the line of the parameter at fault.
fn parse_file(
    text: &str,
    source: &str,
    parse: impl FnOnce(&str) -> std::result::Result<SpaceFile, String>,
) -> std::result::Result<SearchSpace, SpaceError> {
    let file = |message| SpaceError::File {
        path: source.into(),
        message,
    };
    let params = parse(text).map_err(file)?;
    SearchSpace::try_from(params).map_err(|e| match &e {
        SpaceError::DuplicateName { name } => {
            // The line of the second place that names it.
            let mut places: Vec<usize> = [format!("\"{name}\""), format!("'{name}'")]
                .iter()
                .flat_map(|quoted| text.match_indices(quoted.as_str()).map(|(at, _)| at))
                .collect();
            places.sort_unstable();
            let line = places.get(1).or(places.first()).map_or(
                " (its name is written with escapes; search the file for it)".to_owned(),
                |&at| format!(" (line {})", text[..at].matches('\n').count() + 1),
            );
            file(format!("{e}{line}"))
        }
        _ => file(e.to_string()),
    })
}

impl SearchSpace {
    /// What differs between this space (the one a study or a population was saved
    /// with) and `opened`, parameter by parameter, as one sentence ("its search space
    /// differs: ..."); empty when they are equal.
    pub fn differences(&self, opened: &SearchSpace) -> String {
        let created = self;
        let mut lines = Vec::new();
        for p in created.params() {
            match opened.param(&p.name) {
                None => lines.push(format!("`{}` ({}) is not in this space", p.name, p.domain)),
                Some((_, q)) if q.domain != p.domain => {
                    lines.push(format!("`{}` was {}, now {}", p.name, p.domain, q.domain))
                }
                Some((_, q)) if q.prior != p.prior => {
                    lines.push(format!("`{}` has another prior", p.name))
                }
                Some(_) => {}
            }
        }
        for q in opened.params() {
            if created.param(&q.name).is_none() {
                lines.push(format!("`{}` ({}) is new", q.name, q.domain));
            }
        }
        let order = |s: &SearchSpace| {
            s.params()
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
        };
        if lines.is_empty() && order(created) != order(opened) {
            lines.push(format!(
                "the parameters are in another order: it has {}",
                order(created).join(", ")
            ));
        }
        if lines.is_empty() {
            String::new()
        } else {
            format!("its search space differs: {}", lines.join("; "))
        }
    }

    /// A builder that validates each parameter when [`SpaceBuilder::build`] runs.
    pub fn builder() -> SpaceBuilder {
        SpaceBuilder::default()
    }

    /// A space from parameters, validated.
    pub fn new(params: Vec<Param>) -> std::result::Result<Self, SpaceError> {
        for (i, p) in params.iter().enumerate() {
            p.validate()?;
            if params[..i].iter().any(|q| q.name == p.name) {
                return Err(SpaceError::DuplicateName {
                    name: p.name.clone(),
                });
            }
        }
        Ok(Self { params })
    }

    /// Parses a space from JSON: `{"params": [{"name": "lr", "type": "float",
    /// "low": 0.0001, "high": 0.1, "scale": "log"}, ...]}`.
    pub fn from_json_str(text: &str) -> std::result::Result<Self, SpaceError> {
        parse_file(text, "<json>", |t| {
            serde_json::from_str(t).map_err(|e| e.to_string())
        })
    }

    /// Parses a space from TOML: one `[[params]]` table per parameter, with the same
    /// keys as the JSON form.
    pub fn from_toml_str(text: &str) -> std::result::Result<Self, SpaceError> {
        parse_file(text, "<toml>", |t| {
            toml::from_str(t).map_err(|e| e.to_string())
        })
    }

    /// Loads a space from a `.json` or `.toml` file (chosen by extension).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| SpaceError::File {
            path: path.to_owned(),
            message: format!("cannot read it: {e}"),
        })?;
        let with_path = |e: SpaceError| match e {
            SpaceError::File { message, .. } => SpaceError::File {
                path: path.to_owned(),
                message,
            },
            other => other,
        };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let space = match ext {
            "json" => Self::from_json_str(&text),
            "toml" => Self::from_toml_str(&text),
            _ => Err(SpaceError::File {
                path: path.to_owned(),
                message: "unknown extension: use .json or .toml".into(),
            }),
        };
        Ok(space.map_err(with_path)?)
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The number of parameters: the dimension of the unit cube.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the space has no parameter.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The parameter called `name`, with its index.
    pub fn param(&self, name: &str) -> Option<(usize, &Param)> {
        self.params.iter().enumerate().find(|(_, p)| p.name == name)
    }

    /// The params at a point of the unit cube (coordinates are clamped to `[0, 1]`).
    pub fn from_unit(&self, point: &[f64]) -> Result<Params> {
        if point.len() != self.params.len() {
            return Err(Error::InvalidPoint(format!(
                "{} coordinates for a space of {} parameters",
                point.len(),
                self.params.len()
            )));
        }
        let mut params = Params::new();
        for (p, &u) in self.params.iter().zip(point) {
            if !u.is_finite() {
                return Err(Error::InvalidPoint(format!(
                    "coordinate of `{}` is {u}",
                    p.name
                )));
            }
            params.insert(p.name.clone(), p.domain.from_unit(u));
        }
        Ok(params)
    }

    /// The unit point of `params`, which must hold every parameter of the space.
    /// Extra entries are ignored.
    pub fn to_unit(&self, params: &Params) -> Result<Vec<f64>> {
        self.params
            .iter()
            .map(|p| {
                let value = params.value(&p.name)?;
                p.domain.to_unit(value).ok_or_else(|| Error::OutOfDomain {
                    name: p.name.clone(),
                    value: value.to_string(),
                    domain: p.domain.to_string(),
                })
            })
            .collect()
    }
}

/// Collects parameters; [`SpaceBuilder::build`] checks them all.
#[derive(Debug, Clone, Default)]
pub struct SpaceBuilder {
    params: Vec<Param>,
}

impl SpaceBuilder {
    /// Adds a real parameter in `[low, high]`.
    pub fn float(self, name: impl Into<String>, low: f64, high: f64, scale: Scale) -> Self {
        self.param(name, Domain::Float { low, high, scale })
    }

    /// Adds an integer parameter in `[low, high]`.
    pub fn int(self, name: impl Into<String>, low: i64, high: i64, scale: Scale) -> Self {
        self.param(name, Domain::Int { low, high, scale })
    }

    /// Adds a categorical parameter.
    pub fn categorical<V: Into<Value>>(
        self,
        name: impl Into<String>,
        choices: impl IntoIterator<Item = V>,
    ) -> Self {
        let choices = choices.into_iter().map(Into::into).collect();
        self.param(name, Domain::Categorical { choices })
    }

    /// Adds a parameter with any domain.
    pub fn param(mut self, name: impl Into<String>, domain: Domain) -> Self {
        self.params.push(Param {
            name: name.into(),
            domain,
            prior: None,
        });
        self
    }

    /// Attaches a [`Prior`] to the parameter added last: good values lie near `center`,
    /// within about `spread` of the unit interval (on the parameter's own scale).
    ///
    /// ```
    /// use knob_core::{Scale, SearchSpace};
    /// let space = SearchSpace::builder()
    ///     .float("momentum", 0.8, 0.999, Scale::LogOneMinus)
    ///     .prior(0.9, 0.15)
    ///     .build()?;
    /// let (centre, spread) = space.params()[0].prior_unit().unwrap();
    /// assert!(centre > 0.0 && centre < 0.5 && spread == 0.15);
    /// # Ok::<(), knob_core::SpaceError>(())
    /// ```
    pub fn prior(mut self, center: impl Into<Value>, spread: f64) -> Self {
        if let Some(last) = self.params.last_mut() {
            last.prior = Some(Prior {
                center: center.into(),
                spread,
            });
        }
        self
    }

    /// The validated space, or an error naming the first parameter at fault.
    pub fn build(self) -> std::result::Result<SearchSpace, SpaceError> {
        SearchSpace::new(self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(b: SpaceBuilder) -> SpaceError {
        b.build().unwrap_err()
    }

    #[test]
    fn each_invalid_space_gives_its_error() {
        let b = SearchSpace::builder;
        assert!(matches!(
            err(b().float("lr", 0.1, 0.1, Scale::Linear)),
            SpaceError::EmptyRange { name, .. } if name == "lr"
        ));
        assert!(matches!(
            err(b().int("layers", 4, 2, Scale::Linear)),
            SpaceError::EmptyRange { name, .. } if name == "layers"
        ));
        assert!(matches!(
            err(b().float("lr", 0.0, 0.1, Scale::Log)),
            SpaceError::NonPositiveLogBound { name, .. } if name == "lr"
        ));
        assert!(matches!(
            err(b().int("units", -3, 10, Scale::Log)),
            SpaceError::NonPositiveLogBound { name, .. } if name == "units"
        ));
        assert!(matches!(
            err(b().float("beta", 0.9, 1.0, Scale::LogOneMinus)),
            SpaceError::LogOneMinusBound { name, .. } if name == "beta"
        ));
        assert!(matches!(
            err(b().float("beta", -0.1, 0.5, Scale::LogOneMinus)),
            SpaceError::LogOneMinusBound { name, .. } if name == "beta"
        ));
        assert!(matches!(
            err(b().int("n", 1, 5, Scale::LogOneMinus)),
            SpaceError::UnsupportedScale { name, .. } if name == "n"
        ));
        assert!(matches!(
            err(b().categorical::<&str>("act", [])),
            SpaceError::NoChoices { name } if name == "act"
        ));
        assert!(matches!(
            err(b().categorical("act", ["relu", "tanh", "relu"])),
            SpaceError::DuplicateChoice { name, choice } if name == "act" && choice == "relu"
        ));
        assert!(matches!(
            err(b().float("x", 0.0, 1.0, Scale::Linear).int("x", 0, 3, Scale::Linear)),
            SpaceError::DuplicateName { name } if name == "x"
        ));
        assert!(matches!(
            err(b().float("x", f64::NEG_INFINITY, 1.0, Scale::Linear)),
            SpaceError::NonFiniteBound { name, .. } if name == "x"
        ));
        assert_eq!(
            err(b().float("", 0.0, 1.0, Scale::Linear)),
            SpaceError::EmptyName
        );
    }

    #[test]
    fn messages_name_the_parameter() {
        let e = err(SearchSpace::builder().float("learning_rate", 0.0, 1.0, Scale::Log));
        assert!(e.to_string().contains("`learning_rate`"), "{e}");
    }

    #[test]
    fn small_int_ranges_give_every_value_an_equal_slice() {
        let d = Domain::Int {
            low: 1,
            high: 3,
            scale: Scale::Linear,
        };
        let values: Vec<Value> = [0.0, 0.2, 0.34, 0.5, 0.66, 0.7, 1.0]
            .iter()
            .map(|&u| d.from_unit(u))
            .collect();
        let ints: Vec<i64> = values
            .iter()
            .map(|v| match v {
                Value::Int(i) => *i,
                _ => panic!("not an int"),
            })
            .collect();
        assert_eq!(ints, [1, 1, 2, 2, 2, 3, 3]);
    }

    #[test]
    fn to_unit_rejects_values_outside_the_domain() {
        let space = SearchSpace::builder()
            .float("lr", 1e-4, 1e-1, Scale::Log)
            .build()
            .unwrap();
        let params = Params::from_iter([("lr", Value::Float(0.5))]);
        let e = space.to_unit(&params).unwrap_err().to_string();
        assert!(e.contains("`lr`") && e.contains("0.5"), "{e}");
        assert!(space.from_unit(&[0.5, 0.5]).is_err());
        assert!(space.from_unit(&[f64::NAN]).is_err());
    }

    #[test]
    fn json_and_toml_files_load_and_validate() {
        let json = r#"{"params": [
            {"name": "lr", "type": "float", "low": 0.0001, "high": 0.1, "scale": "log"},
            {"name": "beta", "type": "float", "low": 0.9, "high": 0.999, "scale": "log_one_minus"},
            {"name": "layers", "type": "int", "low": 1, "high": 3},
            {"name": "batch", "type": "categorical", "choices": [32, 64]},
            {"name": "act", "type": "categorical", "choices": ["relu", "tanh"]}
        ]}"#;
        let from_json = SearchSpace::from_json_str(json).unwrap();
        let toml = r#"
            [[params]]
            name = "lr"
            type = "float"
            low = 0.0001
            high = 0.1
            scale = "log"
            [[params]]
            name = "beta"
            type = "float"
            low = 0.9
            high = 0.999
            scale = "log_one_minus"
            [[params]]
            name = "layers"
            type = "int"
            low = 1
            high = 3
            [[params]]
            name = "batch"
            type = "categorical"
            choices = [32, 64]
            [[params]]
            name = "act"
            type = "categorical"
            choices = ["relu", "tanh"]
        "#;
        let from_toml = SearchSpace::from_toml_str(toml).unwrap();
        assert_eq!(from_json, from_toml);
        let again: SearchSpace =
            serde_json::from_str(&serde_json::to_string(&from_json).unwrap()).unwrap();
        assert_eq!(again, from_json);

        let bad =
            r#"{"params": [{"name": "lr", "type": "float", "low": 0, "high": 1, "scale": "log"}]}"#;
        let e = SearchSpace::from_json_str(bad).unwrap_err().to_string();
        assert!(e.contains("`lr`") && e.contains("log"), "{e}");
    }

    #[test]
    fn from_file_picks_the_format_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("space.toml");
        std::fs::write(
            &path,
            "[[params]]\nname = \"x\"\ntype = \"float\"\nlow = 0\nhigh = 1\n",
        )
        .unwrap();
        assert_eq!(SearchSpace::from_file(&path).unwrap().len(), 1);
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"params\": [").unwrap();
        let e = SearchSpace::from_file(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json"), "{e}");
    }

    #[test]
    fn files_refuse_unknown_keys_naming_parameter_and_key() {
        let toml = "[[params]]\nname = \"lr\"\ntype = \"float\"\nlow = 0.001\nhigh = 0.1\nscael = \"log\"\n";
        let e = SearchSpace::from_toml_str(toml).unwrap_err().to_string();
        assert!(
            e.contains("`lr`") && e.contains("`scael`") && e.contains("did you mean `scale`?"),
            "{e}"
        );
        let json = r#"{"params": [{"name": "act", "type": "categorical", "choices": ["relu"], "low": 1}]}"#;
        let e = SearchSpace::from_json_str(json).unwrap_err().to_string();
        assert!(
            e.contains("`act`") && e.contains("`low`") && e.contains("choices"),
            "{e}"
        );
        let e = SearchSpace::from_json_str(r#"{"params": [], "extra": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
    }

    #[test]
    fn a_missing_file_is_called_a_search_space_file() {
        let e = SearchSpace::from_file("/nonexistent/space.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("search-space file /nonexistent/space.toml: cannot read it"),
            "{e}"
        );
        assert!(!e.contains("storage"), "{e}");
    }

    #[test]
    fn ranges_the_unit_interval_cannot_hold_are_refused() {
        let e = err(SearchSpace::builder().float("w", -1.7e308, 1.7e308, Scale::Linear));
        assert!(
            matches!(&e, SpaceError::RangeTooWide { name, .. } if name == "w"),
            "{e}"
        );
        assert!(e.to_string().contains("overflows"), "{e}");
        let e = err(SearchSpace::builder().int("n", i64::MIN, i64::MAX, Scale::Linear));
        assert!(
            matches!(&e, SpaceError::RangeTooWide { name, .. } if name == "n"),
            "{e}"
        );
        let wide_but_fine = SearchSpace::builder()
            .float("w", -1e300, 1e300, Scale::Linear)
            .int("n", 0, 1 << 53, Scale::Linear)
            .build()
            .unwrap();
        let unit = wide_but_fine
            .to_unit(&wide_but_fine.from_unit(&[0.3, 0.7]).unwrap())
            .unwrap();
        assert!(unit.iter().all(|u| u.is_finite()), "{unit:?}");
    }
}
