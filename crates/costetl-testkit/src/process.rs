//! A spawned server process: readiness polling, HTTP access, and stopping it
//! on drop.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::http::{self, Access, encode_component};
use crate::openmetrics::Summary;
use crate::{REQUEST_TIMEOUT, TestkitError};

/// How long a server gets to exit after SIGTERM before it is SIGKILLed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How many fresh ports to try when the chosen one was taken between
/// [`crate::free_port`] and the server binding it.
pub(crate) const PORT_ATTEMPTS: usize = 3;

/// A running server child process. Dropping it stops the process.
pub(crate) struct ServerProcess {
    kind: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
    /// TLS and credentials for the testkit's own requests.
    access: Access,
    /// Path prefix every API path sits under (`/prometheus`), or empty.
    prefix: String,
}

impl ServerProcess {
    /// Spawns `program args` in `cwd` with stdout and stderr going to `log`
    /// (truncated first).
    pub fn spawn(
        kind: &'static str,
        program: &Path,
        args: &[OsString],
        cwd: &Path,
        log: &Path,
        port: u16,
    ) -> Result<Self, TestkitError> {
        let io = |what: &str| {
            let context = format!("{what} for {}", program.display());
            move |source| TestkitError::Io { context, source }
        };
        let out = File::create(log).map_err(io("creating the log file"))?;
        let err = out.try_clone().map_err(io("cloning the log file handle"))?;
        let child = Command::new(program)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io("spawning"))?;
        Ok(Self {
            kind,
            child,
            port,
            log: log.to_owned(),
            access: Access::default(),
            prefix: String::new(),
        })
    }

    /// Reach the server with `access` under path `prefix` (no trailing
    /// slash) from now on.
    pub fn with_access(mut self, access: Access, prefix: &str) -> Self {
        self.access = access;
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// The port the server was told to listen on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http(s)://127.0.0.1:<port>[<prefix>]`.
    pub fn url(&self) -> String {
        format!(
            "{}://127.0.0.1:{}{}",
            self.access.scheme(),
            self.port,
            self.prefix
        )
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        tail_of_file(&self.log)
    }

    /// `GET path_and_query`, status and body.
    pub fn get(&self, path_and_query: &str) -> Result<(u16, String), TestkitError> {
        let full = format!("{}{path_and_query}", self.prefix);
        http::request(&self.access, self.port, "GET", &full, None, REQUEST_TIMEOUT).map_err(
            |source| TestkitError::Http {
                method: "GET",
                url: format!("{}{path_and_query}", self.url()),
                source,
            },
        )
    }

    /// `method path_and_query` with `headers` and `body`: status and body,
    /// whatever the status.
    pub fn request(
        &self,
        method: &'static str,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<(u16, String), TestkitError> {
        let full = format!("{}{path_and_query}", self.prefix);
        http::request_with_headers(
            &self.access,
            self.port,
            method,
            &full,
            headers,
            body,
            REQUEST_TIMEOUT,
        )
        .map_err(|source| TestkitError::Http {
            method,
            url: format!("{}{path_and_query}", self.url()),
            source,
        })
    }

    /// `POST path` with `body`; any status but `expect` is an error.
    pub fn post(&self, path: &str, body: &[u8], expect: u16) -> Result<String, TestkitError> {
        let url = format!("{}{path}", self.url());
        let full = format!("{}{path}", self.prefix);
        let (status, text) = http::request(
            &self.access,
            self.port,
            "POST",
            &full,
            Some(body),
            REQUEST_TIMEOUT,
        )
        .map_err(|source| TestkitError::Http {
            method: "POST",
            url: url.clone(),
            source,
        })?;
        if status == expect {
            Ok(text)
        } else {
            Err(TestkitError::HttpStatus {
                method: "POST",
                url,
                status,
                body: text,
            })
        }
    }

    /// Polls `probe` until it returns `Ok(())`, the process exits, or
    /// `deadline` passes. `probe`'s `Err` describes what it saw, for the
    /// timeout error.
    pub fn wait_until(
        &mut self,
        deadline: Instant,
        started: Instant,
        waiting_for: &'static str,
        mut probe: impl FnMut(&Self) -> Result<(), String>,
    ) -> Result<(), TestkitError> {
        // Start fast (the servers are usually up within ~100 ms) and back off
        // so a slow CI machine is not hammered.
        let mut pause = Duration::from_millis(10);
        loop {
            self.ensure_running()?;
            let last_seen = match probe(self) {
                // Checked again: if our server died on a taken port, the
                // answer may have come from whoever holds that port.
                Ok(()) => return self.ensure_running(),
                Err(seen) => seen,
            };
            if Instant::now() >= deadline {
                return Err(TestkitError::Timeout {
                    server: self.kind,
                    url: self.url(),
                    waited: started.elapsed(),
                    waiting_for,
                    last_seen,
                    stderr_tail: self.log_tail(),
                });
            }
            sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// A readiness probe: `Ok` once `GET path` answers 200.
    pub fn expect_200(&self, path: &str) -> Result<(), String> {
        match self.get(path) {
            Ok((200, _)) => Ok(()),
            Ok((status, body)) => Err(format!("{path} answered {status}: {}", body.trim())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// How many samples of `summary`'s time range the server holds, counted
    /// by the server's own query engine; `Err` describes a failed query.
    pub fn stored_samples(&self, summary: &Summary) -> Result<u64, String> {
        let path = format!(
            "/api/v1/query?query={}&time={}",
            encode_component(&summary.count_query()),
            summary.end_secs()
        );
        match self.get(&path) {
            Ok((200, body)) => first_value(&body)
                .map(|v| v as u64)
                .ok_or_else(|| format!("unexpected count query answer {body}")),
            Ok((status, body)) => Err(format!("count query answered {status}: {body}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// An error if the process has exited.
    fn ensure_running(&mut self) -> Result<(), TestkitError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(TestkitError::ServerExited {
                server: self.kind,
                url: self.url(),
                status: status.to_string(),
                stderr_tail: self.log_tail(),
            }),
            Err(source) => Err(TestkitError::Io {
                context: format!("checking on {} (pid {})", self.kind, self.pid()),
                source,
            }),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SIGTERM first so the server shuts down cleanly (and says so in its
        // log). std can only SIGKILL and `unsafe` (libc::kill) is forbidden
        // in this workspace, hence the `kill` command. The pid cannot have
        // been reused: the child is not reaped until `try_wait`/`wait`.
        let termed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if termed {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                match self.child.try_wait() {
                    Ok(None) => sleep(Duration::from_millis(10)),
                    Ok(Some(_)) => return,
                    Err(_) => break,
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh temporary directory `costetl-testkit-<kind>-…` for a server's
/// data, configuration and log.
pub(crate) fn temp_dir(kind: &str) -> Result<tempfile::TempDir, TestkitError> {
    tempfile::Builder::new()
        .prefix(&format!("costetl-testkit-{kind}-"))
        .tempdir()
        .map_err(|source| TestkitError::Io {
            context: "creating a temporary directory".to_owned(),
            source,
        })
}

/// How to start one server process and know it is up.
pub(crate) struct Launch<'a> {
    /// Server kind, for messages.
    pub kind: &'static str,
    /// The binary.
    pub program: &'a Path,
    /// Working directory.
    pub cwd: &'a Path,
    /// Where stdout and stderr go.
    pub log: &'a Path,
    /// TLS and credentials for the readiness probe and later requests.
    pub access: Access,
    /// Path prefix every API path sits under, or empty.
    pub prefix: &'a str,
    /// The path that answers 200 once the server is ready.
    pub ready_path: &'static str,
    /// What the wait is for, in a timeout error.
    pub waiting_for: &'static str,
    /// When starting began, and when to give up.
    pub started: Instant,
    /// See `started`.
    pub deadline: Instant,
}

impl Launch<'_> {
    /// Spawns the server with `args(port)` on a free loopback port and
    /// waits until `ready_path` answers 200, trying another port (up to
    /// [`PORT_ATTEMPTS`]) when the chosen one was taken meanwhile.
    pub fn start(
        &self,
        args: impl Fn(u16) -> Vec<OsString>,
    ) -> Result<ServerProcess, TestkitError> {
        self.start_probing(args, |p| p.expect_200(self.ready_path))
    }

    /// As [`Launch::start`], with readiness told by `probe` rather than by
    /// `ready_path` answering 200: for a server that answers nothing
    /// unsigned (Azurite).
    pub fn start_probing(
        &self,
        args: impl Fn(u16) -> Vec<OsString>,
        probe: impl Fn(&ServerProcess) -> Result<(), String>,
    ) -> Result<ServerProcess, TestkitError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = crate::free_port()?;
            let mut process = ServerProcess::spawn(
                self.kind,
                self.program,
                &args(port),
                self.cwd,
                self.log,
                port,
            )?
            .with_access(self.access.clone(), self.prefix);
            match process.wait_until(self.deadline, self.started, self.waiting_for, &probe) {
                Ok(()) => return Ok(process),
                Err(e) if attempt < PORT_ATTEMPTS && port_taken(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether `err` says the server could not bind its port, which is worth a
/// retry on another port.
pub(crate) fn port_taken(err: &TestkitError) -> bool {
    matches!(err, TestkitError::ServerExited { stderr_tail, .. }
        if stderr_tail.contains("address already in use"))
}

/// The value of the first sample of an instant query's JSON answer; 0 for
/// an empty result (`sum` over nothing).
///
/// Plain string search, to keep this crate free of a JSON dependency: the
/// answer to the count query is one of exactly two shapes.
fn first_value(body: &str) -> Option<f64> {
    if body.contains(r#""result":[]"#) {
        return Some(0.0);
    }
    let after = &body[body.find(r#""value":["#)?..];
    let start = after.find(",\"")? + 2;
    let len = after[start..].find('"')?;
    after[start..start + len].parse().ok()
}

/// Writes a file into a server's temporary directory.
pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), TestkitError> {
    std::fs::write(path, contents).map_err(|source| TestkitError::Io {
        context: format!("writing {}", path.display()),
        source,
    })
}

/// Runs a helper command to completion, turning failure into
/// [`TestkitError::CommandFailed`] with its output's tail.
pub(crate) fn run_command(program: &Path, args: &[OsString]) -> Result<(), TestkitError> {
    let command = std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| TestkitError::Io {
            context: format!("running `{command}`"),
            source,
        })?;
    if output.status.success() {
        return Ok(());
    }
    // promtool prints its error to stderr, but keep stdout too: the block
    // table it printed shows how far it got.
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(TestkitError::CommandFailed {
        command,
        status: output.status.to_string(),
        stderr_tail: tail_of_str(&text),
    })
}

/// The last lines of a log file, or a note why there are none.
fn tail_of_file(path: &Path) -> String {
    const MAX_BYTES: u64 = 8 * 1024;
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => tail_of_str(&text),
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// The last few lines of `text`, indented so they stand out in a panic
/// message.
fn tail_of_str(text: &str) -> String {
    const MAX_LINES: usize = 25;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "  (empty)".to_owned();
    }
    lines[lines.len().saturating_sub(MAX_LINES)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_count_answers() {
        let one = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1699920060.5,"4"]}]}}"#;
        assert_eq!(first_value(one), Some(4.0));
        let none = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(first_value(none), Some(0.0));
        assert_eq!(first_value(r#"{"status":"error"}"#), None);
    }

    #[test]
    fn tail_keeps_last_lines() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let tail = tail_of_str(&text);
        assert!(tail.starts_with("  line 75\n"), "{tail}");
        assert!(tail.ends_with("  line 99"), "{tail}");
        assert_eq!(tail_of_str("\n\n"), "  (empty)");
    }

    #[test]
    fn failed_command_reports_output() {
        let err = run_command(
            Path::new("sh"),
            &["-c".into(), "echo out; echo boom >&2; exit 3".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`sh -c echo out; echo boom >&2; exit 3` failed"),
            "{err}"
        );
        assert!(
            err.contains("exit status: 3") && err.contains("boom"),
            "{err}"
        );
    }
}
