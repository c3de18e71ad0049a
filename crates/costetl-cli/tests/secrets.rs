//! Secrets never print: every way a user hands costetl a credential (URL
//! userinfo, a token in the URL's query, a configured header, the S3
//! session token, a config file line) against every way a command fails
//! (refused connection, a server echoing the request, an invalid URL, a bad
//! config file), with stdout and stderr searched for each secret and its
//! base64 form. Only 127.0.0.1 is contacted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

const PASSWORD: &str = "Pw0rdInUrl4321";
const QUERY_TOKEN: &str = "QueryTok9876xyz";
const API_KEY: &str = "ApiKeyHeader5555";
const SESSION_TOKEN: &str = "S3SessionTok7777";
const FILE_SECRET: &str = "FileLineSecret3333";
const WINDOW: &str = "2023-11-14T00:00:00Z,2023-11-14T02:00:00Z";

fn costetl(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_costetl"));
    c.args(args)
        .env_remove("PROMETHEUS_SERVER_ENDPOINT")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("the costetl binary runs")
}

fn base64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | u32::from(x) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Fails unless `o` failed and none of `secrets` (nor their base64) is in
/// its output.
#[track_caller]
fn assert_failed_without(o: &Output, secrets: &[&str], what: &str) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "{what}: expected a failure: {text}");
    for s in secrets {
        assert!(!text.contains(s), "{what}: {s} printed: {text}");
        assert!(
            !text.contains(&base64(s)),
            "{what}: base64 of {s} printed: {text}"
        );
        let userinfo = base64(&format!("alice:{s}"));
        assert!(
            !text.contains(&userinfo),
            "{what}: basic auth printed: {text}"
        );
    }
}

/// A loopback server answering every request with HTTP 500 and the
/// request itself as the body, as some gateways do; stops after `n`.
fn echo_server(n: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                request.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            request.push_str(&String::from_utf8_lossy(&body));
            let reply = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{request}",
                request.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    url
}

#[test]
fn url_passwords_and_query_tokens_never_print() {
    let refused = format!("http://alice:{PASSWORD}@127.0.0.1:1");
    let o = costetl(
        &["allocation", "--prometheus", &refused, "--window", WINDOW],
        &[],
    );
    assert_failed_without(&o, &[PASSWORD], "refused connection");

    let unparsable = format!("http://alice:{PASSWORD}@[::1");
    let o = costetl(
        &[
            "allocation",
            "--prometheus",
            &unparsable,
            "--window",
            WINDOW,
        ],
        &[],
    );
    assert_failed_without(&o, &[PASSWORD], "invalid URL");

    let no_scheme = format!("alice:{PASSWORD}@127.0.0.1:1");
    let o = costetl(
        &["allocation", "--prometheus", &no_scheme, "--window", WINDOW],
        &[],
    );
    assert_failed_without(&o, &[PASSWORD], "URL without a scheme");

    let token = format!("http://127.0.0.1:1/?token={QUERY_TOKEN}");
    let o = costetl(
        &["allocation", "--prometheus", &token, "--window", WINDOW],
        &[],
    );
    assert_failed_without(&o, &[QUERY_TOKEN], "token in the query");

    // A gateway echoing the request (Authorization header included).
    let echo = echo_server(50);
    let echoing = echo.replace("http://", &format!("http://alice:{PASSWORD}@"));
    let o = costetl(&["diagnose", "--prometheus", &echoing], &[]);
    assert_failed_without(&o, &[PASSWORD], "echoing gateway (diagnose)");
    let o = costetl(
        &["allocation", "--prometheus", &echoing, "--window", WINDOW],
        &[],
    );
    assert_failed_without(&o, &[PASSWORD], "echoing gateway (allocation)");
}

#[test]
fn configured_headers_session_tokens_and_config_lines_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let echo = echo_server(50);
    let config = dir.path().join("costetl.toml");
    std::fs::write(
        &config,
        format!(
            "[prometheus]\nurl = \"{echo}\"\n[prometheus.headers]\nX-Api-Key = \"{API_KEY}\"\n\
             X-Scope-OrgID = \"tenant-a\"\n\
             [store]\nurl = \"s3://bucket/fleet\"\n[store.s3]\nregion = \"eu-west-1\"\n\
             endpoint = \"http://127.0.0.1:1\"\nallow_http = true\naccess_key_id = \"AKIDEXAMPLE\"\n\
             secret_access_key = \"{SESSION_TOKEN}Secret\"\nsession_token = \"{SESSION_TOKEN}\"\n"
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let o = costetl(&["allocation", "--config", cfg, "--window", WINDOW], &[]);
    assert_failed_without(&o, &[API_KEY], "echoed header");
    let o = costetl(&["etl", "status", "--config", cfg], &[]);
    assert_failed_without(&o, &[SESSION_TOKEN], "S3 store unreachable");

    let bad = dir.path().join("bad.toml");
    for (line, what) in [
        (
            format!("concurrency = \"{FILE_SECRET}\""),
            "mistyped config value",
        ),
        (
            format!("password = \"{FILE_SECRET}"),
            "config line that does not parse",
        ),
    ] {
        std::fs::write(
            &bad,
            format!("[prometheus]\nurl = \"http://127.0.0.1:1\"\n{line}\n"),
        )
        .unwrap();
        let cfg = bad.to_str().unwrap();
        let o = costetl(&["allocation", "--config", cfg, "--window", WINDOW], &[]);
        assert_failed_without(&o, &[FILE_SECRET], what);
    }
}
