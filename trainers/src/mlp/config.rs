//! The MLP's hyperparameters, read from a trial's params with defaults and checked
//! before any training starts.

use knob_core::Params;

use crate::error::ConfigError;

/// The hidden layers' activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// max(0, x)
    Relu,
    /// tanh(x)
    Tanh,
    /// 1 / (1 + e^-x)
    Sigmoid,
    /// GELU (tanh approximation)
    Gelu,
}

/// The optimizer and its own hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// Stochastic gradient descent with momentum β (0 for none), optionally Nesterov.
    Sgd {
        /// β
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// Adam.
    Adam {
        /// β1
        beta1: f64,
        /// β2
        beta2: f64,
        /// ε
        eps: f64,
    },
    /// RMSprop.
    RmsProp {
        /// The decay β of the squared-gradient average.
        beta: f64,
        /// ε
        eps: f64,
    },
}

/// How the learning rate decays with the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decay {
    /// Constant.
    None,
    /// `lr · γ^epoch`
    Exponential {
        /// γ
        gamma: f64,
    },
    /// `lr · γ^⌊epoch / every⌋`
    Step {
        /// γ
        gamma: f64,
        /// Epochs per step.
        every: usize,
    },
    /// `lr / (1 + γ · epoch)`
    InverseTime {
        /// γ
        gamma: f64,
    },
}

impl Decay {
    /// The learning rate at `epoch`, from the initial `lr`.
    pub fn at(self, lr: f64, epoch: usize) -> f64 {
        let e = epoch as f64;
        match self {
            Decay::None => lr,
            Decay::Exponential { gamma } => lr * gamma.powf(e),
            Decay::Step { gamma, every } => lr * gamma.powi((epoch / every.max(1)) as i32),
            Decay::InverseTime { gamma } => lr / (1.0 + gamma * e),
        }
    }
}

/// Everything the MLP trainer reads from a trial's params.
///
/// | param | meaning | default |
/// |---|---|---|
/// | `lr` | learning rate (> 0) | 1e-3 |
/// | `optimizer` | `adam`, `sgd` or `rmsprop` | `adam` |
/// | `momentum` | SGD's β in [0, 1) | 0.9 |
/// | `nesterov` | SGD with Nesterov momentum | false |
/// | `beta1`, `beta2`, `eps` | Adam's β1, β2, ε | 0.9, 0.999, 1e-8 |
/// | `rho`, `rms_eps` | RMSprop's decay ρ and ε (Keras's names) | 0.9, 1e-8 |
/// | `layers` | hidden layers (≥ 1) | 1 |
/// | `units` | units of every hidden layer (≥ 1); `units_0`, `units_1`, ... override one | 128 |
/// | `activation` | `relu`, `tanh`, `sigmoid`, `gelu` | `relu` |
/// | `dropout` | drop probability in [0, 1) after each hidden layer | 0 |
/// | `batch_norm` | batch normalization of each hidden layer | false |
/// | `lr_decay` | `none`, `exponential`, `step`, `inverse_time` | `none` |
/// | `decay_rate` | γ of the decay | 0.95 |
/// | `decay_every` | epochs per step of `step` decay | 5 |
/// | `batch_size` | mini-batch size (≥ 1) | 64 |
/// | `epochs` | passes over the training data (≥ 1) | 10 |
/// | `weight_decay` | L2 penalty on weights (≥ 0; decoupled for Adam) | 0 |
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Initial learning rate.
    pub lr: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Hidden layer widths, input to output.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Dropout probability.
    pub dropout: f64,
    /// Batch normalization on hidden layers.
    pub batch_norm: bool,
    /// Learning-rate decay.
    pub decay: Decay,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Epochs.
    pub epochs: usize,
    /// Weight decay.
    pub weight_decay: f64,
}

fn check(ok: bool, name: &str, why: impl std::fmt::Display) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(name, why))
    }
}

fn invalid(name: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_owned(),
        why: why.to_string(),
    }
}

