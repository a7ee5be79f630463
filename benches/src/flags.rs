//! `--flag value` arguments of the benchmark programs.

use std::str::FromStr;

/// The program's arguments as `(flag, value)` pairs; a flag without a value stops the
/// program with a message naming it.
pub fn pairs() -> Vec<(String, String)> {
    let mut args = std::env::args().skip(1);
    let mut pairs = Vec::new();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        pairs.push((flag, value));
    }
    pairs
}

/// `value` as a number, or a stop with a message naming `flag`.
pub fn number<T: FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| panic!("{flag}: not a number: {value}"))
}
