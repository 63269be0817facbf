//! A real browser against a real server under hot: headless Chromium driven over WebDriver
//! (chromedriver). The page reloads by itself after an edit, a failing check leaves the old
//! text with a banner that names it, a fix reloads and removes the banner, and a first build that
//! fails gives the 503 page, which follows the build's output live and becomes the app once the
//! fix lands; meanwhile a client keeps requesting the app and no request fails.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`; `.ci/run`
//! installs them). Outside CI the test skips when they are missing; under `CI=true` it fails.
//! `HOT_SCREENSHOTS=DIR` saves PNGs of the 503 page and the banner there.
#![cfg(unix)]

#[path = "common/ci.rs"]
mod ci;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(90);

/// A process group killed when dropped (chromedriver and its Chromium, hot and its servers).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY: signalling our own child's process group.
        unsafe {
            libc::kill(-pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn spawn_group(command: &mut Command) -> Group {
    use std::os::unix::process::CommandExt;
    Group(command.process_group(0).spawn().expect("spawn"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn found(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// The app page: the text in `#app`, and the one script line the README shows.
fn page(dir: &Path, text: &str, reload: u16) {
    let html = format!(
        "<!doctype html><html><head><title>app</title></head><body><h1 id=\"app\">{text}</h1>\
         <script src=\"http://127.0.0.1:{reload}/hot.js\"></script></body></html>\n"
    );
    std::fs::write(dir.join("index.html"), html).expect("write index.html");
}

const SERVER: &str = r#"
import http.server, signal, socket, sys, threading
class Handler(http.server.SimpleHTTPRequestHandler):
    # An idle connection (a browser's preconnect) holds a stop up this long at most.
    timeout = 2
    def log_message(self, *args): pass
    # A crash that loses no request (see the end).
    def do_GET(self):
        if self.path == "/crash":
            self.server.crashed = True
            threading.Thread(target=self.server.shutdown).start()
            self.send_error(500, "crashing")
            return
        super().do_GET()
    # Edits land within a second of each other; Last-Modified has 1 s resolution.
    def send_head(self):
        del self.headers["If-Modified-Since"]
        return super().send_head()
    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = socket.socket(fileno=3)
server.crashed = False
# Stopped or crashing, it stops accepting and answers every connection it accepted before it
# exits, as a server under hot should: Python's default, dying at SIGTERM, resets them, and
# those would count against hot. server_close() waits only for non-daemon threads.
server.daemon_threads = False
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print("serving", flush=True)
server.serve_forever()
server.server_close()
sys.exit(1 if server.crashed else 0)
"#;

/// A check that fails while the page says BROKEN, and the Python server after it.
fn write_project(dir: &Path, app: u16, reload: u16) {
    std::fs::write(dir.join("server.py"), SERVER).unwrap();
    std::fs::write(
        dir.join("Hotfile"),
        format!(
            r#"
task "check" {{
    watch "index.html"
    run "if grep -q BROKEN index.html; then echo 'check: <b>BROKEN</b> in index.html'; grep -o 'BROKEN[0-9]*' index.html; exit 1; fi"
}}
service "web" {{
    after "check"
    watch "index.html"
    socket "http" "127.0.0.1:{app}"
    reload "127.0.0.1:{reload}"
    run "python3" "server.py"
    ready log="serving"
}}
"#
        ),
    )
    .unwrap();
}

fn start_hot(dir: &Path) -> (Group, mpsc::Receiver<(Instant, Value)>) {
    let mut hot = Command::new(env!("CARGO_BIN_EXE_hot"));
    hot.args(["--json"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut hot = spawn_group(&mut hot);
    let events = events(&mut hot.0);
    (hot, events)
}

/// The status line and headers of a GET with `origin`.
fn head(port: u16, path: &str, origin: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {origin}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            return head;
        }
        head.push_str(&line);
    }
}

/// LiveReload 7 over `/livereload` (what livereload.js and the extensions speak), and the event
/// stream only for the service's own origins.
#[tokio::test(flavor = "current_thread")]
async fn livereload_7_and_a_stream_for_the_service_origins_only() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (app, reload) = (free_port(), free_port());
    write_project(dir.path(), app, reload);
    page(dir.path(), "one", reload);
    let (_hot, events) = start_hot(dir.path());
    next_ready(&events);

    let own = head(reload, "/events", &format!("http://127.0.0.1:{app}"));
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    assert!(
        own.contains(&format!(
            "access-control-allow-origin: http://127.0.0.1:{app}"
        )),
        "{own}"
    );
    let localhost = head(reload, "/events", &format!("http://localhost:{app}"));
    assert!(localhost.starts_with("HTTP/1.1 200"), "{localhost}");
    let foreign = head(reload, "/events", "http://evil.example:80");
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
    let other_port = head(reload, "/events", &format!("http://127.0.0.1:{}", app ^ 1));
    assert!(other_port.starts_with("HTTP/1.1 403"), "{other_port}");

    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{reload}/livereload"))
            .await
            .expect("a LiveReload connection");
    let hello =
        json!({"command": "hello", "protocols": ["http://livereload.com/protocols/official-7"]});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    let text = |m: Option<Result<Message, _>>| -> Value {
        let m = m.expect("a message").expect("no error");
        serde_json::from_str(m.to_text().expect("text")).expect("JSON")
    };
    let answer = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("hello in time");
    let answer = text(answer);
    assert_eq!(answer["command"], "hello");
    assert_eq!(
        answer["protocols"][0],
        "http://livereload.com/protocols/official-7"
    );

    page(dir.path(), "two", reload);
    let command = text(
        tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("reload in time"),
    );
    assert_eq!(command["command"], "reload", "{command}");
    assert_eq!(command["liveCSS"], true);
}

/// Requests the app every 20 ms; counts what fails (refused, reset, no answer, a status other
/// than 200 or hot's 503).
struct Prober {
    stop: Arc<AtomicBool>,
    failures: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Prober {
    fn start(port: u16) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let (s, f, c) = (stop.clone(), failures.clone(), count.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let result = (|| -> std::io::Result<String> {
                    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
                    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
                    stream.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
                    let mut answer = String::new();
                    stream.read_to_string(&mut answer)?;
                    Ok(answer)
                })();
                c.fetch_add(1, Ordering::Relaxed);
                match result {
                    Ok(answer) if answer.starts_with("HTTP/1.0 200") => {}
                    // hot's page while nothing serves (hyper answers in the request's version).
                    Ok(answer) if answer.starts_with("HTTP/1.0 503") => {}
                    Ok(answer) => f
                        .lock()
                        .unwrap()
                        .push(format!("unexpected answer: {:?}", answer.lines().next())),
                    Err(error) => f.lock().unwrap().push(error.to_string()),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Prober {
            stop,
            failures,
            count,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        (
            self.count.load(Ordering::Relaxed),
            self.failures.lock().unwrap().clone(),
        )
    }
}

/// How a client of the hand-over test talks to the app's socket.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    /// A new connection per request, the request written at once.
    Fresh,
    /// Connects, then writes its request a little later, as a browser's preconnect does: the
    /// connection may be accepted by one server and its request read by whoever holds it then.
    Preconnect,
    /// HTTP/1.1, reusing the connection for as long as the server keeps it open.
    KeepAlive,
}

/// One request of the hand-over test: when its connection was made, whether that connection
/// had carried a request before, and the status it got (or why it got none).
#[derive(Debug)]
struct Record {
    style: Style,
    connected: Instant,
    reused: bool,
    answer: Result<u16, String>,
}

/// Reads one response: its status and whether the server keeps the connection open.
fn read_response(reader: &mut BufReader<TcpStream>) -> Result<(u16, bool), String> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let mut parts = line.split_whitespace();
    let (version, status) = (parts.next(), parts.next().and_then(|s| s.parse().ok()));
    let (Some(version), Some(status)) = (version, status) else {
        return Err(format!("no status line: {line:?}"));
    };
    let (mut length, mut keep) = (None, version == "HTTP/1.1");
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).map_err(|e| e.to_string())? == 0 {
            return Err("the connection closed inside the headers".into());
        }
        let header = header.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("content-length:") {
            length = value.trim().parse::<usize>().ok();
        } else if let Some(value) = header.strip_prefix("connection:") {
            keep = value.trim() == "keep-alive";
        }
    }
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        }
        None => {
            reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
            keep = false;
        }
    }
    Ok((status, keep))
}

/// Requests `/` of `port` in `style` until `stop`, recording every request.
fn client(port: u16, style: Style, stop: Arc<AtomicBool>, records: Arc<Mutex<Vec<Record>>>) {
    let mut open: Option<(BufReader<TcpStream>, Instant)> = None;
    while !stop.load(Ordering::Relaxed) {
        let reused = open.is_some();
        let (mut reader, connected) = match open.take() {
            Some(open) => open,
            None => match TcpStream::connect(("127.0.0.1", port)) {
                Ok(stream) => {
                    let connected = Instant::now();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(30)))
                        .unwrap();
                    (BufReader::new(stream), connected)
                }
                Err(error) => {
                    records.lock().unwrap().push(Record {
                        style,
                        connected: Instant::now(),
                        reused,
                        answer: Err(format!("connect: {error}")),
                    });
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            },
        };
        if style == Style::Preconnect {
            std::thread::sleep(Duration::from_millis(25));
        }
        let request: &[u8] = match style {
            Style::KeepAlive => b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            Style::Fresh | Style::Preconnect => b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
        };
        let answer = reader
            .get_mut()
            .write_all(request)
            .map_err(|e| format!("write: {e}"))
            .and_then(|()| read_response(&mut reader));
        if let Ok((_, true)) = answer {
            open = Some((reader, connected));
        }
        records.lock().unwrap().push(Record {
            style,
            connected,
            reused,
            answer: answer.map(|(status, _)| status),
        });
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `records` hold, for every style, an answer `status` on a connection made after
/// `since`.
fn await_answers(records: &Mutex<Vec<Record>>, status: u16, since: Instant, what: &str) {
    let deadline = Instant::now() + WAIT;
    let styles = [Style::Fresh, Style::Preconnect, Style::KeepAlive];
    loop {
        let seen = {
            let records = records.lock().unwrap();
            styles.iter().all(|style| {
                records.iter().any(|r| {
                    r.style == *style && r.connected > since && r.answer.as_ref() == Ok(&status)
                })
            })
        };
        if seen {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {status} for every client {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The next event named `name`, with when it was read.
fn next_event(events: &mpsc::Receiver<(Instant, Value)>, name: &str) -> (Instant, Value) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, event) = events
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {name} event in time"));
        if event["event"] == name {
            return (at, event);
        }
    }
}

/// The hand-over between hot's 503 page and the server, twice (a first build that fails, then
/// a crash), under clients of every style: each request gets an answer, 200 or 503, and no
/// connection made while an instance serves is answered by hot. (A connection hot had accepted
/// used to be closed unanswered when it stopped answering.)
#[test]
fn a_request_accepted_by_the_503_page_at_release_is_answered() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (app, reload) = (free_port(), free_port());
    write_project(dir.path(), app, reload);
    page(dir.path(), "BROKEN", reload);
    let (_hot, events) = start_hot(dir.path());
    let (_, finished) = next_event(&events, "node_finished");
    assert_eq!(finished["node"], "check");
    assert_eq!(finished["ok"], false, "the first build fails: {finished}");

    let stop = Arc::new(AtomicBool::new(false));
    let records = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = [Style::Fresh, Style::Preconnect, Style::KeepAlive]
        .into_iter()
        .flat_map(|style| [style, style])
        .map(|style| {
            let (stop, records) = (stop.clone(), records.clone());
            std::thread::spawn(move || client(app, style, stop, records))
        })
        .collect();
    let start = Instant::now();
    await_answers(&records, 503, start, "while the first build failed");

    // 1. The fix lands: hot hands the socket to the first instance.
    page(dir.path(), "one", reload);
    let (first_ready, _) = next_event(&events, "service_ready");
    await_answers(&records, 200, first_ready, "once the first instance served");
    // Connections made until now were accepted by the instance before any made after (the
    // backlog is first in, first out): hot must answer none of them, even after the crash.
    let served = Instant::now();
    await_answers(&records, 200, served, "while the first instance served");

    // 2. The server crashes: hot answers during the backoff, then hands the socket over again.
    let mut crashing = TcpStream::connect(("127.0.0.1", app)).expect("connect");
    write!(crashing, "GET /crash HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let (_, down) = next_event(&events, "service_down");
    assert!(down["restart_in_ms"].is_number(), "{down}");
    let (second_ready, _) = next_event(&events, "service_ready");
    await_answers(
        &records,
        200,
        second_ready,
        "once the second instance served",
    );

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let records = records.lock().unwrap();
    let serving = |at: Instant| (first_ready..served).contains(&at) || at > second_ready;
    let wrong: Vec<_> = records
        .iter()
        .filter(|r| match &r.answer {
            Ok(200) => false,
            // hot answers only connections made while nothing served, and never keeps one.
            Ok(503) => serving(r.connected) || r.reused,
            _ => true,
        })
        .collect();
    let count = |status| {
        records
            .iter()
            .filter(|r| r.answer.as_ref() == Ok(&status))
            .count()
    };
    eprintln!(
        "hand-over: {} requests, {} answered 200, {} answered 503",
        records.len(),
        count(200),
        count(503)
    );
    assert!(wrong.is_empty(), "requests not answered right: {wrong:#?}");
}

/// Evaluates `script` in the page until `done` holds for its value; errors (the page is
/// reloading) count as not yet.
async fn wait_for(
    client: &Client,
    what: &str,
    script: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Ok(value) = client.execute(script, vec![]).await {
            if done(&value) {
                return value;
            }
            last = value;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let hot = client
        .execute(
            "return JSON.stringify(window.__hot || null) + ' ' + location.href",
            vec![],
        )
        .await;
    panic!("timed out waiting for {what}; last seen: {last}; hot.js: {hot:?}");
}

const APP_TEXT: &str = "const a = document.getElementById('app'); return a ? a.textContent : null;";
const BANNER: &str = "const b = document.querySelector('hot-banner'); \
    return b && b.shadowRoot ? b.shadowRoot.textContent : null;";
const UNSERVED: &str = "return document.documentElement.hasAttribute('data-hot-unserved') \
    ? document.body.innerText : null;";

/// The JSON events of hot's stdout, each with the instant it was read.
fn events(child: &mut Child) -> mpsc::Receiver<(Instant, Value)> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send((Instant::now(), value));
            }
        }
    });
    rx
}

