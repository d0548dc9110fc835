//! Registry credentials and where they come from, in this order: `--auth-file`
//! (`{"username","password"}` or `{"token"}`), docker `config.json` (`$DOCKER_CONFIG` or
//! `~/.docker/config.json`, `auths[host].auth`), `GITHUB_TOKEN` for `ghcr.io` only,
//! `FORGER_OCI_BEARER`, then anonymous. Secrets never appear in `Debug` output, logs or
//! errors: [`Credentials`] has a hand-written redacting `Debug`, and errors name only the
//! source of the credentials.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use super::Error;

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials.
    Anonymous,
    /// HTTP Basic (also exchanged for a bearer token when the registry asks for one).
    Basic {
        /// User name.
        username: String,
        /// Password or personal access token.
        password: String,
    },
    /// A bearer token sent as is.
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { .. } => f.write_str("Basic(<redacted>)"),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Credentials plus a human description of their source (safe to print).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedAuth {
    /// The credentials.
    pub credentials: Credentials,
    /// `--auth-file <path>`, `docker config <path>`, `GITHUB_TOKEN`, `FORGER_OCI_BEARER` or
    /// `anonymous`.
    pub origin: String,
}

#[derive(Deserialize)]
struct AuthFile {
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// Finds credentials for `registry` (`host[:port]`) from the process environment.
pub fn resolve(registry: &str, auth_file: Option<&Path>) -> Result<ResolvedAuth, Error> {
    resolve_with(registry, auth_file, &|k| std::env::var(k).ok())
}

/// [`resolve`] with an explicit environment lookup (for tests).
pub fn resolve_with(
    registry: &str,
    auth_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ResolvedAuth, Error> {
    if let Some(path) = auth_file {
        return Ok(ResolvedAuth {
            credentials: read_auth_file(path)?,
            origin: format!("--auth-file {}", path.display()),
        });
    }
    let docker = env("DOCKER_CONFIG")
        .map(|d| PathBuf::from(d).join("config.json"))
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json")));
    if let Some(path) = docker
        && path.is_file()
        && let Some(c) = from_docker_config(&path, registry)?
    {
        return Ok(ResolvedAuth {
            credentials: c,
            origin: format!("docker config {}", path.display()),
        });
    }
    let host = registry.split(':').next().unwrap_or(registry);
    if host == "ghcr.io"
        && let Some(t) = env("GITHUB_TOKEN").filter(|t| !t.is_empty())
    {
        return Ok(ResolvedAuth {
            credentials: Credentials::Basic {
                username: env("GITHUB_ACTOR").unwrap_or_else(|| "forger".to_owned()),
                password: t,
            },
            origin: "GITHUB_TOKEN".to_owned(),
        });
    }
    if let Some(t) = env("FORGER_OCI_BEARER").filter(|t| !t.is_empty()) {
        return Ok(ResolvedAuth {
            credentials: Credentials::Bearer(t),
            origin: "FORGER_OCI_BEARER".to_owned(),
        });
    }
    Ok(ResolvedAuth {
        credentials: Credentials::Anonymous,
        origin: "anonymous".to_owned(),
    })
}

fn read_auth_file(path: &Path) -> Result<Credentials, Error> {
    let bad = |reason: &str| Error::AuthFile {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let text = std::fs::read(path).map_err(|e| bad(&format!("cannot read it: {e}")))?;
    // The parser's message could quote the file; report only the position.
    let f: AuthFile = serde_json::from_slice(&text).map_err(|e| {
        bad(&format!(
            "not the expected JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match (f.username, f.password, f.token) {
        (_, _, Some(t)) if !t.is_empty() => Ok(Credentials::Bearer(t)),
        (Some(u), Some(p), _) => Ok(Credentials::Basic {
            username: u,
            password: p,
        }),
        _ => Err(bad("it has neither username+password nor token")),
    }
}

/// The host part of a docker config key: `https://host/v1/` → `host`.
fn config_key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn from_docker_config(path: &Path, registry: &str) -> Result<Option<Credentials>, Error> {
    let bad = |reason: String| Error::AuthFile {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let cfg: DockerConfig = serde_json::from_slice(&text).map_err(|e| {
        bad(format!(
            "not a docker config.json (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let wanted: &[&str] = if registry == "docker.io" || registry == "index.docker.io" {
        &["docker.io", "index.docker.io", "registry-1.docker.io"]
    } else {
        &[registry]
    };
    let Some(entry) = cfg
        .auths
        .iter()
        .find(|(k, _)| wanted.contains(&config_key_host(k)))
        .map(|(_, v)| v)
    else {
        return Ok(None);
    };
    if let Some(a) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .map_err(|_| bad(format!("auths[{registry}].auth is not base64")))?;
        let text = String::from_utf8(raw)
            .map_err(|_| bad(format!("auths[{registry}].auth is not UTF-8")))?;
        let (u, p) = text
            .split_once(':')
            .ok_or_else(|| bad(format!("auths[{registry}].auth is not `user:password`")))?;
        return Ok(Some(Credentials::Basic {
            username: u.to_owned(),
            password: p.to_owned(),
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Some(Credentials::Basic {
            username: u.clone(),
            password: p.clone(),
        })),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(map: HashMap<&'static str, String>) -> impl Fn(&str) -> Option<String> {
        move |k| map.get(k).cloned()
    }

    #[test]
    fn order_and_scoping_of_sources() {
        let dir = tempfile::tempdir().unwrap();
        let dcfg = dir.path().join("docker");
        std::fs::create_dir(&dcfg).unwrap();
        // "alice:s3cret"
        std::fs::write(
            dcfg.join("config.json"),
            r#"{"auths":{"https://reg.example:5000/v1/":{"auth":"YWxpY2U6czNjcmV0"}}}"#,
        )
        .unwrap();
        let e = env(HashMap::from([
            ("DOCKER_CONFIG", dcfg.display().to_string()),
            ("GITHUB_TOKEN", "ghp_secret".to_owned()),
            ("FORGER_OCI_BEARER", "bearer-secret".to_owned()),
        ]));
        let r = resolve_with("reg.example:5000", None, &e).unwrap();
        assert_eq!(
            r.credentials,
            Credentials::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            }
        );
        // GITHUB_TOKEN goes to ghcr.io only; other hosts fall through to the bearer.
        let r = resolve_with("ghcr.io", None, &e).unwrap();
        assert_eq!(r.origin, "GITHUB_TOKEN");
        let r = resolve_with("quay.io", None, &e).unwrap();
        assert_eq!(r.credentials, Credentials::Bearer("bearer-secret".into()));
        let r = resolve_with("quay.io", None, &env(HashMap::new())).unwrap();
        assert_eq!(r.credentials, Credentials::Anonymous);
        // The auth file wins over everything.
        let f = dir.path().join("auth.json");
        std::fs::write(&f, r#"{"token":"file-token"}"#).unwrap();
        let r = resolve_with("ghcr.io", Some(&f), &e).unwrap();
        assert_eq!(r.credentials, Credentials::Bearer("file-token".into()));
    }

    #[test]
    fn debug_and_errors_never_show_secrets() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::Bearer("tok123".into())).contains("tok123"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("auth.json");
        std::fs::write(&f, r#"{"password": "hunter2", "username": }"#).unwrap();
        let err = read_auth_file(&f).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }
}
