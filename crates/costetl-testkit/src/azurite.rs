//! [`AzuriteServer`]: Azure Blob Storage on `127.0.0.1` for the ETL store's
//! tests: Microsoft's own emulator, Azurite (`azurite-blob`, npm
//! `azurite`), which speaks the Blob REST API with SharedKey
//! authentication, ETags and conditional requests, and keeps its blobs in
//! the server's temporary directory.
//!
//! object_store writes blobs but creates no container, so
//! [`AzuriteServer::start`] creates one itself, with a SharedKey-signed
//! `PUT /<account>/<container>?restype=container`; its readiness probe is a
//! signed "list containers", as Azurite answers nothing unsigned with 200.
//! The signature is HMAC-SHA256 from `ring` (already compiled for rustls);
//! only the canonical string is written here, after Azure's SharedKey
//! specification, and Azurite checks it on every request.
//!
//! Debian packages no Azure emulator; `.ci/run` installs Azurite with npm
//! (`npm install -g azurite@3.37.0`, which puts `azurite-blob` on `PATH`).
//! Its telemetry is switched off: a test talks to nothing but 127.0.0.1.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::process::{self, Launch, ServerProcess};
use crate::server::Server;
use crate::{START_TIMEOUT, TestkitError, http, require_binary};

/// Azurite's one built-in storage account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";

/// The account's key, published in Azurite's documentation (base64).
pub const AZURITE_ACCESS_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The Blob service version the testkit's requests ask for: the one
/// object_store 0.14 sends.
const API_VERSION: &str = "2023-11-03";

/// `azurite-blob` on `127.0.0.1` with one empty container. Dropping it
/// stops the server and deletes every blob.
pub struct AzuriteServer(Server, String);

impl std::ops::Deref for AzuriteServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl AzuriteServer {
    /// Starts Azurite, waits until it answers a signed request, and creates
    /// `container`.
    ///
    /// # Errors
    ///
    /// - [`TestkitError::MissingBinary`] if `azurite-blob` is not on `PATH`
    ///   (`npm install -g azurite@3.37.0`);
    /// - [`TestkitError::ServerExited`] / [`TestkitError::Timeout`] if it
    ///   does not come up within [`START_TIMEOUT`];
    /// - [`TestkitError::HttpStatus`] if the container cannot be created.
    pub fn start(container: &str) -> Result<Self, TestkitError> {
        let started = Instant::now();
        let binary = require_binary("azurite-blob")?;
        let dir = process::temp_dir("azurite")?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|source| TestkitError::Io {
            context: format!("creating {}", data.display()),
            source,
        })?;
        let log = dir.path().join("azurite.log");
        let launch = Launch {
            kind: "azurite-blob",
            program: &binary,
            cwd: dir.path(),
            log: &log,
            access: http::Access::default(),
            prefix: "",
            ready_path: "",
            waiting_for: "a signed list of containers to answer 200",
            started,
            deadline: started + START_TIMEOUT,
        };
        let args = |port: u16| {
            [
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
                &data.display().to_string(),
                // No calls home: tests reach 127.0.0.1 only.
                "--disableTelemetry",
                // Path-style URLs only: the account is the first segment.
                "--disableProductStyleUrl",
                // Whatever service version a client asks for.
                "--skipApiVersionCheck",
            ]
            .into_iter()
            .map(Into::into)
            .collect()
        };
        let account = format!("/{AZURITE_ACCOUNT}");
        let process = launch.start_probing(args, |p| {
            match signed(p, "GET", &account, &[("comp", "list")], None) {
                Ok((200, _)) => Ok(()),
                Ok((status, body)) => Err(format!("answered {status}: {}", body.trim())),
                Err(e) => Err(e.to_string()),
            }
        })?;
        let path = format!("/{AZURITE_ACCOUNT}/{container}");
        let (status, body) = signed(
            &process,
            "PUT",
            &path,
            &[("restype", "container")],
            Some(b""),
        )?;
        if status != 201 {
            return Err(TestkitError::HttpStatus {
                method: "PUT",
                url: format!("{}{path}?restype=container", process.url()),
                status,
                body,
            });
        }
        Ok(Self(
            Server::new("azurite-blob", process, dir),
            container.to_owned(),
        ))
    }

    /// The container made at start.
    pub fn container(&self) -> &str {
        &self.1
    }

    /// The account's blob endpoint, `http://127.0.0.1:<port>/devstoreaccount1`:
    /// what a client is given as its endpoint.
    pub fn blob_endpoint(&self) -> String {
        format!("{}/{AZURITE_ACCOUNT}", self.url())
    }
}

