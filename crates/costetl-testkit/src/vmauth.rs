//! [`VmAuthServer`]: VictoriaMetrics' `vmauth`, the authenticating proxy
//! VictoriaMetrics users put in front of it (bearer tokens, basic auth).

use std::ffi::OsString;
use std::time::Instant;

use crate::process::{self, PORT_ATTEMPTS, ServerProcess};
use crate::server::{Server, server_newtype};
use crate::{START_TIMEOUT, TestkitError, free_port, require_binary};

/// Who `vmauth` lets through.
#[derive(Clone, Debug)]
pub enum VmAuthUser {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic auth with user and password.
    Basic(String, String),
}

/// `vmauth` on `127.0.0.1`, proxying authenticated requests to one
/// backend and answering 401 to anything else.
///
/// Dropping it stops the proxy (not the backend).
pub struct VmAuthServer(Server);

server_newtype!(VmAuthServer);

impl VmAuthServer {
    /// Starts `vmauth` in front of `backend_url` (e.g. a
    /// [`crate::VmServer`]'s URL) for `users`, and waits until it answers
    /// `/health`.
    ///
    /// # Errors
    ///
    /// - [`TestkitError::MissingBinary`] if `vmauth` is missing (it comes
    ///   with Debian's `victoria-metrics` package);
    /// - [`TestkitError::ServerExited`] / [`TestkitError::Timeout`] if it
    ///   does not come up within [`START_TIMEOUT`].
    pub fn start(backend_url: &str, users: &[VmAuthUser]) -> Result<Self, TestkitError> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let binary = require_binary("vmauth")?;
        let dir = tempfile::Builder::new()
            .prefix("costetl-testkit-vmauth-")
            .tempdir()
            .map_err(|source| TestkitError::Io {
                context: "creating a temporary directory".to_owned(),
                source,
            })?;
        let config = dir.path().join("auth.yml");
        let log = dir.path().join("vmauth.log");
        let mut yaml = String::from("# Written by costetl-testkit.\nusers:\n");
        for user in users {
            match user {
                VmAuthUser::Bearer(token) => {
                    yaml.push_str(&format!("- bearer_token: {token:?}\n"));
                }
                VmAuthUser::Basic(name, password) => {
                    yaml.push_str(&format!("- username: {name:?}\n  password: {password:?}\n"));
                }
            }
            yaml.push_str(&format!("  url_prefix: {backend_url:?}\n"));
        }
        process::write_file(&config, &yaml)?;

        let mut attempt = 0;
        let process = loop {
            attempt += 1;
            let port = free_port()?;
            let args: Vec<OsString> = vec![
                format!("-auth.config={}", config.display()).into(),
                format!("-httpListenAddr=127.0.0.1:{port}").into(),
            ];
            let mut process =
                ServerProcess::spawn("vmauth", &binary, &args, dir.path(), &log, port)?;
            match process.wait_until(deadline, started, "GET /health to answer 200", |p| {
                p.expect_200("/health")
            }) {
                Ok(()) => break process,
                Err(e) if attempt < PORT_ATTEMPTS && process::port_taken(&e) => continue,
                Err(e) => return Err(e),
            }
        };
        Ok(Self(Server::new("vmauth", process, dir)))
    }
}
