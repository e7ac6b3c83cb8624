//! App: configuration. figment layers defaults → optional TOML file (`--config PATH` or
//! `GATEWAY_CONFIG`) → environment into [`RawConfig`], then `validate` makes the typed
//! [`Config`]. A bad value names its key and the fix; the binary exits 64 on it.

mod raw;
mod secret;
mod typed;
mod validate;

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

pub use raw::{ENV_KEYS, RawConfig, Text};
pub use secret::Secret;
pub use typed::{
    AuthConfig, Config, CorsConfig, EventsConfig, GraphqlConfig, LogFormat, NatsConfig,
};

/// A setting that cannot be used, with the key to change and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key}: {problem}. Fix: {fix}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
    pub fix: String,
}

impl ConfigError {
    pub(crate) fn new(key: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl Config {
    /// Loads defaults, then the file (`file`, else `GATEWAY_CONFIG` when set), then the
    /// environment, and validates the result.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first key that is missing its rules.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let from_env = std::env::var_os("GATEWAY_CONFIG").filter(|v| !v.is_empty());
        let file = file.map(Path::to_path_buf).or(from_env.map(Into::into));
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::new(
                    "GATEWAY_CONFIG",
                    format!("the file {} does not exist", path.display()),
                    "point --config or GATEWAY_CONFIG at a readable TOML file, or unset it",
                ));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let figment = figment.merge(Env::raw().only(ENV_KEYS));
        let raw: RawConfig = figment.extract().map_err(from_figment)?;
        Self::from_raw(raw)
    }

    /// Validates settings built in code (tests and embedders start from `RawConfig::default()`).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first key that breaks its rules.
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        validate::validate(raw)
    }
}

/// Turns figment's error into one that names the environment key.
fn from_figment(err: figment::Error) -> ConfigError {
    let key = err
        .path
        .first()
        .map(|k| k.to_ascii_uppercase())
        .unwrap_or_else(|| "configuration".to_owned());
    let source = err
        .metadata
        .as_ref()
        .map(|m| m.name.to_string())
        .unwrap_or_else(|| "configuration".to_owned());
    let problem = format!("{} (from {source})", err.kind);
    let fix = if key == "configuration" {
        "check the configuration file's syntax".to_owned()
    } else if matches!(err.kind, figment::error::Kind::UnknownField(..)) {
        format!(
            "remove the unknown key; known keys are {}",
            ENV_KEYS.join(", ").to_ascii_lowercase()
        )
    } else {
        format!("set {key} to a value of the expected type (see the README's configuration table)")
    };
    ConfigError { key, problem, fix }
}

#[cfg(test)]
mod tests;
