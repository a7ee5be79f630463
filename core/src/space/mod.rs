//! The search space: ordered named parameters and their map to the unit cube.
//!
//! Every sampler works in `[0, 1]^d` and never sees a scale. The space turns a unit
//! point into [`Params`] and back, so that log sampling of a learning rate, log
//! sampling of `1 - β` for a momentum, coarse-to-fine zooming and Gaussian-process
//! modelling all reduce to uniform work in the cube.

mod condition;
mod domain;
mod enumerate;
mod file;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, SpaceError};
use crate::params::{Params, Value};
pub use condition::Condition;
pub use domain::{Domain, Scale};

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
    /// When it is active, if not always: a trial's params hold it only then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
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
#[serde(try_from = "file::SpaceFile")]
pub struct SearchSpace {
    params: Vec<Param>,
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
                Some((_, q)) if q.when != p.when => {
                    lines.push(format!("`{}` has another condition", p.name))
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
        for p in &params {
            condition::validate(p, &params)?;
        }
        Ok(Self { params })
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

    /// The params at a point of the unit cube (coordinates are clamped to `[0, 1]`):
    /// the active parameters only.
    pub fn from_unit(&self, point: &[f64]) -> Result<Params> {
        if point.len() != self.params.len() {
            return Err(Error::InvalidPoint(format!(
                "{} coordinates for a space of {} parameters",
                point.len(),
                self.params.len()
            )));
        }
        if let Some((p, u)) = self.params.iter().zip(point).find(|(_, u)| !u.is_finite()) {
            return Err(Error::InvalidPoint(format!(
                "coordinate of `{}` is {u}",
                p.name
            )));
        }
        let mut params = Params::new();
        for ((p, &u), on) in self.params.iter().zip(point).zip(self.active(point)) {
            if on {
                params.insert(p.name.clone(), p.domain.from_unit(u));
            }
        }
        Ok(params)
    }

    /// The unit point of `params`, which must hold every active parameter of the space
    /// and no inactive one; an inactive parameter's coordinate is 0.5. Entries that are
    /// not parameters of the space are ignored.
    pub fn to_unit(&self, params: &Params) -> Result<Vec<f64>> {
        let values: Vec<Value> = self
            .params
            .iter()
            .map(|p| params.get(&p.name).cloned().unwrap_or(Value::Bool(false)))
            .collect();
        let active = self.active_with(&values);
        self.params
            .iter()
            .zip(active)
            .map(|(p, on)| match (on, params.get(&p.name)) {
                (false, None) => Ok(0.5),
                (false, Some(_)) => Err(Error::InactiveParam {
                    name: p.name.clone(),
                    condition: p.when.as_ref().map_or_else(String::new, |c| c.to_string()),
                }),
                (true, _) => {
                    let value = params.value(&p.name)?;
                    p.domain.to_unit(value).ok_or_else(|| Error::OutOfDomain {
                        name: p.name.clone(),
                        value: value.to_string(),
                        domain: p.domain.to_string(),
                    })
                }
            })
            .collect()
    }
}

/// Collects parameters; [`SpaceBuilder::build`] checks them all.
#[derive(Debug, Clone, Default)]
pub struct SpaceBuilder {
    params: Vec<Param>,
    /// A mistake found while building, reported by `build`.
    error: Option<SpaceError>,
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
            when: None,
        });
        self
    }

    /// Makes the parameter added last active only when `parent` takes one of
    /// `values` (checked at [`SpaceBuilder::build`]).
    ///
    /// ```
    /// use knob_core::{Scale, SearchSpace};
    /// let space = SearchSpace::builder()
    ///     .categorical("optimizer", ["adam", "sgd", "rmsprop"])
    ///     .float("beta1", 0.8, 0.999, Scale::LogOneMinus).when_in("optimizer", ["adam"])
    ///     .float("momentum", 0.8, 0.999, Scale::LogOneMinus).when_in("optimizer", ["sgd"])
    ///     .float("rho", 0.8, 0.999, Scale::LogOneMinus).when_in("optimizer", ["rmsprop"])
    ///     .build()?;
    /// let sgd = space.from_unit(&[0.5, 0.1, 0.9, 0.1])?;
    /// assert_eq!(sgd.iter().map(|(name, _)| name).collect::<Vec<_>>(), ["optimizer", "momentum"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn when_in<V: Into<Value>>(
        self,
        parent: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.when(Condition::one_of(parent, values))
    }

    /// Makes the parameter added last active only when integer `parent` is at least
    /// `min`.
    pub fn when_at_least(self, parent: impl Into<String>, min: i64) -> Self {
        self.when(Condition::at_least(parent, min))
    }

    /// Makes the parameter added last active only under `condition`.
    pub fn when(mut self, condition: Condition) -> Self {
        if let Some(last) = self.params.last_mut() {
            last.when = Some(condition);
        }
        self
    }

    /// A group of parameters repeated once per possible value of integer `count`
    /// (declared before): `add(builder, i)` adds the parameters of index `i`, which
    /// are active only when `count > i`. One line declares per-layer widths:
    ///
    /// ```
    /// use knob_core::{Scale, SearchSpace};
    /// let space = SearchSpace::builder()
    ///     .int("layers", 1, 3, Scale::Linear)
    ///     .repeated("layers", |b, i| b.int(format!("units_{i}"), 16, 512, Scale::Log))
    ///     .build()?;
    /// assert_eq!(space.len(), 4);
    /// let two_layers = space.from_unit(&[0.5, 0.5, 0.5, 0.5])?;
    /// assert!(two_layers.get("units_1").is_some() && two_layers.get("units_2").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// An index below `count`'s lowest value is always active. A `count` that is not
    /// an int parameter added before adds nothing, and the build names it.
    pub fn repeated(
        mut self,
        count: &str,
        add: impl Fn(SpaceBuilder, usize) -> SpaceBuilder,
    ) -> Self {
        let Some((low, high)) = self
            .params
            .iter()
            .find(|p| p.name == count)
            .and_then(|p| match p.domain {
                Domain::Int { low, high, .. } if high >= 1 => Some((low, high)),
                _ => None,
            })
        else {
            self.error.get_or_insert(SpaceError::Condition {
                name: count.to_owned(),
                message: "`repeated` needs it to be an int parameter with a positive upper bound, added before".into(),
            });
            return self;
        };
        for i in 0..high as usize {
            let before = self.params.len();
            self = add(self, i);
            if (i as i64) >= low {
                for p in &mut self.params[before..] {
                    p.when = Some(Condition::at_least(count, i as i64 + 1));
                }
            }
        }
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
        match self.error {
            Some(e) => Err(e),
            None => SearchSpace::new(self.params),
        }
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
