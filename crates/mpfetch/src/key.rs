//! The Materials Project API key: where it comes from, and keeping it out of every output.

use std::path::{Path, PathBuf};

use crate::FetchError;

/// The environment variable read first (the same name the `mp-api` client reads).
pub const KEY_ENV: &str = "MP_API_KEY";

/// An API key. `Debug` and `Display` print `***`, so a key cannot leak through a log line or an
/// error message by accident; [`ApiKey::expose`] is called only where the header is set.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key (surrounding whitespace removed).
    pub fn new(key: &str) -> Self {
        ApiKey(key.trim().to_string())
    }

    /// The key itself, for the `x-api-key` header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `***` (server messages may echo
    /// request headers back).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }

    /// The key from `MP_API_KEY`, else from `config` (default [`default_config_path`]):
    /// a TOML file with `api_key = "..."` under `[materials_project]`.
    pub fn resolve(config: Option<&Path>) -> Result<ApiKey, FetchError> {
        if let Ok(k) = std::env::var(KEY_ENV) {
            if !k.trim().is_empty() {
                return Ok(ApiKey::new(&k));
            }
        }
        let path = match config {
            Some(p) => p.to_path_buf(),
            None => default_config_path(),
        };
        let missing = || FetchError::MissingKey {
            config: path.display().to_string(),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.is_none() => {
                return Err(missing())
            }
            Err(e) => return Err(FetchError::io(&path, format!("cannot read: {e}"))),
        };
        let value: toml::Table = toml::from_str(&text).map_err(|e| FetchError::Config {
            path: path.display().to_string(),
            place: e
                .span()
                .map(|s| format!("line {}", text[..s.start].lines().count().max(1)))
                .unwrap_or_else(|| "file".into()),
            // The parser's message may quote the line, which may hold the key: only its kind.
            problem: "not valid TOML".into(),
        })?;
        match value
            .get("materials_project")
            .and_then(|t| t.get("api_key"))
        {
            Some(toml::Value::String(k)) if !k.trim().is_empty() => Ok(ApiKey::new(k)),
            Some(toml::Value::String(_)) | None => Err(missing()),
            Some(_) => Err(FetchError::Config {
                path: path.display().to_string(),
                place: "key materials_project.api_key".into(),
                problem: "expected a string".into(),
            }),
        }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// `$XDG_CONFIG_HOME/multimat/config.toml`, else `~/.config/multimat/config.toml`.
pub fn default_config_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from(".config"));
    base.join("multimat").join("config.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_never_formats() {
        let k = ApiKey::new(" abcdef123 ");
        assert_eq!(format!("{k} {k:?}"), "*** ApiKey(***)");
        assert_eq!(k.scrub("echo abcdef123!"), "echo ***!");
        assert_eq!(k.expose(), "abcdef123");
    }

    #[test]
    fn config_file_is_read_and_errors_hide_the_key() {
        let dir = std::env::temp_dir().join(format!("mpfetch-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, "[materials_project]\napi_key = \"k-123\"\n").unwrap();
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[materials_project]\napi_key = \"k-SECRET\n").unwrap();
        let empty = dir.join("empty.toml");
        std::fs::write(&empty, "[other]\nx = 1\n").unwrap();
        // MP_API_KEY wins when set; these checks need it unset.
        if std::env::var(KEY_ENV).is_err() {
            assert_eq!(ApiKey::resolve(Some(&good)).unwrap(), ApiKey::new("k-123"));
            let e = ApiKey::resolve(Some(&bad)).unwrap_err().to_string();
            assert!(e.contains("bad.toml") && !e.contains("SECRET"), "{e}");
            let e = ApiKey::resolve(Some(&empty)).unwrap_err();
            assert!(matches!(e, FetchError::MissingKey { .. }), "{e}");
            let e = ApiKey::resolve(Some(&dir.join("none.toml"))).unwrap_err();
            assert!(e.to_string().contains("none.toml"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
