//! [`AwsEnvironment`]: where the chain reads variables and files, so that
//! tests (and embedders) can give their own instead of the process's.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use aws_types::os_shim_internal::{Env, Fs};

use crate::error::AwsError;

/// Where the credential chain looks things up: environment variables
/// and files. [`AwsEnvironment::process`] is the real process; tests
/// pass their own so that they never read the machine's environment or
/// home directory.
#[derive(Clone)]
pub struct AwsEnvironment {
    pub(crate) env: Env,
    pub(crate) fs: Fs,
    /// Names of the given variables (`None`: the process environment),
    /// for `Debug`.
    var_names: Option<BTreeSet<String>>,
    /// Paths of the in-memory files (`None`: the real filesystem).
    file_names: Option<BTreeSet<String>>,
}

impl AwsEnvironment {
    /// The process environment and the real filesystem.
    pub fn process() -> Self {
        Self {
            env: Env::real(),
            fs: Fs::real(),
            var_names: None,
            file_names: None,
        }
    }

    /// Exactly these variables (nothing from the process environment);
    /// files are read from the real filesystem at the paths the
    /// variables name (`HOME`, `AWS_CONFIG_FILE`, token files, …).
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: std::collections::HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self {
            var_names: Some(map.keys().cloned().collect()),
            env: Env::from(map),
            fs: Fs::real(),
            file_names: None,
        }
    }

    /// Replace the filesystem with exactly these files (path, contents);
    /// nothing is read from disk.
    pub fn with_files<I, P, C>(mut self, files: I) -> Self
    where
        I: IntoIterator<Item = (P, C)>,
        P: Into<String>,
        C: Into<Vec<u8>>,
    {
        let map: std::collections::HashMap<String, Vec<u8>> = files
            .into_iter()
            .map(|(p, c)| (p.into(), c.into()))
            .collect();
        self.file_names = Some(map.keys().cloned().collect());
        self.fs = Fs::from_map(map);
        self
    }

    /// A variable's value; unset and empty are the same (as in the AWS
    /// SDKs).
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).ok().filter(|v| !v.is_empty())
    }

    /// A file's contents.
    pub(crate) async fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.fs.read_to_end(path).await
    }
}

impl fmt::Debug for AwsEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values include secret keys and tokens.
        let mut d = f.debug_struct("AwsEnvironment");
        match &self.var_names {
            None => d.field("vars", &"process environment"),
            Some(names) => d.field("vars", names),
        };
        match &self.file_names {
            None => d.field("files", &"real filesystem"),
            Some(names) => d.field("files", names),
        };
        d.finish()
    }
}

/// The region to use: `configured` if not blank, else `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`; `None` when all are unset. A region that is not
/// lowercase letters, digits and `-` is an error.
pub fn region(configured: &str, environment: &AwsEnvironment) -> Result<Option<String>, AwsError> {
    let region = match configured.trim() {
        "" => match environment
            .var("AWS_REGION")
            .or_else(|| environment.var("AWS_DEFAULT_REGION"))
        {
            Some(r) => r,
            None => return Ok(None),
        },
        r => r.to_owned(),
    };
    let valid = region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(AwsError::config(format!(
            "invalid AWS region {region:?} (expected e.g. \"eu-west-1\")"
        )));
    }
    Ok(Some(region))
}