/// Sends `method path?query` signed with the account's key, with `body`
/// (sent as [`http::BODY_CONTENT_TYPE`]).
fn signed(
    process: &ServerProcess,
    method: &'static str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<(u16, String), TestkitError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = chrono::DateTime::from_timestamp(now as i64, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let ms_headers = [("x-ms-date", date.as_str()), ("x-ms-version", API_VERSION)];
    let request = Request {
        method,
        content_length: body.map_or(0, <[u8]>::len),
        content_type: body.map_or("", |_| http::BODY_CONTENT_TYPE),
        ms_headers: &ms_headers,
        path,
        query,
    };
    let authorization = request.authorization(AZURITE_ACCOUNT, AZURITE_ACCESS_KEY);
    let mut headers: Vec<(&str, String)> = ms_headers
        .iter()
        .map(|(name, value)| (*name, (*value).to_owned()))
        .collect();
    headers.push(("Authorization", authorization));
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let path_and_query = match query.is_empty() {
        true => path.to_owned(),
        false => format!("{path}?{}", query.join("&")),
    };
    process.request(method, &path_and_query, &headers, body)
}

/// What a SharedKey signature covers of one request, for the requests the
/// testkit sends: no conditional or range headers, at most one value per
/// query parameter, names and values that need no URL encoding.
struct Request<'a> {
    method: &'a str,
    content_length: usize,
    /// Empty without a body.
    content_type: &'a str,
    /// The `x-ms-*` headers, lowercase, sorted by name.
    ms_headers: &'a [(&'a str, &'a str)],
    /// The URL's path, starting with the account (path-style).
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
}

impl Request<'_> {
    /// The string to sign of the Blob service's SharedKey scheme (versions
    /// 2015-02-21 and later): the verb, eleven standard headers (a zero
    /// length is an empty line), the `x-ms-*` headers, then the
    /// canonicalized resource (`/<account><path>` and each query parameter
    /// as `\nname:value`, sorted by name).
    fn string_to_sign(&self, account: &str) -> String {
        let length = match self.content_length {
            0 => String::new(),
            n => n.to_string(),
        };
        // Content-Encoding, -Language, Length, -MD5, -Type, Date,
        // If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since,
        // Range: only the length and the type are ever sent.
        let standard = [
            "",
            "",
            &length,
            "",
            self.content_type,
            "",
            "",
            "",
            "",
            "",
            "",
        ];
        let mut out = format!("{}\n{}\n", self.method, standard.join("\n"));
        for (name, value) in self.ms_headers {
            out.push_str(&format!("{name}:{value}\n"));
        }
        out.push_str(&format!("/{account}{}", self.path));
        let mut query = self.query.to_vec();
        query.sort_unstable();
        for (name, value) in query {
            out.push_str(&format!("\n{}:{value}", name.to_ascii_lowercase()));
        }
        out
    }

    /// The `Authorization` header: `SharedKey <account>:<signature>`, the
    /// signature being the base64 HMAC-SHA256 of the string to sign under
    /// the decoded account key.
    fn authorization(&self, account: &str, key_base64: &str) -> String {
        // A key that does not decode signs with no key: the server then
        // refuses the request, which is the error a test sees.
        let key = STANDARD.decode(key_base64).unwrap_or_default();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let tag = ring::hmac::sign(&key, self.string_to_sign(account).as_bytes());
        format!("SharedKey {account}:{}", STANDARD.encode(tag.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create_container<'a>(headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
        Request {
            method: "PUT",
            content_length: 0,
            content_type: "text/plain",
            ms_headers: headers,
            path: "/devstoreaccount1/etl",
            query: &[("restype", "container")],
        }
    }

    const HEADERS: [(&str, &str); 2] = [
        ("x-ms-date", "Tue, 14 Nov 2023 00:00:00 GMT"),
        ("x-ms-version", "2023-11-03"),
    ];

    #[test]
    fn string_to_sign_follows_the_shared_key_layout() {
        let put = create_container(&HEADERS);
        assert_eq!(
            put.string_to_sign("devstoreaccount1"),
            "PUT\n\n\n\n\ntext/plain\n\n\n\n\n\n\n\
             x-ms-date:Tue, 14 Nov 2023 00:00:00 GMT\nx-ms-version:2023-11-03\n\
             /devstoreaccount1/devstoreaccount1/etl\nrestype:container"
        );
        // A length that is not zero is signed; parameters sort by name.
        let list = Request {
            method: "GET",
            content_length: 3,
            content_type: "",
            query: &[("restype", "container"), ("comp", "list")],
            ..create_container(&HEADERS)
        };
        let text = list.string_to_sign("acct");
        assert!(text.starts_with("GET\n\n\n3\n\n\n"), "{text:?}");
        assert!(
            text.ends_with("/acct/devstoreaccount1/etl\ncomp:list\nrestype:container"),
            "{text:?}"
        );
    }

    /// The signature of [`create_container`] under Azurite's key, as
    /// Python's `hmac` and `base64` compute it from the same string:
    /// `base64.b64encode(hmac.new(base64.b64decode(KEY), s.encode(),
    /// 'sha256').digest())`.
    #[test]
    fn signature_matches_an_independent_hmac() {
        let put = create_container(&HEADERS);
        assert_eq!(
            put.authorization(AZURITE_ACCOUNT, AZURITE_ACCESS_KEY),
            "SharedKey devstoreaccount1:UNY3xIzTxOkEgDGDCaiOKGEDN1Og06Ft+4i+hGZnYMQ="
        );
    }
}
