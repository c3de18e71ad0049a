//! [`S3Server`]: an S3-compatible object store on `127.0.0.1` for the ETL
//! store's tests: moto's standalone server (`moto_server`, PyPI
//! `moto[server]`), which speaks the S3 REST API (SigV4, ListObjectsV2,
//! conditional and multipart PUT) with in-memory buckets.
//!
//! Debian packages no S3 server (MinIO, SeaweedFS and Garage are not in
//! the archive), and moto is the server other Rust object-store projects
//! test against; `.ci/run` installs it with pip.

use std::time::Instant;

use crate::process::{self, Launch};
use crate::server::Server;
use crate::{REQUEST_TIMEOUT, START_TIMEOUT, TestkitError, http, require_binary};

/// Credentials the server accepts (moto accepts any; these are what the
/// tests sign with).
pub const S3_ACCESS_KEY_ID: &str = "costetl-test";
/// See [`S3_ACCESS_KEY_ID`].
pub const S3_SECRET_ACCESS_KEY: &str = "costetl-test-secret";
/// The region buckets are made in.
pub const S3_REGION: &str = "us-east-1";

/// `moto_server` on `127.0.0.1` with one empty bucket. Dropping it stops
/// the server and forgets every object.
pub struct S3Server(Server, String);

impl std::ops::Deref for S3Server {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl S3Server {
    /// Starts the server, waits until it answers, and creates `bucket`.
    ///
    /// # Errors
    ///
    /// - [`TestkitError::MissingBinary`] if `moto_server` is not on `PATH`
    ///   (`pip install 'moto[server]'`);
    /// - [`TestkitError::ServerExited`] / [`TestkitError::Timeout`] if it
    ///   does not come up within [`START_TIMEOUT`];
    /// - [`TestkitError::HttpStatus`] if the bucket cannot be created.
    pub fn start(bucket: &str) -> Result<Self, TestkitError> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let binary = require_binary("moto_server")?;
        let dir = process::temp_dir("s3")?;
        let log = dir.path().join("moto.log");
        let process = Launch {
            kind: "moto_server",
            program: &binary,
            cwd: dir.path(),
            log: &log,
            access: http::Access::default(),
            prefix: "",
            ready_path: "/moto-api/",
            waiting_for: "GET /moto-api/ to answer 200",
            started,
            deadline,
        }
        .start(|port| {
            vec![
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string().into(),
            ]
        })?;
        let path = format!("/{bucket}");
        let (status, body) = http::request(
            &http::Access::default(),
            process.port(),
            "PUT",
            &path,
            Some(b""),
            REQUEST_TIMEOUT,
        )
        .map_err(|source| TestkitError::Http {
            method: "PUT",
            url: format!("{}{path}", process.url()),
            source,
        })?;
        if status != 200 {
            return Err(TestkitError::HttpStatus {
                method: "PUT",
                url: format!("{}{path}", process.url()),
                status,
                body,
            });
        }
        Ok(Self(
            Server::new("moto_server", process, dir),
            bucket.to_owned(),
        ))
    }

    /// The bucket made at start.
    pub fn bucket(&self) -> &str {
        &self.1
    }
}
