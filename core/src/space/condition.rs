//! Conditional parameters: a parameter that exists only when another one takes given
//! values (`momentum` with SGD, `units_2` with three layers or more).

use serde::{Deserialize, Serialize};

use super::{Domain, Param, SearchSpace};
use crate::error::SpaceError;
use crate::params::Value;

/// When a parameter is active: its parent is active and takes one of `one_of`, or (an
/// integer parent) is at least `at_least`. In space files it is the parameter's
/// `when` key: `{"parent": "optimizer", "in": ["sgd"]}` or `{"parent": "layers",
/// "at_least": 3}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The parameter it depends on.
    pub parent: String,
    /// The parent's values that make it active.
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    /// The least value of an integer parent that makes it active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<i64>,
}

impl Condition {
    /// Active when `parent` takes one of `values`.
    pub fn one_of<V: Into<Value>>(
        parent: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self {
            parent: parent.into(),
            one_of: Some(values.into_iter().map(Into::into).collect()),
            at_least: None,
        }
    }

    /// Active when integer `parent` is at least `min`.
    pub fn at_least(parent: impl Into<String>, min: i64) -> Self {
        Self {
            parent: parent.into(),
            one_of: None,
            at_least: Some(min),
        }
    }

    /// Whether the parent's value `value` makes the child active.
    pub fn holds(&self, value: &Value) -> bool {
        match (&self.one_of, self.at_least, value) {
            (Some(values), _, value) => values.contains(value),
            (None, Some(min), Value::Int(i)) => *i >= min,
            _ => false,
        }
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.one_of, self.at_least) {
            (Some(values), _) => {
                let names: Vec<String> = values.iter().map(Value::to_string).collect();
                write!(f, "`{}` is one of [{}]", self.parent, names.join(", "))
            }
            (None, Some(min)) => write!(f, "`{}` is at least {min}", self.parent),
            (None, None) => write!(f, "`{}` is (nothing)", self.parent),
        }
    }
}

/// Checks `param`'s condition against the other parameters of `params`: the parent
/// exists, is discrete and can take the values named, and following parents never
/// comes back to `param`.
pub(super) fn validate(param: &Param, params: &[Param]) -> Result<(), SpaceError> {
    let Some(when) = &param.when else {
        return Ok(());
    };
    let bad = |message: String| {
        Err(SpaceError::Condition {
            name: param.name.clone(),
            message,
        })
    };
    let Some(parent) = params.iter().find(|p| p.name == when.parent) else {
        let names = params.iter().map(|p| p.name.as_str());
        let hint = crate::spelling::hint(&when.parent, names);
        return bad(format!(
            "its parent `{}` is not in the space{hint}",
            when.parent
        ));
    };
    match (&when.one_of, when.at_least, &parent.domain) {
        (Some(_), Some(_), _) | (None, None, _) => {
            return bad("its condition needs exactly one of `in` and `at_least`".into())
        }
        (_, _, Domain::Float { .. }) => {
            return bad(format!(
                "its parent `{}` is a float; a parent must be an int or categorical",
                parent.name
            ))
        }
        (Some(values), None, domain) => {
            if values.is_empty() {
                return bad("its condition lists no value".into());
            }
            if let Some(v) = values.iter().find(|v| domain.to_unit(v).is_none()) {
                return bad(format!(
                    "its condition names {v}, which `{}` ({domain}) cannot take",
                    parent.name
                ));
            }
        }
        (None, Some(min), Domain::Int { high, .. }) if min > *high => {
            return bad(format!(
                "it needs `{}` at least {min}, above its highest value {high}",
                parent.name
            ))
        }
        (None, Some(_), Domain::Int { .. }) => {}
        (None, Some(_), domain) => {
            return bad(format!(
                "`at_least` needs an int parent; `{}` is {domain}",
                parent.name
            ))
        }
    }
    // Follow the chain of parents: it must end at an unconditional parameter.
    let mut chain = vec![param.name.as_str()];
    let mut at = parent;
    while let Some(next) = &at.when {
        chain.push(&at.name);
        if chain.contains(&next.parent.as_str()) {
            chain.push(&next.parent);
            return bad(format!(
                "its conditions form a cycle: {}",
                chain.join(" -> ")
            ));
        }
        let Some(p) = params.iter().find(|p| p.name == next.parent) else {
            return Ok(()); // reported at that parameter
        };
        at = p;
    }
    Ok(())
}

