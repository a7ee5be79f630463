//! Where a PostgreSQL storage connects, and as whom: the URL, completed from the `PG*`
//! variables and `.pgpass` as libpq completes it; the server as messages name it.

use std::fmt;
use std::path::PathBuf;

use postgres::Config;

use super::tls::Verify;
use crate::error::{Error, Result};

/// The server as messages name it: user, host, port and database, no password.
#[derive(Debug, Clone)]
pub(super) struct Server(String);

impl Server {
    pub(super) fn of(config: &Config) -> Self {
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        Server(format!(
            "postgresql://{}@{host}:{port}/{}",
            config.get_user().unwrap_or("?"),
            config.get_dbname().unwrap_or("?")
        ))
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The connection settings of `url`, completed from the `PG*` variables and `.pgpass`
/// as libpq completes them; what TLS verifies, and against which root certificates.
pub(super) fn config_from(url: &str) -> Result<(Config, Verify, Option<PathBuf>)> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    // The client library knows `sslmode` up to `require`; the verifying modes are
    // `require` plus checks that the TLS connector makes.
    let mode = url
        .split(['?', '&', ' '])
        .find_map(|kv| kv.strip_prefix("sslmode="))
        .map(str::to_owned)
        .or_else(|| env("PGSSLMODE"));
    let verify = match mode.as_deref() {
        Some("verify-full") => Verify::Full,
        Some("verify-ca") => Verify::Ca,
        _ => Verify::Nothing,
    };
    let root_cert = url
        .split(['?', '&', ' '])
        .find_map(|kv| kv.strip_prefix("sslrootcert="))
        .map(PathBuf::from);
    let url = url
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    // The client library does not know `sslrootcert`: the TLS connector reads it.
    let url = match &root_cert {
        Some(path) => {
            let param = format!("sslrootcert={}", path.display());
            url.replace(&format!("&{param}"), "")
                .replace(&format!("?{param}&"), "?")
                .replace(&format!("?{param}"), "")
                .replace(&format!(" {param}"), "")
                .replace(&param, "")
        }
        None => url,
    };
    let mut config: Config = url.parse().map_err(|e: postgres::Error| Error::Storage {
        location: redact(&url),
        message: format!("not a PostgreSQL URL: {e}"),
    })?;
    if config.get_hosts().is_empty() {
        config.host(env("PGHOST").as_deref().unwrap_or("localhost"));
    }
    if config.get_ports().is_empty() {
        let port = env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432);
        config.port(port);
    }
    if config.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into());
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let db =
            env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or("postgres").into());
        config.dbname(&db);
    }
    if !url.contains("sslmode") {
        match mode.as_deref() {
            Some("disable") => config.ssl_mode(postgres::config::SslMode::Disable),
            Some("require" | "verify-ca" | "verify-full") => {
                config.ssl_mode(postgres::config::SslMode::Require)
            }
            _ => &mut config,
        };
    }
    if config.get_password().is_none() {
        if let Some(password) = env("PGPASSWORD").or_else(|| pgpass(&config)) {
            config.password(password);
        }
    }
    Ok((config, verify, root_cert))
}

/// The password `.pgpass` (or `PGPASSFILE`) gives for the connection, if any: the first
/// line of `host:port:database:user:password` that matches, `*` matching anything.
fn pgpass(config: &Config) -> Option<String> {
    let file = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))?;
    let text = std::fs::read_to_string(file).ok()?;
    let server = Server::of(config);
    let host = server.0.split('@').nth(1)?.split(':').next()?.to_owned();
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let want = [
        host.as_str(),
        port.as_str(),
        config.get_dbname().unwrap_or(""),
        config.get_user().unwrap_or(""),
    ];
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let fields = split_pgpass(line);
            (fields.len() == 5
                && fields[..4]
                    .iter()
                    .zip(want)
                    .all(|(f, w)| f == "*" || f == w))
            .then(|| fields[4].clone())
        })
}

/// One `.pgpass` line split on unescaped colons, with `\:` and `\\` unescaped.
fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one field").extend(chars.next()),
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// `url` with any password replaced, for messages about a URL that did not parse.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url
            .split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://knob:s3cret@db.lan:5433/studies"),
            "postgres://knob:***@db.lan:5433/studies"
        );
        assert_eq!(
            redact("host=db password=s3cret user=k"),
            "host=db password=*** user=k"
        );
        let (config, ..) = config_from("postgres://knob:s3cret@db.lan:5433/studies").unwrap();
        let shown = Server::of(&config).to_string();
        assert_eq!(shown, "postgresql://knob@db.lan:5433/studies");
    }

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        assert_eq!(
            split_pgpass(r"db:*:x\:y:u:p\\w"),
            ["db", "*", "x:y", "u", r"p\w"]
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:no\ndb.lan:*:studies:knob:from-pgpass\n",
        )
        .unwrap();
        std::env::set_var("PGPASSFILE", &file);
        let (config, ..) = config_from("postgres://knob@db.lan/studies").unwrap();
        std::env::remove_var("PGPASSFILE");
        assert_eq!(config.get_password(), Some(&b"from-pgpass"[..]));
    }
}