impl Config {
    /// Every param name the MLP reads, besides `units_0`, `units_1`, ...
    pub const PARAM_NAMES: &'static [&'static str] = &[
        "lr",
        "optimizer",
        "momentum",
        "nesterov",
        "beta1",
        "beta2",
        "eps",
        "rho",
        "rms_eps",
        "layers",
        "units",
        "activation",
        "dropout",
        "batch_norm",
        "lr_decay",
        "decay_rate",
        "decay_every",
        "batch_size",
        "epochs",
        "weight_decay",
    ];

    /// Refuses a param name the MLP would ignore, with the names it reads and a
    /// "did you mean" for a near miss: a space that says `learning_rate` for `lr`
    /// would otherwise tune nothing.
    pub fn check_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), ConfigError> {
        let per_layer = |name: &str| {
            name.strip_prefix("units_")
                .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
        };
        for name in names {
            if !Self::PARAM_NAMES.contains(&name) && !per_layer(name) {
                return Err(ConfigError::UnknownParam {
                    name: name.to_owned(),
                    suggestion: knob_core::did_you_mean(name, Self::PARAM_NAMES.iter().copied()),
                });
            }
        }
        Ok(())
    }

    /// Trainable parameters of this network on `inputs` features and `classes`
    /// classes: each layer's weights and biases, and a scale and shift per unit of
    /// each batch-normalized hidden layer.
    pub fn parameter_count(&self, inputs: usize, classes: usize) -> usize {
        let mut widths = vec![inputs];
        widths.extend(&self.hidden);
        widths.push(classes);
        let dense: usize = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        let norm: usize = if self.batch_norm {
            self.hidden.iter().map(|h| 2 * h).sum()
        } else {
            0
        };
        dense + norm
    }

    /// Reads and checks the params; the error names the parameter at fault. A param
    /// the MLP does not read is an error ([`Config::check_names`]).
    pub fn from_params(p: &Params) -> Result<Self, ConfigError> {
        Self::check_names(p.iter().map(|(name, _)| name))?;
        let lr = p.float_or("lr", 1e-3)?;
        check(
            lr > 0.0 && lr.is_finite(),
            "lr",
            format!("must be positive, got {lr}"),
        )?;
        let unit = |name: &str, value: f64| {
            check(
                (0.0..1.0).contains(&value),
                name,
                format!("must be in [0, 1), got {value}"),
            )
        };
        let optimizer = match p.str_or("optimizer", "adam")? {
            "sgd" => {
                let momentum = p.float_or("momentum", 0.9)?;
                unit("momentum", momentum)?;
                OptimizerKind::Sgd {
                    momentum,
                    nesterov: p.bool_or("nesterov", false)?,
                }
            }
            "adam" => {
                let (beta1, beta2) = (p.float_or("beta1", 0.9)?, p.float_or("beta2", 0.999)?);
                unit("beta1", beta1)?;
                unit("beta2", beta2)?;
                let eps = p.float_or("eps", 1e-8)?;
                check(eps > 0.0, "eps", format!("must be positive, got {eps}"))?;
                OptimizerKind::Adam { beta1, beta2, eps }
            }
            "rmsprop" => {
                let beta = p.float_or("rho", 0.9)?;
                unit("rho", beta)?;
                let eps = p.float_or("rms_eps", 1e-8)?;
                check(eps > 0.0, "rms_eps", format!("must be positive, got {eps}"))?;
                OptimizerKind::RmsProp { beta, eps }
            }
            other => {
                return Err(invalid(
                    "optimizer",
                    format!("unknown optimizer {other:?} (use adam, sgd or rmsprop)"),
                ))
            }
        };
        let layers = p.int_or("layers", 1)?;
        check(
            layers >= 1,
            "layers",
            format!("needs at least one hidden layer, got {layers}"),
        )?;
        let units = p.int_or("units", 128)?;
        let hidden = (0..layers as usize)
            .map(|i| {
                let name = format!("units_{i}");
                let width = p.int_or(&name, units)?;
                let shown = if p.get(&name).is_some() {
                    name.as_str()
                } else {
                    "units"
                };
                check(
                    width >= 1,
                    shown,
                    format!("must be at least 1, got {width}"),
                )?;
                Ok(width as usize)
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let activation = match p.str_or("activation", "relu")? {
            "relu" => Activation::Relu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "gelu" => Activation::Gelu,
            other => {
                return Err(invalid(
                    "activation",
                    format!("unknown activation {other:?} (use relu, tanh, sigmoid or gelu)"),
                ))
            }
        };
        let dropout = p.float_or("dropout", 0.0)?;
        unit("dropout", dropout)?;
        let gamma = p.float_or("decay_rate", 0.95)?;
        let decay = match p.str_or("lr_decay", "none")? {
            "none" => Decay::None,
            "exponential" => Decay::Exponential { gamma },
            "step" => Decay::Step {
                gamma,
                every: p.usize_or("decay_every", 5)?,
            },
            "inverse_time" => Decay::InverseTime { gamma },
            other => {
                return Err(invalid(
                    "lr_decay",
                    format!(
                        "unknown schedule {other:?} (use none, exponential, step or inverse_time)"
                    ),
                ))
            }
        };
        if decay != Decay::None {
            check(
                gamma > 0.0 && gamma.is_finite(),
                "decay_rate",
                format!("must be positive, got {gamma}"),
            )?;
        }
        let batch_size = p.int_or("batch_size", 64)?;
        check(
            batch_size >= 1,
            "batch_size",
            format!("must be at least 1, got {batch_size}"),
        )?;
        let epochs = p.int_or("epochs", 10)?;
        check(
            epochs >= 1,
            "epochs",
            format!("must be at least 1, got {epochs}"),
        )?;
        let weight_decay = p.float_or("weight_decay", 0.0)?;
        check(
            weight_decay >= 0.0 && weight_decay.is_finite(),
            "weight_decay",
            format!("must be at least 0, got {weight_decay}"),
        )?;
        Ok(Self {
            lr,
            optimizer,
            hidden,
            activation,
            dropout,
            batch_norm: p.bool_or("batch_norm", false)?,
            decay,
            batch_size: batch_size as usize,
            epochs: epochs as usize,
            weight_decay,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_names_are_refused_with_a_suggestion() {
        let e = super::Config::check_names(["learning_rate"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`learning_rate`") && e.contains("lr, optimizer"),
            "{e}"
        );
        let e = super::Config::check_names(["dropuot"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `dropout`?"), "{e}");
        super::Config::check_names(["lr", "units_0", "units_12", "epochs"]).unwrap();
        assert!(super::Config::check_names(["units_"]).is_err());
    }

    use super::*;
    use knob_core::Value;

    fn err(entries: &[(&str, Value)]) -> String {
        let p = Params::from_iter(entries.iter().map(|(n, v)| (*n, v.clone())));
        Config::from_params(&p).unwrap_err().to_string()
    }

    #[test]
    fn bad_params_are_refused_by_name() {
        assert!(err(&[("lr", Value::Float(-0.1))]).contains("`lr`"));
        assert!(err(&[("layers", Value::Int(0))]).contains("`layers`"));
        assert!(err(&[("batch_size", Value::Int(0))]).contains("`batch_size`"));
        assert!(err(&[("optimizer", "adagrad".into())]).contains("unknown optimizer \"adagrad\""));
        assert!(
            err(&[("units_1", Value::Int(0)), ("layers", Value::Int(2))]).contains("`units_1`")
        );
        assert!(err(&[("dropout", Value::Float(1.0))]).contains("`dropout`"));
        assert!(
            err(&[("optimizer", "sgd".into()), ("momentum", Value::Float(1.2))])
                .contains("`momentum`")
        );
        assert!(err(&[("lr", "fast".into())]).contains("`lr`"));
    }

    #[test]
    fn defaults_and_per_layer_widths() {
        let p = Params::from_iter([
            ("layers", Value::Int(3)),
            ("units", Value::Int(32)),
            ("units_1", Value::Int(8)),
        ]);
        let c = Config::from_params(&p).unwrap();
        assert_eq!(c.hidden, [32, 8, 32]);
        assert_eq!(
            c.optimizer,
            OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8
            }
        );
        assert_eq!((c.batch_size, c.epochs, c.lr), (64, 10, 1e-3));
    }

    #[test]
    fn schedules_decay_as_documented() {
        assert_eq!(Decay::Exponential { gamma: 0.5 }.at(1.0, 3), 0.125);
        assert_eq!(
            Decay::Step {
                gamma: 0.1,
                every: 2
            }
            .at(1.0, 3),
            0.1
        );
        assert_eq!(Decay::InverseTime { gamma: 1.0 }.at(1.0, 3), 0.25);
    }
}
