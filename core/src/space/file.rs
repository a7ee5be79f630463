//! Search spaces from JSON and TOML files: each parameter's keys checked, and errors
//! that say where.

use std::path::Path;

use serde::Deserialize;

use super::{Param, SearchSpace};
use crate::error::{Result, SpaceError};

/// The form a space file deserializes into: each parameter is checked as it is read
/// ([`ParamFile`]), so that the parser can say where a bad one is; the whole space (two
/// parameters with one name) after.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SpaceFile {
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
    const NUMERIC: &[&str] = &["name", "type", "low", "high", "scale", "prior", "when"];
    const CATEGORICAL: &[&str] = &["name", "type", "choices", "when"];
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
}
