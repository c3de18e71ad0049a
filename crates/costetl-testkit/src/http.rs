//! Just enough HTTP/1.0 to talk to a server on `127.0.0.1`, over plain TCP
//! or TLS.
//!
//! HTTP/1.0 with `Connection: close` keeps the client trivial: the server
//! (Go's net/http for both backends) must not use chunked encoding for a
//! 1.0 request and marks the end of the body by closing the connection, so
//! reading to EOF yields the whole response.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// How the testkit's own requests reach a server: TLS client settings and
/// an `Authorization` header, for servers started with a web config.
#[derive(Clone, Default)]
pub(crate) struct Access {
    /// Speak TLS with this configuration.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Send this `Authorization` header.
    pub authorization: Option<String>,
}

impl Access {
    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// The `Content-Type` of every request body the testkit sends (a signed
/// request must name it in what it signs).
pub(crate) const BODY_CONTENT_TYPE: &str = "text/plain";

/// Sends one request to `127.0.0.1:<port>` and returns status and body.
///
/// The body is decoded lossily: the APIs used answer in UTF-8 JSON or text.
pub(crate) fn request(
    access: &Access,
    port: u16,
    method: &str,
    path_and_query: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    request_with_headers(access, port, method, path_and_query, &[], body, timeout)
}

/// As [`request`], with `headers` (name, value) added: what a signed
/// request (Azure's SharedKey) needs.
pub(crate) fn request_with_headers(
    access: &Access,
    port: u16,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    let mut head = format!(
        "{method} {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    );
    if let Some(auth) = &access.authorization {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: {BODY_CONTENT_TYPE}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut raw = Vec::new();
    match &access.tls {
        None => exchange(stream, head.as_bytes(), body, &mut raw)?,
        Some(config) => {
            let name = rustls::pki_types::ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
            let conn = rustls::ClientConnection::new(config.clone(), name)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let tls = rustls::StreamOwned::new(conn, stream);
            exchange(tls, head.as_bytes(), body, &mut raw)?;
        }
    }
    parse_response(&raw)
}

/// Writes the request, reads the response to EOF. A TLS peer that closes
/// without `close_notify` after sending a response still counts as EOF.
fn exchange(
    mut stream: impl Read + Write,
    head: &[u8],
    body: Option<&[u8]>,
    raw: &mut Vec<u8>,
) -> io::Result<()> {
    stream.write_all(head)?;
    if let Some(body) = body {
        stream.write_all(body)?;
    }
    stream.flush()?;
    match stream.read_to_end(raw) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !raw.is_empty() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Standard base64 with padding (for a basic auth header).
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Splits a raw HTTP/1.x response into status code and body.
fn parse_response(raw: &[u8]) -> io::Result<(u16, String)> {
    let invalid = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{what} in response starting {:?}",
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            ),
        )
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(invalid("no status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(invalid("not HTTP/1.x"));
    }
    let status = code.parse().map_err(|_| invalid("bad status code"))?;
    // Guard the "no chunked encoding for HTTP/1.0" assumption rather than
    // returning chunk-size lines mixed into the body.
    if head.lines().any(|l| {
        l.to_ascii_lowercase()
            .replace(' ', "")
            .starts_with("transfer-encoding:chunked")
    }) {
        return Err(invalid("unexpected chunked encoding"));
    }
    let body = String::from_utf8_lossy(&raw[split + 4..]).into_owned();
    Ok((status, body))
}

/// Percent-encodes `s` for use as one query-string value, e.g. a PromQL
/// expression in `/api/v1/query?query=`.
///
/// Everything but RFC 3986's unreserved characters is encoded, so `+`, `&`,
/// `=`, `{`, `"` and spaces in an expression survive intact.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let raw =
            b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nnot ready\r\n";
        let (status, body) = parse_response(raw).unwrap();
        assert_eq!(status, 503);
        assert_eq!(body, "not ready\r\n");
    }

    #[test]
    fn rejects_chunked_and_garbage() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        assert!(parse_response(chunked).is_err());
        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(b"SSH-2.0 x\r\n\r\n").is_err());
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"alice:s3cret"), "YWxpY2U6czNjcmV0");
    }

    #[test]
    fn encodes_promql() {
        assert_eq!(
            encode_component(r#"sum(rate(x{a="b c"}[5m])) + 1"#),
            "sum%28rate%28x%7Ba%3D%22b%20c%22%7D%5B5m%5D%29%29%20%2B%201"
        );
        assert_eq!(encode_component("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(encode_component("é"), "%C3%A9");
    }
}
