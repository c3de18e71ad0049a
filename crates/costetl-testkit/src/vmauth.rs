//! [`VmAuthServer`]: VictoriaMetrics' `vmauth`, the authenticating proxy
//! VictoriaMetrics users put in front of it (bearer tokens, basic auth).

use std::time::Instant;

use crate::http::Access;
use crate::process::{self, Launch};
use crate::server::{Server, server_newtype};
use crate::{START_TIMEOUT, TestkitError, require_binary};

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
        let dir = process::temp_dir("vmauth")?;
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

        let process = Launch {
            kind: "vmauth",
            program: &binary,
            cwd: dir.path(),
            log: &log,
            access: Access::default(),
            prefix: "",
            ready_path: "/health",
            waiting_for: "GET /health to answer 200",
            started,
            deadline,
        }
        .start(|port| {
            vec![
                format!("-auth.config={}", config.display()).into(),
                format!("-httpListenAddr=127.0.0.1:{port}").into(),
            ]
        })?;
        Ok(Self(Server::new("vmauth", process, dir)))
    }
}