impl SearchSpace {
    /// Whether any parameter is conditional.
    pub fn is_conditional(&self) -> bool {
        self.params.iter().any(|p| p.when.is_some())
    }

    /// Which parameters are active when the parameters take `values` (one per
    /// parameter, in order; an inactive one's value is ignored).
    pub fn active_with(&self, values: &[Value]) -> Vec<bool> {
        let mut active: Vec<Option<bool>> = vec![None; self.params.len()];
        for i in 0..self.params.len() {
            self.resolve(i, values, &mut active);
        }
        active.into_iter().map(|a| a == Some(true)).collect()
    }

    /// Which parameters are active at unit point `point` (a sampler's view): the
    /// coordinates of inactive ones mean nothing, and samplers that model the
    /// objective leave them out.
    ///
    /// ```
    /// use knob_core::{Scale, SearchSpace};
    /// let space = SearchSpace::builder()
    ///     .categorical("optimizer", ["adam", "sgd"])
    ///     .float("momentum", 0.5, 0.99, Scale::LogOneMinus)
    ///     .when_in("optimizer", ["sgd"])
    ///     .build()?;
    /// assert_eq!(space.active(&[0.25, 0.7]), [true, false]); // adam
    /// assert_eq!(space.active(&[0.75, 0.7]), [true, true]); // sgd
    /// let params = space.from_unit(&[0.25, 0.7])?;
    /// assert!(params.get("momentum").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn active(&self, point: &[f64]) -> Vec<bool> {
        if !self.is_conditional() {
            return vec![true; self.params.len()];
        }
        let values: Vec<Value> = self
            .params
            .iter()
            .zip(point)
            .map(|(p, &u)| p.domain.from_unit(u))
            .collect();
        self.active_with(&values)
    }

    fn resolve(&self, i: usize, values: &[Value], active: &mut Vec<Option<bool>>) -> bool {
        if let Some(known) = active[i] {
            return known;
        }
        let on = match &self.params[i].when {
            None => true,
            Some(when) => match self.param(&when.parent) {
                // Validation guarantees the parent exists and no cycle.
                Some((j, _)) => self.resolve(j, values, active) && when.holds(&values[j]),
                None => false,
            },
        };
        active[i] = Some(on);
        on
    }
}

#[cfg(test)]
mod tests {
    use crate::{Scale, SearchSpace, SpaceError, Value};

    fn nested() -> SearchSpace {
        SearchSpace::builder()
            .categorical("optimizer", ["adam", "sgd"])
            .categorical("nesterov", [false, true])
            .when_in("optimizer", ["sgd"])
            .float("momentum", 0.5, 0.99, Scale::LogOneMinus)
            .when_in("nesterov", [true])
            .int("layers", 1, 3, Scale::Linear)
            .repeated("layers", |b, i| {
                b.int(format!("units_{i}"), 16, 256, Scale::Log).float(
                    format!("dropout_{i}"),
                    0.0,
                    0.5,
                    Scale::Linear,
                )
            })
            .build()
            .unwrap()
    }

    fn condition_error(space: crate::SpaceBuilder) -> (String, String) {
        match space.build().unwrap_err() {
            SpaceError::Condition { name, message } => (name, message),
            other => panic!("not a condition error: {other}"),
        }
    }

