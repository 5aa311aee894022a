//! One config struct, read from flags, `TESSERA_*` environment variables and a TOML file, in
//! that order of precedence (DESIGN 2.1). clap reads flags and the environment; the file fills
//! whatever neither gave.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use tessera_types::Limits;

/// Everything the file may set. Unknown keys are refused so a typo does not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub bind: Option<IpAddr>,
    /// Port to listen on.
    pub port: Option<u16>,
    /// Data directory of the embedded backend.
    pub data: Option<PathBuf>,
    /// Access token.
    pub token: Option<String>,
    /// Worker threads.
    pub threads: Option<usize>,
    /// Worker name.
    pub name: Option<String>,
    /// Worker tags.
    pub tags: Option<Vec<String>>,
    /// Let the local worker run command jobs.
    pub allow_commands: Option<bool>,
    /// Server URL for `submit`.
    pub server: Option<String>,
    /// Input limits.
    pub limits: Option<Limits>,
}

impl FileConfig {
    /// Reads `path`, or `./tessera.toml` when no path is given and that file exists.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from("tessera.toml");
                if !p.exists() {
                    return Ok(FileConfig::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
    }
}
