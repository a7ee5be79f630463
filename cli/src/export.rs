//! Trials as CSV or JSON Lines.

use knob_core::{BoxError, StudySnapshot, Value};

/// One row per trial: number, state, value, times, one column per parameter (space
/// order; empty where a conditional parameter was inactive) and per user attribute,
/// and the error last.
pub fn csv(s: &StudySnapshot) -> String {
    let params: Vec<&str> = s.space.params().iter().map(|p| p.name.as_str()).collect();
    let attrs = s.history.user_attr_keys();
    // One value column per objective (`value` alone for one), and the constraints'
    // values when the study has any.
    let m = s.directions.len();
    let values: Vec<String> = match m {
        1 => vec!["value".into()],
        _ => (1..=m).map(|i| format!("value_{i}")).collect(),
    };
    let constraints = s
        .history
        .trials()
        .iter()
        .map(|t| t.constraints.len())
        .max()
        .unwrap_or(0);
    let mut header: Vec<String> = vec!["number".into(), "state".into()];
    header.extend(values);
    header.extend((1..=constraints).map(|i| format!("constraint_{i}")));
    header.extend(["started", "finished", "seconds"].map(String::from));
    header.extend(params.iter().map(|p| (*p).to_owned()));
    header.extend(attrs.iter().map(|a| format!("attr:{a}")));
    header.push("error".into());
    let mut out = row(&header);
    let value = |v: Option<&Value>| v.map_or(String::new(), ToString::to_string);
    for t in s.history.trials() {
        let mut cells = vec![t.number.to_string(), t.state.to_string()];
        let cell = |v: Option<&f64>| v.map_or(String::new(), ToString::to_string);
        match m {
            1 => cells.push(cell(t.value.as_ref())),
            _ => cells.extend((0..m).map(|i| cell(t.values.get(i)))),
        }
        cells.extend((0..constraints).map(|i| cell(t.constraints.get(i))));
        cells.extend([
            t.started.to_string(),
            t.finished.map_or(String::new(), |f| f.to_string()),
            t.finished
                .map_or(String::new(), |_| format!("{:.3}", t.duration_secs())),
        ]);
        cells.extend(params.iter().map(|p| value(t.params.get(p))));
        cells.extend(attrs.iter().map(|a| value(t.user_attrs.get(*a))));
        cells.push(t.error.clone().unwrap_or_default());
        out += &row(&cells);
    }
    out
}

/// A CSV line; a cell holding a comma, a quote or a line break is quoted.
fn row(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    quoted.join(",") + "\n"
}

/// One JSON object per trial, as the study holds it.
pub fn jsonl(s: &StudySnapshot) -> Result<String, BoxError> {
    let mut out = String::new();
    for t in s.history.trials() {
        out += &serde_json::to_string(t)?;
        out += "\n";
    }
    Ok(out)
}