    #[test]
    fn params_hold_only_the_active_parameters_and_map_back() {
        let space = nested();
        assert_eq!(space.len(), 10);
        // adam, (nesterov), (momentum), 1 layer.
        let point = [0.25, 0.75, 0.3, 0.0, 0.4, 0.5, 0.6, 0.1, 0.2, 0.3];
        let params = space.from_unit(&point).unwrap();
        let names: Vec<&str> = params.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["optimizer", "layers", "units_0", "dropout_0"]);
        let back = space.to_unit(&params).unwrap();
        assert_eq!(space.from_unit(&back).unwrap(), params);
        assert_eq!(back[1], 0.5, "an inactive coordinate maps to the centre");
        // sgd with nesterov: the nested condition holds; 3 layers.
        let point = [0.75, 0.75, 0.3, 1.0, 0.4, 0.5, 0.6, 0.1, 0.2, 0.3];
        let params = space.from_unit(&point).unwrap();
        assert!(params.get("momentum").is_some() && params.get("units_2").is_some());
        // sgd without nesterov: momentum is inactive although its grandparent holds.
        let params = space
            .from_unit(&[0.75, 0.25, 0.3, 0.0, 0.4, 0.5, 0.6, 0.1, 0.2, 0.3])
            .unwrap();
        assert!(params.get("nesterov").is_some() && params.get("momentum").is_none());
        assert!(
            params.float("momentum").is_err(),
            "an inactive parameter has no value"
        );
    }

    #[test]
    fn an_inactive_parameter_given_is_refused_by_name() {
        let space = nested();
        let mut params = space.from_unit(&[0.25; 10]).unwrap();
        params.insert("momentum".to_owned(), Value::Float(0.9));
        let e = space.to_unit(&params).unwrap_err().to_string();
        assert!(
            e.contains("`momentum`") && e.contains("`nesterov` is one of [true]"),
            "{e}"
        );
    }

    #[test]
    fn invalid_trees_are_refused_naming_the_parameter() {
        let b = SearchSpace::builder;
        let (name, message) = condition_error(
            b().categorical("optimizer", ["adam"])
                .float("beta1", 0.5, 0.9, Scale::Linear)
                .when_in("optimiser", ["adam"]),
        );
        assert_eq!(name, "beta1");
        assert!(
            message.contains("`optimiser` is not in the space") && message.contains("optimizer"),
            "{message}"
        );
        let (name, message) = condition_error(
            b().categorical("optimizer", ["adam"])
                .float("beta1", 0.5, 0.9, Scale::Linear)
                .when_in("optimizer", ["sgd"]),
        );
        assert!(
            name == "beta1" && message.contains("cannot take"),
            "{message}"
        );
        let (_, message) = condition_error(
            b().float("lr", 0.1, 0.5, Scale::Linear)
                .float("x", 0.0, 1.0, Scale::Linear)
                .when_in("lr", [0.2]),
        );
        assert!(message.contains("is a float"), "{message}");
        let (_, message) = condition_error(
            b().int("layers", 1, 3, Scale::Linear)
                .int("units_3", 1, 8, Scale::Linear)
                .when_at_least("layers", 4),
        );
        assert!(message.contains("above its highest value 3"), "{message}");
        let (name, message) = condition_error(
            b().categorical("a", [1, 2])
                .when_in("b", [1])
                .categorical("b", [1, 2])
                .when_in("a", [1]),
        );
        assert!(
            name == "a" && message.contains("cycle: a -> b -> a"),
            "{message}"
        );
        let (name, _) = condition_error(
            b().float("x", 0.0, 1.0, Scale::Linear)
                .repeated("layers", |b, i| {
                    b.int(format!("units_{i}"), 1, 8, Scale::Linear)
                }),
        );
        assert_eq!(name, "layers");
        assert!(matches!(
            b().categorical("a", [1])
                .categorical("a", [2])
                .when_in("a", [1])
                .build(),
            Err(SpaceError::DuplicateName { .. })
        ));
    }

    #[test]
    fn space_files_declare_conditions_and_flat_spaces_are_written_as_before() {
        let space = SearchSpace::from_json_str(
            r#"{"params": [
                {"name": "optimizer", "type": "categorical", "choices": ["adam", "sgd"]},
                {"name": "momentum", "type": "float", "low": 0.5, "high": 0.99,
                 "scale": "log_one_minus", "when": {"parent": "optimizer", "in": ["sgd"]}},
                {"name": "layers", "type": "int", "low": 1, "high": 3},
                {"name": "units_2", "type": "int", "low": 8, "high": 64,
                 "when": {"parent": "layers", "at_least": 3}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            space.params()[3].when,
            Some(crate::Condition::at_least("layers", 3))
        );
        let json = serde_json::to_string(&space).unwrap();
        assert_eq!(serde_json::from_str::<SearchSpace>(&json).unwrap(), space);
        let e = SearchSpace::from_json_str(
            r#"{"params": [{"name": "x", "type": "int", "low": 1, "high": 3,
                "when": {"parent": "y", "is": [1]}}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `is`"), "{e}");
        let flat = SearchSpace::builder()
            .int("layers", 1, 3, Scale::Linear)
            .build()
            .unwrap();
        assert!(!serde_json::to_string(&flat).unwrap().contains("when"));
    }
}
