//! Samplers by name, as command lines and benchmark files spell them: one table for
//! `tune_digits`, `sampler-bench` and the conformance tests.

use knob_core::{did_you_mean, Sampler};

use crate::setting::InvalidSetting;
use crate::{
    Acquisition, GpSampler, GridSampler, NsgaIISampler, RandomSampler, SobolSampler, TpeSampler,
    ZoomSampler,
};

/// The names [`by_name`] knows. Besides these, `gp-startupN` is the GP after an
/// `N`-point initial design, `tpe-candidatesN` the TPE drawing `N` candidates per
/// suggestion, `nsga2-popN` NSGA-II with a population of `N`, and `gp-pi` and
/// `gp-ucbB` the GP maximizing the probability of improvement or the upper confidence
/// bound with β = `B` instead of log EI.
pub const NAMES: &[&str] = &[
    "grid", "random", "sobol", "zoom", "gp", "tpe", "tpe-uni", "nsga2",
];

/// A sampler name that [`by_name`] cannot make a sampler of.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// A name it does not know.
    #[error("unknown sampler `{name}`{}; known: {}, gp-startupN, gp-pi, gp-ucbB, tpe-candidatesN, nsga2-popN",
        did_you_mean(name, NAMES.iter().copied()).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        NAMES.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// A known name with a number the sampler refuses (`gp-startup1`).
    #[error("sampler `{name}`: {source}")]
    Setting {
        /// The name asked for.
        name: String,
        /// The setting at fault.
        #[source]
        source: InvalidSetting,
    },
}

/// The sampler called `name`, with its defaults (the grid shuffled, so that a study
/// cut short still spreads over the space).
///
/// ```
/// let tpe = knob_samplers::by_name("tpe")?;
/// let err = knob_samplers::by_name("gpp").err().unwrap();
/// assert!(err.to_string().contains("did you mean `gp`?"));
/// # Ok::<(), knob_samplers::NameError>(())
/// ```
pub fn by_name(name: &str) -> Result<Box<dyn Sampler>, NameError> {
    make(name, None)
}

/// [`by_name`], sized for a study of `trials` trials over `dims` parameters: the grid
/// takes the resolution whose power is nearest the budget (at least 2 values per
/// parameter), and the zoom narrows its box five times over the budget.
pub fn by_name_for(name: &str, trials: usize, dims: usize) -> Result<Box<dyn Sampler>, NameError> {
    make(name, Some((trials, dims)))
}

fn make(name: &str, budget: Option<(usize, usize)>) -> Result<Box<dyn Sampler>, NameError> {
    let unknown = || NameError::Unknown {
        name: name.to_owned(),
    };
    let setting = |source| NameError::Setting {
        name: name.to_owned(),
        source,
    };
    if let Some(n) = name.strip_prefix("gp-startup") {
        let trials = n.parse().map_err(|_| unknown())?;
        return Ok(Box::new(GpSampler::new().startup(trials).map_err(setting)?));
    }
    if name == "gp-pi" {
        return Ok(Box::new(GpSampler::new().acquisition(Acquisition::Pi)));
    }
    if let Some(beta) = name.strip_prefix("gp-ucb") {
        let beta: f64 = beta.parse().map_err(|_| unknown())?;
        if !(beta.is_finite() && beta >= 0.0) {
            return Err(unknown());
        }
        return Ok(Box::new(
            GpSampler::new().acquisition(Acquisition::Ucb { beta }),
        ));
    }
    if let Some(n) = name.strip_prefix("nsga2-pop") {
        let n = n.parse().map_err(|_| unknown())?;
        return Ok(Box::new(
            NsgaIISampler::new().population(n).map_err(setting)?,
        ));
    }
    if let Some(n) = name.strip_prefix("tpe-candidates") {
        let n = n.parse().map_err(|_| unknown())?;
        return Ok(Box::new(TpeSampler::new().candidates(n).map_err(setting)?));
    }
    Ok(match name {
        "grid" => {
            let grid = GridSampler::new().shuffled();
            match budget {
                Some((trials, dims)) => {
                    let resolution = (trials as f64)
                        .powf(1.0 / dims.max(1) as f64)
                        .round()
                        .max(2.0) as usize;
                    Box::new(grid.resolution(resolution).map_err(setting)?)
                }
                None => Box::new(grid),
            }
        }
        "random" => Box::new(RandomSampler::new()),
        "sobol" => Box::new(SobolSampler::new()),
        "zoom" => match budget {
            Some((trials, _)) => Box::new(
                ZoomSampler::new()
                    .round((trials / 5).max(1))
                    .map_err(setting)?,
            ),
            None => Box::new(ZoomSampler::new()),
        },
        "gp" => Box::new(GpSampler::new()),
        "tpe" => Box::new(TpeSampler::new()),
        "tpe-uni" => Box::new(TpeSampler::new().univariate()),
        "nsga2" => Box::new(NsgaIISampler::new()),
        _ => return Err(unknown()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_makes_a_sampler_and_others_are_refused() {
        for name in NAMES {
            assert!(by_name(name).is_ok(), "{name}");
            assert!(by_name_for(name, 50, 3).is_ok(), "{name}");
        }
        assert!(by_name("gp-startup10").is_ok());
        assert!(by_name("tpe-candidates64").is_ok());
        assert!(by_name("gp-pi").is_ok() && by_name("gp-ucb2.5").is_ok());
        assert!(by_name("nsga2-pop10").is_ok());
        assert!(matches!(
            by_name("nsga2-pop1"),
            Err(NameError::Setting { .. })
        ));
        assert!(matches!(
            by_name("gp-ucb-1"),
            Err(NameError::Unknown { .. })
        ));
        let err = by_name("gp-startupx").err().unwrap();
        assert!(matches!(err, NameError::Unknown { ref name } if name == "gp-startupx"));
        let err = by_name("gp-startup1").err().unwrap();
        assert!(matches!(err, NameError::Setting { .. }), "{err}");
        assert!(err.to_string().contains("at least 2"), "{err}");
        assert!(by_name("annealing")
            .err()
            .unwrap()
            .to_string()
            .contains("known: grid, random"));
    }
}
