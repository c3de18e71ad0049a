//! A loopback HTTP server for what real backends will not do on demand
//! (429 with `Retry-After`, AMP's 413 text, stalls, truncated bodies,
//! resets), which also records every request it gets; and small helpers.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use costetl_core::promjson::QueryResult;
use costetl_core::source::{QueryKind, QuerySpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `POST`, `GET`.
    pub method: String,
    /// Path and query string, as sent.
    pub target: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of form or query parameter `key`, decoded.
    pub fn params(&self, key: &str) -> Vec<String> {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        [query, self.body.as_str()]
            .iter()
            .flat_map(|s| s.split('&'))
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| decode(k) == key)
            .map(|(_, v)| decode(v))
            .collect()
    }

    pub fn param(&self, key: &str) -> Option<String> {
        let mut all = self.params(key);
        assert!(all.len() <= 1, "{key} sent {} times: {all:?}", all.len());
        all.pop()
    }
}

/// `application/x-www-form-urlencoded` decoding.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Send {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request and never answer.
    Hang,
    /// Send the headers and half the body, then never send the rest.
    StallBody(Vec<u8>),
    /// Announce the whole body, send half of it, close.
    Truncate(Vec<u8>),
    /// Close the connection with a TCP reset instead of answering.
    Reset,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Self {
        Self::with(status, "application/json", body)
    }

    pub fn with(status: u16, content_type: &str, body: &str) -> Self {
        Self::Send {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Self::Send { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

type Handler =
    Arc<dyn Fn(Recorded, usize) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// The server. Answers each connection's one request with the handler's
/// reply (`connection: close`); stops when dropped.
pub struct FaultServer {
    pub url: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultServer {
    /// A server answering request number `i` (from 0) with `reply(&req, i)`.
    pub async fn start(reply: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        let reply = Arc::new(reply);
        Self::start_async(Arc::new(move |r, i| {
            let out = reply(&r, i);
            Box::pin(async move { out })
        }))
        .await
    }

    /// Always the same reply.
    pub async fn always(reply: Reply) -> Self {
        Self::start(move |_, _| reply.clone()).await
    }

    /// The replies in order; the last one repeats.
    pub async fn script(replies: Vec<Reply>) -> Self {
        Self::start(move |_, i| replies[i.min(replies.len() - 1)].clone()).await
    }

    /// A server whose handler may wait (for the concurrency test).
    pub async fn start_async(handler: Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, handler, seen).await;
                });
            }
        });
        Self { url, seen, task }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: Handler,
    seen: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut parts = line.split(' ');
    let request = Recorded {
        method: parts.next().unwrap_or_default().to_owned(),
        target: parts.next().unwrap_or_default().to_owned(),
        headers,
        body: String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned(),
    };
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(request.clone());
        seen.len() - 1
    };
    let head = |status: u16, headers: &[(String, String)], len: usize| {
        let mut h =
            format!("HTTP/1.1 {status} X\r\ncontent-length: {len}\r\nconnection: close\r\n");
        for (k, v) in headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str("\r\n");
        h
    };
    let json = [("content-type".to_owned(), "application/json".to_owned())];
    match handler(request, index).await {
        Reply::Send {
            status,
            headers,
            body,
        } => {
            stream
                .write_all(head(status, &headers, body.len()).as_bytes())
                .await?;
            stream.write_all(&body).await?;
            stream.shutdown().await?;
        }
        Reply::Hang => std::future::pending::<()>().await,
        Reply::StallBody(body) => {
            stream
                .write_all(head(200, &json, body.len()).as_bytes())
                .await?;
            stream.write_all(&body[..body.len() / 2]).await?;
            stream.flush().await?;
            std::future::pending::<()>().await;
        }
        Reply::Truncate(body) => {
            stream
                .write_all(head(200, &json, body.len()).as_bytes())
                .await?;
            stream.write_all(&body[..body.len() / 2]).await?;
            stream.shutdown().await?;
        }
        Reply::Reset => {
            stream.set_zero_linger()?;
            drop(stream);
        }
    }
    Ok(())
}

pub const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"namespace":"a"},"value":[1700000000,"0.25"]}]}}"#;

pub fn instant_query() -> QuerySpec {
    QuerySpec {
        id: "cpu".into(),
        promql: "sum by (namespace) (rate(container_cpu_usage_seconds_total{container!=\"\"}[5m]))"
            .into(),
        kind: QueryKind::Instant {
            time: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        },
    }
}

/// Fast retries for tests: 5 ms, doubling, at most 50 ms.
pub fn quick_retries(cfg: &mut costetl_prom::PromConfig) {
    cfg.retry.initial_backoff = Duration::from_millis(5);
    cfg.retry.max_backoff = Duration::from_millis(50);
}

/// Bounds a test's wait for something that must not hang.
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("did not finish within 60 s")
}

/// Same series (in any order), bit for bit the same samples, and the
/// same warnings.
pub fn assert_same(got: &QueryResult, want: &QueryResult) {
    assert_eq!(got.result_type, want.result_type);
    assert_eq!(got.series.len(), want.series.len());
    let sorted = |r: &QueryResult| {
        let mut s = r.series.clone();
        s.sort_by(|a, b| a.labels.cmp(&b.labels));
        s
    };
    for (g, w) in sorted(got).iter().zip(&sorted(want)) {
        assert_eq!(g.labels, w.labels);
        assert_eq!(g.samples.len(), w.samples.len(), "{:?}", g.labels);
        for (gs, ws) in g.samples.iter().zip(&w.samples) {
            assert_eq!(gs.0.to_bits(), ws.0.to_bits());
            assert_eq!(gs.1.to_bits(), ws.1.to_bits(), "{:?} at {}", g.labels, gs.0);
        }
    }
    assert_eq!(got.warnings, want.warnings);
}
