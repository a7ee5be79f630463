//! The report as one HTML page: no external file, script or font, so it can be mailed
//! or archived as it is. The markup is also well-formed XML, which the tests parse.

use std::fmt::Write;

use knob_core::{format_number, TrialState, Value};

use super::Contents;

/// Escapes text for HTML (and XML) content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table cell; `key` is what the column sorts by (numbers as numbers).
fn cell(text: &str, key: Option<f64>) -> String {
    match key {
        Some(k) if k.is_finite() => format!("<td data-key=\"{k}\">{}</td>", escape(text)),
        _ => format!("<td>{}</td>", escape(text)),
    }
}

/// Sorts the trials table by the clicked column, numerically where cells carry a
/// key; a second click reverses. Written without `<` or `&` so the page stays XML.
const SORT_SCRIPT: &str = r#"
document.querySelectorAll("table.trials th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var down = th.dataset.order !== "down";
    th.closest("tr").querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = down ? "down" : "up";
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var c = row.cells[column];
      return c.dataset.key !== undefined ? parseFloat(c.dataset.key) : c.textContent;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
      return down ? order : -order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"#;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\
th{background:#eef;cursor:pointer}th[data-order=up]::after{content:' \\25B2'}\
th[data-order=down]::after{content:' \\25BC'}\
tr.complete td:nth-child(2){color:#2a2}tr.pruned td:nth-child(2){color:#c70}\
tr.failed td:nth-child(2){color:#c22}tr.running td:nth-child(2){color:#22c}\
td.error{text-align:left;max-width:40em}\
svg{max-width:100%;height:auto}";

/// The page: title, counts by state, best trial, importance, the figure, and a table
/// of every trial (state, value, seconds, each parameter, user attributes, error).
pub(super) fn page(c: &Contents<'_>, svg: &str) -> String {
    let mut out = String::new();
    let title = escape(c.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n<p>{}</p>\n",
        escape(&c.states())
    );
    if c.history.objectives() > 1 {
        let _ = writeln!(out, "<p>{}</p>", escape(&c.front_line()));
    } else if let Some(b) = c.history.best() {
        let _ = writeln!(
            out,
            "<p>Best trial: <b>{}</b> with value <b>{}</b> ({})</p>",
            b.number,
            format_number(b.value.unwrap_or(f64::NAN)),
            escape(&b.params.to_string())
        );
    }
    out += "<h2>Importance</h2>\n";
    match c.no_ranking() {
        Some(why) => {
            let _ = writeln!(out, "<p>None: it {}.</p>", escape(&why));
        }
        None => {
            let rows = c.importance_rows();
            out += "<table><thead><tr>";
            for h in &rows[0] {
                let _ = write!(out, "<th>{}</th>", escape(h));
            }
            out += "</tr></thead><tbody>\n";
            for row in &rows[1..] {
                out += "<tr>";
                for cell in row {
                    let _ = write!(out, "<td>{}</td>", escape(cell));
                }
                out += "</tr>\n";
            }
            let _ = writeln!(
                out,
                "</tbody></table>\n<p>fANOVA: {}.</p>",
                escape(super::METHOD)
            );
        }
    }
    out += "<h2>Figure</h2>\n<figure>";
    // The SVG as plotters writes it, minus any XML declaration (not allowed mid-page).
    let svg = svg.trim_start();
    let svg = match svg.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, body)| body),
        None => svg,
    };
    out += svg;
    out += "</figure>\n<h2>Trials</h2>\n<p>Click a column to sort by it.</p>\n";
    out += &trials_table(c);
    let _ = write!(out, "<script>{SORT_SCRIPT}</script>\n</body></html>\n");
    out
}

fn trials_table(c: &Contents<'_>) -> String {
    let params: Vec<&str> = c.space.params().iter().map(|p| p.name.as_str()).collect();
    let attrs = c.history.user_attr_keys();
    let mut out = String::from("<table class=\"trials\"><thead><tr>");
    let m = c.history.objectives();
    let values: Vec<String> = match m {
        1 => vec!["value".into()],
        _ => (1..=m).map(|i| format!("objective {i}")).collect(),
    };
    let constrained = c.history.trials().iter().any(|t| !t.constraints.is_empty());
    let headers = ["trial", "state"]
        .into_iter()
        .chain(values.iter().map(String::as_str))
        .chain(constrained.then_some("violation"))
        .chain(["seconds", "steps"])
        .chain(params.iter().copied())
        .chain(attrs.iter().copied())
        .chain(["error"]);
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out += "</tr></thead><tbody>\n";
    let number = |v: &Value| match v {
        Value::Float(x) => Some(*x),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    };
    for t in c.history.trials() {
        let _ = write!(out, "<tr class=\"{}\">", t.state);
        out += &cell(&t.number.to_string(), Some(t.number as f64));
        out += &cell(&t.state.to_string(), None);
        for i in 0..m {
            let value = match m {
                1 => t.value,
                _ => t.values().get(i).copied().filter(|_| t.values().len() == m),
            };
            out += &cell(&value.map_or(String::new(), format_number), value);
        }
        if constrained {
            let violation = (!t.constraints.is_empty()).then(|| t.violation());
            out += &cell(&violation.map_or(String::new(), format_number), violation);
        }
        let seconds = (t.state != TrialState::Running).then(|| t.duration_secs());
        out += &cell(
            &seconds.map_or(String::new(), |s| format!("{s:.1}")),
            seconds,
        );
        let steps = t.intermediate.len();
        out += &cell(&steps.to_string(), Some(steps as f64));
        for p in &params {
            let v = t.params.get(p);
            out += &cell(
                &v.map_or("-".into(), ToString::to_string),
                v.and_then(number),
            );
        }
        for a in &attrs {
            let v = t.user_attrs.get(*a);
            out += &cell(
                &v.map_or(String::new(), ToString::to_string),
                v.and_then(number),
            );
        }
        let _ = write!(
            out,
            "<td class=\"error\">{}</td>",
            escape(t.error.as_deref().unwrap_or(""))
        );
        out += "</tr>\n";
    }
    out += "</tbody></table>\n";
    out
}
