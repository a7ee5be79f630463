//! Hyperparameter values of one trial, with typed getters.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// One hyperparameter value: what a domain produces and a categorical choice holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean choice.
    Bool(bool),
    /// An integer (an `Int` domain, or an integer choice such as a batch size).
    Int(i64),
    /// A real number.
    Float(f64),
    /// A string choice, such as an optimizer's name.
    Str(String),
}

impl Value {
    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

/// The hyperparameters of one trial: names to values, in the search space's order.
///
/// Getters return an error that names the parameter, so a trainer can write
/// `let lr = params.float("lr")?;` and a typo surfaces as "no parameter named `lrr`".
/// The `*_or` getters give a default when the parameter is absent (the space does not
/// tune it) but still fail when it holds the wrong type.
///
/// ```
/// use knob_core::Params;
/// let p = Params::from_iter([("lr", 0.01.into()), ("layers", 2.into()), ("opt", "adam".into())]);
/// assert_eq!(p.float("lr")?, 0.01);
/// assert_eq!(p.int("layers")?, 2);
/// assert_eq!(p.str("opt")?, "adam");
/// assert_eq!(p.float_or("dropout", 0.0)?, 0.0);
/// assert!(p.int("lr").unwrap_err().to_string().contains("`lr`"));
/// # Ok::<(), knob_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    entries: Vec<(String, Value)>,
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`, replacing an earlier value of that name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of `name`, or an error naming it.
    pub fn value(&self, name: &str) -> Result<&Value> {
        self.get(name).ok_or_else(|| Error::MissingParam {
            name: name.to_owned(),
        })
    }

    /// The names and values, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many parameters are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no parameter is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A real-valued parameter. Integers are widened, so an integer choice reads as a float.
    pub fn float(&self, name: &str) -> Result<f64> {
        match self.value(name)? {
            Value::Float(x) => Ok(*x),
            Value::Int(i) => Ok(*i as f64),
            other => Err(type_error(name, "a float", other)),
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<i64> {
        match self.value(name)? {
            Value::Int(i) => Ok(*i),
            other => Err(type_error(name, "an int", other)),
        }
    }

    /// A non-negative integer parameter, such as a layer count or a batch size.
    pub fn usize(&self, name: &str) -> Result<usize> {
        let i = self.int(name)?;
        usize::try_from(i).map_err(|_| Error::ParamType {
            name: name.to_owned(),
            expected: "a non-negative int",
            found: format!("the int {i}"),
        })
    }

    /// A string parameter (a categorical choice such as an optimizer's name).
    pub fn str(&self, name: &str) -> Result<&str> {
        match self.value(name)? {
            Value::Str(s) => Ok(s),
            other => Err(type_error(name, "a string", other)),
        }
    }

    /// A boolean parameter.
    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.value(name)? {
            Value::Bool(b) => Ok(*b),
            other => Err(type_error(name, "a bool", other)),
        }
    }

    /// [`Params::float`], or `default` when the parameter is absent.
    pub fn float_or(&self, name: &str, default: f64) -> Result<f64> {
        self.or(name, default, Self::float)
    }

    /// [`Params::int`], or `default` when the parameter is absent.
    pub fn int_or(&self, name: &str, default: i64) -> Result<i64> {
        self.or(name, default, Self::int)
    }

    /// [`Params::usize`], or `default` when the parameter is absent.
    pub fn usize_or(&self, name: &str, default: usize) -> Result<usize> {
        self.or(name, default, Self::usize)
    }

    /// [`Params::str`], or `default` when the parameter is absent.
    pub fn str_or<'a>(&'a self, name: &str, default: &'a str) -> Result<&'a str> {
        self.or(name, default, Self::str)
    }

    /// [`Params::bool`], or `default` when the parameter is absent.
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool> {
        self.or(name, default, Self::bool)
    }

    fn or<'a, T>(
        &'a self,
        name: &str,
        default: T,
        read: impl FnOnce(&'a Self, &str) -> Result<T>,
    ) -> Result<T> {
        if self.get(name).is_some() {
            read(self, name)
        } else {
            Ok(default)
        }
    }
}

fn type_error(name: &str, expected: &'static str, found: &Value) -> Error {
    Error::ParamType {
        name: name.to_owned(),
        expected,
        found: format!("{} ({found})", found.kind()),
    }
}

impl<N: Into<String>> FromIterator<(N, Value)> for Params {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(iter: I) -> Self {
        let mut params = Params::new();
        for (name, value) in iter {
            params.insert(name, value);
        }
        params
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match value {
                Value::Float(x) => write!(f, "{name}={}", crate::format_number(*x))?,
                other => write!(f, "{name}={other}")?,
            }
        }
        Ok(())
    }
}

// Params serialize as a JSON object in space order (serde's maps would sort or hash).
impl Serialize for Params {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct ParamsVisitor;
        impl<'de> Visitor<'de> for ParamsVisitor {
            type Value = Params;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of parameter names to values")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Params, A::Error> {
                let mut params = Params::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    params.insert(name, value);
                }
                Ok(params)
            }
        }
        deserializer.deserialize_map(ParamsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_name_the_parameter_at_fault() {
        let p = Params::from_iter([("lr", Value::Float(0.1)), ("act", Value::from("relu"))]);
        let missing = p.float("momentum").unwrap_err().to_string();
        assert!(missing.contains("`momentum`"), "{missing}");
        let mistyped = p.int("act").unwrap_err().to_string();
        assert!(
            mistyped.contains("`act`") && mistyped.contains("string"),
            "{mistyped}"
        );
        assert!(
            p.float_or("act", 1.0).is_err(),
            "a default must not hide a wrong type"
        );
        assert_eq!(p.str_or("optimizer", "sgd").unwrap(), "sgd");
    }

    #[test]
    fn negative_ints_are_not_sizes() {
        let p = Params::from_iter([("layers", Value::Int(-1))]);
        assert!(p
            .usize("layers")
            .unwrap_err()
            .to_string()
            .contains("non-negative"));
    }

    #[test]
    fn json_keeps_order_and_types() {
        let p = Params::from_iter([
            ("z", Value::Float(2.0)),
            ("a", Value::Int(3)),
            ("m", Value::Bool(true)),
            ("s", Value::from("x")),
        ]);
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(text, r#"{"z":2.0,"a":3,"m":true,"s":"x"}"#);
        let back: Params = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }
}
