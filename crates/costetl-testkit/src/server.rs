//! What every started backend has in common: its process, its temporary
//! data directory, and the accessors tests use. [`crate::PromServer`] and
//! [`crate::VmServer`] differ only in how they start; both dereference to
//! [`Server`].

use tempfile::TempDir;

use crate::process::ServerProcess;
use crate::{Backend, TestkitError};

/// A backend server started for a test. Dropping it stops the process
/// (SIGTERM, then SIGKILL after 5 s) and deletes its temporary directory.
pub struct Server {
    kind: &'static str,
    process: ServerProcess,
    // Declared after `process`: fields drop in order, so the directory is
    // removed only after the server stopped writing to it.
    _dir: TempDir,
}

impl Server {
    pub(crate) fn new(kind: &'static str, process: ServerProcess, dir: TempDir) -> Self {
        Self {
            kind,
            process,
            _dir: dir,
        }
    }

    /// The process, for the requests a server type sends after start.
    pub(crate) fn process(&self) -> &ServerProcess {
        &self.process
    }

    /// Base URL: `http://127.0.0.1:<port>`, `https://` with TLS, plus the
    /// path prefix the server was started with, if any.
    pub fn url(&self) -> String {
        self.process.url()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// `GET <path_and_query>` (already URL-encoded, see
    /// [`crate::encode_component`]): status code and body, whatever the
    /// status.
    ///
    /// # Errors
    ///
    /// [`TestkitError::Http`] if the request cannot be sent or the response
    /// not read.
    pub fn query_raw(&self, path_and_query: &str) -> Result<(u16, String), TestkitError> {
        self.process.get(path_and_query)
    }

    /// Instant query `expr` at `time` (Unix seconds); the JSON body.
    ///
    /// # Errors
    ///
    /// As [`Backend::instant_query`].
    pub fn instant_query(&self, expr: &str, time: f64) -> Result<String, TestkitError> {
        Backend::instant_query(self, expr, time)
    }

    /// The last lines of the server's log, for diagnosing a failing test.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}

impl Backend for Server {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn url(&self) -> String {
        self.url()
    }

    fn query_raw(&self, path_and_query: &str) -> Result<(u16, String), TestkitError> {
        self.query_raw(path_and_query)
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("kind", &self.kind)
            .field("url", &self.url())
            .field("pid", &self.pid())
            .finish()
    }
}

/// The newtype plumbing both backend types share: deref to [`Server`] and
/// serve as a [`Backend`].
macro_rules! server_newtype {
    ($t:ident) => {
        impl std::ops::Deref for $t {
            type Target = $crate::server::Server;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl $crate::Backend for $t {
            fn kind(&self) -> &'static str {
                $crate::Backend::kind(&self.0)
            }

            fn url(&self) -> String {
                self.0.url()
            }

            fn query_raw(
                &self,
                path_and_query: &str,
            ) -> Result<(u16, String), $crate::TestkitError> {
                self.0.query_raw(path_and_query)
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
pub(crate) use server_newtype;