/// The next `service_ready` event, with when it was read.
fn next_ready(events: &mpsc::Receiver<(Instant, Value)>) -> Instant {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, event) = events.recv_timeout(left).expect("a service_ready event");
        if event["event"] == "service_ready" {
            return at;
        }
    }
}

async fn screenshot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("HOT_SCREENSHOTS") {
        let png = client.screenshot().await.expect("a screenshot");
        std::fs::write(Path::new(&dir).join(name), png).expect("write the screenshot");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_page_follows_the_build_in_a_real_browser() {
    if !found("chromium") || !found("chromedriver") {
        assert!(
            !ci::ci(),
            "CI=true but chromium or chromedriver is missing (.ci/run installs them)"
        );
        eprintln!(
            "skipped: chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (app, reload, driver_port) = (free_port(), free_port(), free_port());
    write_project(dir.path(), app, reload);
    // The first build fails.
    page(dir.path(), "BROKEN", reload);

    let _driver = spawn_group(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let (_hot, events) = start_hot(dir.path());

    let profile = tempfile::tempdir().expect("a profile directory");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=900,600",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let webdriver = format!("http://127.0.0.1:{driver_port}");
    let deadline = Instant::now() + WAIT;
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&webdriver)
            .await
        {
            Ok(client) => break client,
            Err(error) if Instant::now() > deadline => panic!("no WebDriver session: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };

    // Wait for hot to have bound the app's socket before anyone connects.
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", reload)).is_err() {
        assert!(
            Instant::now() < deadline,
            "hot never opened the browser endpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let prober = Prober::start(app);
    client
        .goto(&format!("http://127.0.0.1:{app}/"))
        .await
        .expect("goto");

    // 1. The first build failed: hot's 503 page names the check and shows its output, escaped.
    let text = wait_for(
        &client,
        "the 503 page naming the failed check",
        UNSERVED,
        |v| v.as_str().is_some_and(|t| t.contains("check failed")),
    )
    .await;
    assert!(
        text.as_str()
            .unwrap()
            .contains("check: <b>BROKEN</b> in index.html"),
        "the output is shown as text: {text}"
    );
    screenshot(&client, "unserved.png").await;

    // 1b. Another failure: the 503 page shows the new output from the stream, without a reload.
    client
        .execute("window.__same_page = true; return null;", vec![])
        .await
        .expect("mark the page");
    page(dir.path(), "BROKEN2", reload);
    wait_for(&client, "the new failure on the 503 page", UNSERVED, |v| {
        v.as_str().is_some_and(|t| t.contains("BROKEN2"))
    })
    .await;
    assert_eq!(
        client
            .execute("return window.__same_page === true;", vec![])
            .await
            .unwrap(),
        true,
        "the 503 page updated in place"
    );

    // 2. The fix lands: the 503 page becomes the app by itself.
    page(dir.path(), "one", reload);
    wait_for(&client, "the app after the fix", APP_TEXT, |v| v == "one").await;
    next_ready(&events);

    // 3. An edit: the page reloads by itself and shows the new text.
    page(dir.path(), "two", reload);
    let ready = next_ready(&events);
    wait_for(&client, "the reloaded page", APP_TEXT, |v| v == "two").await;
    let latency = ready.elapsed();

    // 4. A failing check: the old text stays, and the banner names the check.
    page(dir.path(), "BROKEN", reload);
    let banner = wait_for(&client, "the banner", BANNER, |v| {
        v.as_str().is_some_and(|t| t.contains("check failed"))
    })
    .await;
    assert!(
        banner.as_str().unwrap().contains("serving the build from"),
        "{banner}"
    );
    assert_eq!(client.execute(APP_TEXT, vec![]).await.unwrap(), "two");
    screenshot(&client, "banner.png").await;

    // 5. The fix: the page reloads and the banner is gone.
    page(dir.path(), "three", reload);
    wait_for(&client, "the page after the fix", APP_TEXT, |v| {
        v == "three"
    })
    .await;
    assert_eq!(client.execute(BANNER, vec![]).await.unwrap(), Value::Null);

    let (requests, failures) = prober.finish();
    eprintln!("browser: {requests} requests, ready to reloaded page in {latency:?} (25 ms polls)");
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(requests > 10, "the prober ran");
    let _ = client.close().await;
}
