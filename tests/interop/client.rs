use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one request may take before it counts as failed: far above any stall the matrix
/// looks for (a start-up of 800 ms), far below "hung".
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What one request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP 200 whose body is `pid=… version=… server=…`.
    Answer {
        pid: i32,
        version: String,
        server: String,
    },
    /// ECONNREFUSED: nothing held the socket.
    Refused,
    /// Anything else: a reset, a timeout, an odd answer.
    Failed(String),
}

/// One request: when it started (since the client started), how long it took, what it got.
#[derive(Debug, Clone)]
pub struct Record {
    pub at: Duration,
    pub took: Duration,
    pub outcome: Outcome,
}

/// One GET request, answered or not.
pub fn request(addr: SocketAddr) -> Outcome {
    match try_request(addr) {
        Ok(outcome) => outcome,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Outcome::Refused,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn try_request(addr: SocketAddr) -> std::io::Result<Outcome> {
    let mut stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(parse(&String::from_utf8_lossy(&response)))
}

fn parse(response: &str) -> Outcome {
    let odd = || Outcome::Failed(format!("odd answer {:?}", truncate(response)));
    let Some((head, body)) = response.split_once("\r\n\r\n") else {
        return odd();
    };
    if !(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200")) {
        return odd();
    }
    let field = |key: &str| {
        body.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    match (
        field("pid").and_then(|p| p.parse().ok()),
        field("version"),
        field("server"),
    ) {
        (Some(pid), Some(version), Some(server)) => Outcome::Answer {
            pid,
            version: version.to_owned(),
            server: server.to_owned(),
        },
        _ => odd(),
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(120).collect()
}

/// A client thread sending a request every 10 ms until [`Client::stop`].
pub struct Client {
    records: Arc<Mutex<Vec<Record>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Client {
    pub fn start(addr: SocketAddr) -> Client {
        let records = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, stopped) = (records.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            // Bounded even if a test forgets to stop it.
            while !stopped.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(300) {
                let at = start.elapsed();
                let outcome = request(addr);
                let took = start.elapsed() - at;
                sink.lock().unwrap().push(Record { at, took, outcome });
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Client {
            records,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until some request was answered by an instance of `version` (bounded); its pid.
    #[track_caller]
    pub fn wait_version(&self, version: &str) -> i32 {
        let deadline = Instant::now() + crate::support::DEADLINE;
        loop {
            let found = self
                .records
                .lock()
                .unwrap()
                .iter()
                .find_map(|r| match &r.outcome {
                    Outcome::Answer {
                        pid, version: v, ..
                    } if v == version => Some(*pid),
                    _ => None,
                });
            if let Some(pid) = found {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "no answer from version {version}; last records: {:?}",
                self.records
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the client and returns every record.
    pub fn stop(mut self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the client thread");
        }
        std::mem::take(&mut *self.records.lock().unwrap())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a run of requests adds up to.
#[derive(Debug)]
pub struct Summary {
    pub requests: usize,
    pub refused: usize,
    pub failed: Vec<Record>,
    pub slowest: Vec<Record>,
}

impl Summary {
    pub fn of(records: &[Record]) -> Summary {
        let mut slowest = records.to_vec();
        slowest.sort_by_key(|r| std::cmp::Reverse(r.took));
        slowest.truncate(5);
        Summary {
            requests: records.len(),
            refused: records
                .iter()
                .filter(|r| r.outcome == Outcome::Refused)
                .count(),
            failed: records
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
                .cloned()
                .collect(),
            slowest,
        }
    }

    pub fn slowest(&self) -> Duration {
        self.slowest.first().map_or(Duration::ZERO, |r| r.took)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} requests, {} refused, {} failed, slowest {:.1} ms",
            self.requests,
            self.refused,
            self.failed.len(),
            self.slowest().as_secs_f64() * 1000.0
        )?;
        for r in self.failed.iter().take(5) {
            writeln!(
                f,
                "  failed at {:?} after {:?}: {:?}",
                r.at, r.took, r.outcome
            )?;
        }
        for r in &self.slowest {
            writeln!(f, "  slow at {:?}: {:?} {:?}", r.at, r.took, r.outcome)?;
        }
        Ok(())
    }
}

#[test]
fn answers_are_parsed_and_odd_ones_fail() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 30\r\n\r\npid=12 version=3 server=node\n";
    assert_eq!(
        parse(ok),
        Outcome::Answer {
            pid: 12,
            version: "3".into(),
            server: "node".into()
        }
    );
    for odd in [
        "",
        "HTTP/1.1 500 Oops\r\n\r\npid=1 version=1 server=x",
        "HTTP/1.0 200 OK\r\n\r\nhello",
    ] {
        assert!(matches!(parse(odd), Outcome::Failed(_)), "{odd:?}");
    }
}
