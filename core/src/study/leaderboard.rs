//! The best trials of a study as a table.

use std::fmt;

use crate::history::History;
use crate::trial::Trial;

/// The best feasible complete trials, best first, and the trials that failed for good.
/// `Display` prints an aligned text table, then one line per failed trial. For a study
/// of several objectives the rows are its Pareto front, by the first objective.
#[derive(Debug, Clone)]
pub struct Leaderboard {
    /// The trials, best first.
    pub rows: Vec<Trial>,
    /// How many objectives each row has a value for.
    pub objectives: usize,
    /// Failed trials that will not run again, in number order.
    pub failed: Vec<Trial>,
    /// Complete trials left off because they break a constraint.
    pub infeasible: usize,
}

impl Leaderboard {
    /// The `top` best feasible complete trials of `history` (of its Pareto front, for
    /// several objectives).
    pub fn new(history: &History, top: usize) -> Self {
        let mut ranked: Vec<_> = if history.objectives() == 1 {
            history
                .observations()
                .filter(|o| o.violation == 0.0)
                .collect()
        } else {
            let front = history.best_trials();
            history
                .observations()
                .filter(|o| front.iter().any(|t| t.number == o.number))
                .collect()
        };
        ranked.sort_by(|a, b| a.loss.total_cmp(&b.loss).then(a.number.cmp(&b.number)));
        let rows = ranked
            .iter()
            .take(top)
            .filter_map(|o| history.get(o.number).cloned())
            .collect();
        Self {
            rows,
            objectives: history.objectives(),
            failed: Vec::new(),
            infeasible: history.observations().filter(|o| o.violation > 0.0).count(),
        }
    }

    /// The lines under the table: trials left off for a constraint, then those failed
    /// for good.
    fn write_left_off(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        match self.infeasible {
            0 => {}
            1 => writeln!(f, "1 complete trial breaks a constraint and is not ranked")?,
            n => writeln!(
                f,
                "{n} complete trials break a constraint and are not ranked"
            )?,
        }
        if self.failed.is_empty() {
            return Ok(());
        }
        writeln!(f, "failed for good: {} trials", self.failed.len())?;
        for t in self.failed.iter().take(SHOWN) {
            let why = t.error.as_deref().unwrap_or("no reason recorded");
            writeln!(f, "  trial {}: {why}", t.number)?;
        }
        if self.failed.len() > SHOWN {
            writeln!(f, "  ... and {} more", self.failed.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl fmt::Display for Leaderboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rows.is_empty() {
            match self.infeasible {
                0 => writeln!(f, "(no complete trials)")?,
                _ => writeln!(f, "(no feasible complete trials)")?,
            }
            return self.write_left_off(f);
        }
        // Every parameter any row holds (a conditional space's trials hold different
        // ones), each after the one it follows in the rows; `-` where a row lacks it.
        let mut names: Vec<&str> = Vec::new();
        for t in &self.rows {
            let mut at = 0;
            for (name, _) in t.params.iter() {
                match names.iter().position(|n| *n == name) {
                    Some(i) => at = i + 1,
                    None => {
                        names.insert(at, name);
                        at += 1;
                    }
                }
            }
        }
        let mut header = vec!["rank".to_owned(), "trial".into()];
        match self.objectives {
            1 => header.push("value".into()),
            m => header.extend((1..=m).map(|i| format!("value {i}"))),
        }
        header.push("secs".into());
        header.extend(names.iter().map(|name| (*name).to_owned()));
        let mut table = vec![header];
        for (rank, t) in self.rows.iter().enumerate() {
            let mut row = vec![(rank + 1).to_string(), t.number.to_string()];
            row.extend(
                (0..self.objectives)
                    .map(|i| crate::format_number(t.values().get(i).copied().unwrap_or(f64::NAN))),
            );
            row.push(format!("{:.1}", t.duration_secs()));
            row.extend(names.iter().map(|name| match t.params.get(name) {
                Some(crate::Value::Float(x)) => crate::format_number(*x),
                Some(other) => other.to_string(),
                None => "-".to_owned(),
            }));
            table.push(row);
        }
        let columns = table.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                table
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(String::len)
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &table {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:>w$}"))
                .collect();
            writeln!(f, "{}", cells.join("  "))?;
        }
        self.write_left_off(f)
    }
}
