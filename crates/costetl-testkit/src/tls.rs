//! Certificates made at test time, and the web configurations that make a
//! test server speak TLS, demand client certificates or basic auth.
//!
//! [`TestPki`] is a throw-away CA with a server certificate for
//! `127.0.0.1`/`localhost`, a client certificate, and a second, unrelated
//! CA (to show that an untrusted chain is refused). [`WebConfig`] turns
//! parts of it into Prometheus' `--web.config.file`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::TestkitError;

/// A CA, a server certificate signed by it (valid for `127.0.0.1`, `::1`
/// and `localhost`), a client certificate signed by it, and an unrelated
/// CA. All PEM.
#[derive(Clone)]
pub struct TestPki {
    /// The CA certificate that signed both leaf certificates.
    pub ca_pem: String,
    /// The server certificate.
    pub server_cert_pem: String,
    /// The server certificate's private key.
    pub server_key_pem: String,
    /// The client certificate (for mTLS).
    pub client_cert_pem: String,
    /// The client certificate's private key.
    pub client_key_pem: String,
    /// A CA that signed nothing here: trusting only it must fail.
    pub other_ca_pem: String,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestPki { .. }")
    }
}

/// Where [`TestPki::write`] put the files.
#[derive(Clone, Debug)]
pub struct PkiFiles {
    /// `ca.pem`
    pub ca: PathBuf,
    /// `server.pem`
    pub server_cert: PathBuf,
    /// `server-key.pem`
    pub server_key: PathBuf,
    /// `client.pem`
    pub client_cert: PathBuf,
    /// `client-key.pem`
    pub client_key: PathBuf,
    /// `other-ca.pem`
    pub other_ca: PathBuf,
}

fn pki_error(what: &str, e: &rcgen::Error) -> TestkitError {
    TestkitError::InvalidInput {
        reason: format!("generating the test {what}: {e}"),
    }
}

fn new_ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>), TestkitError> {
    let key = KeyPair::generate().map_err(|e| pki_error("CA key", &e))?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params
        .self_signed(&key)
        .map_err(|e| pki_error("CA certificate", &e))?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    name: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), TestkitError> {
    let key = KeyPair::generate().map_err(|e| pki_error("key", &e))?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![usage];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params
        .signed_by(&key, issuer)
        .map_err(|e| pki_error("certificate", &e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl TestPki {
    /// Generates fresh keys and certificates (ECDSA P-256, valid from 1975
    /// to 4096, rcgen's defaults).
    ///
    /// # Errors
    ///
    /// [`TestkitError::InvalidInput`] if generation fails.
    pub fn generate() -> Result<Self, TestkitError> {
        let (ca_pem, issuer) = new_ca("costetl test CA")?;
        let sans = vec![
            SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
            SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
            SanType::DnsName("localhost".try_into().map_err(|e| pki_error("name", &e))?),
        ];
        let (server_cert_pem, server_key_pem) = leaf(
            &issuer,
            "127.0.0.1",
            sans,
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_cert_pem, client_key_pem) = leaf(
            &issuer,
            "costetl-client",
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        let (other_ca_pem, _) = new_ca("unrelated CA")?;
        Ok(Self {
            ca_pem,
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
            other_ca_pem,
        })
    }

    /// Writes every PEM into `dir`.
    ///
    /// # Errors
    ///
    /// [`TestkitError::Io`] if a file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<PkiFiles, TestkitError> {
        let files = PkiFiles {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
            other_ca: dir.join("other-ca.pem"),
        };
        for (path, text) in [
            (&files.ca, &self.ca_pem),
            (&files.server_cert, &self.server_cert_pem),
            (&files.server_key, &self.server_key_pem),
            (&files.client_cert, &self.client_cert_pem),
            (&files.client_key, &self.client_key_pem),
            (&files.other_ca, &self.other_ca_pem),
        ] {
            crate::process::write_file(path, text)?;
        }
        Ok(files)
    }
}

/// What Prometheus' `--web.config.file` should demand.
#[derive(Clone, Debug, Default)]
pub struct WebConfig {
    /// Serve HTTPS with this PKI's server certificate.
    pub tls: Option<TestPki>,
    /// Also require a client certificate signed by the PKI's CA (mTLS).
    pub require_client_cert: bool,
    /// Require HTTP basic auth with this user and password (the testkit
    /// writes the bcrypt hash Prometheus wants).
    pub basic_auth: Option<(String, String)>,
}

impl WebConfig {
    /// The YAML, writing certificate files into `dir`.
    pub(crate) fn render(&self, dir: &Path) -> Result<String, TestkitError> {
        let mut yaml = String::from("# Written by costetl-testkit.\n");
        if let Some(pki) = &self.tls {
            let files = pki.write(dir)?;
            yaml.push_str(&format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
                files.server_cert.display(),
                files.server_key.display()
            ));
            if self.require_client_cert {
                yaml.push_str(&format!(
                    "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
                    files.ca.display()
                ));
            }
        }
        if let Some((user, password)) = &self.basic_auth {
            // Cost 4, bcrypt's minimum: the server checks it on every
            // request, and this is test data.
            let hash = bcrypt::hash(password, 4).map_err(|e| TestkitError::InvalidInput {
                reason: format!("bcrypt: {e}"),
            })?;
            yaml.push_str(&format!("basic_auth_users:\n  {user:?}: {hash:?}\n"));
        }
        Ok(yaml)
    }

    /// How the testkit's own requests get through.
    pub(crate) fn access(&self) -> Result<crate::http::Access, TestkitError> {
        let tls = match &self.tls {
            None => None,
            Some(pki) => Some(Arc::new(client_config(pki, self.require_client_cert)?)),
        };
        let authorization = self.basic_auth.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                crate::http::base64(format!("{u}:{p}").as_bytes())
            )
        });
        Ok(crate::http::Access { tls, authorization })
    }
}

/// A rustls client trusting `pki`'s CA, presenting its client certificate
/// when `client_cert`.
fn client_config(pki: &TestPki, client_cert: bool) -> Result<rustls::ClientConfig, TestkitError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| TestkitError::InvalidInput {
        reason: format!("test TLS client {what}: {e}"),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| bad("CA", &e))?;
        roots.add(cert).map_err(|e| bad("CA", &e))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("versions", &e))?
        .with_root_certificates(roots);
    if client_cert {
        let chain = CertificateDer::pem_slice_iter(pki.client_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("certificate", &e))?;
        let key = PrivateKeyDer::from_pem_slice(pki.client_key_pem.as_bytes())
            .map_err(|e| bad("key", &e))?;
        builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad("certificate", &e))
    } else {
        Ok(builder.with_no_client_auth())
    }
}
