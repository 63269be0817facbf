use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The one lock every case holds: cases run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // A failed case poisons the lock; the next one still runs.
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `Some` when the tool is there. When it is not: under `CI=true` the case fails (CI installs
/// everything, see `.ci/run`); elsewhere it is skipped with the reason printed.
#[track_caller]
pub fn require<T>(tool: Result<T, String>) -> Option<T> {
    match tool {
        Ok(tool) => Some(tool),
        Err(why) if crate::support::ci() => {
            panic!("CI=true and a tool is missing: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// `tests/servers/`, where the server fixtures live.
pub fn servers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers")
}

/// `target/interop/`: the fixtures' own build and the gunicorn venv.
pub fn target() -> PathBuf {
    Path::new(crate::support::HOT)
        .ancestors()
        .nth(2)
        .expect("target/debug/hot")
        .join("interop")
}

/// The servers of the matrix, each taking hot's socket the way its ecosystem does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// axum on tokio's current-thread runtime (listenfd, `set_nonblocking`, `from_std`).
    AxumCurrentThread,
    /// axum on tokio's multi-thread runtime.
    AxumMultiThread,
    /// `asyncio.start_server(sock=socket.socket(fileno=3))`.
    Asyncio,
    /// http.server's `HTTPServer` on `socket.socket(fileno=3)`.
    Blocking,
    /// gunicorn, which takes the fds only when `LISTEN_PID` is its own pid.
    Gunicorn,
    /// Node.js `http`, `server.listen({ fd: 3 })`.
    Node,
    /// Python's `ThreadingHTTPServer` as it comes: it dies at SIGTERM, draining nothing.
    DyingPython,
    /// Node.js `http` that calls `process.exit()` at SIGTERM.
    DyingNode,
    /// Werkzeug's `make_server(..., fd=3)`: dies at SIGTERM.
    Werkzeug,
    /// waitress, `serve(app, sockets=[socket.fromfd(3, ...)])`: dies at SIGTERM.
    Waitress,
    /// uvicorn, `--fd 3`: graceful at SIGTERM.
    Uvicorn,
    /// Hypercorn, `--bind fd://3`, with its default stop (a master and one worker).
    Hypercorn,
    /// Fastify 5, `listen({ fd: 3 })`, `fastify.close()` at SIGTERM with its defaults.
    Fastify,
}

impl Server {
    /// The `server=` field of its answers: tells the builds apart from anything else.
    pub fn marker(self) -> &'static str {
        match self {
            Server::AxumCurrentThread => "axum-current",
            Server::AxumMultiThread => "axum-multi",
            Server::Asyncio => "asyncio",
            Server::Blocking => "blocking",
            Server::Gunicorn => "gunicorn",
            Server::Node => "node",
            Server::DyingPython => "dying-python",
            Server::DyingNode => "dying-node",
            Server::Werkzeug => "werkzeug",
            Server::Waitress => "waitress",
            Server::Uvicorn => "uvicorn",
            Server::Hypercorn => "hypercorn",
            Server::Fastify => "fastify",
        }
    }

    /// The `ready log=` pattern: the line it prints once it accepts (its own where it has one;
    /// gunicorn's is the line of docs/recipes.md's recipe, printed by its `post_worker_init`
    /// hook), else `ready` from `tests/servers/`.
    pub fn ready_log(self) -> &'static str {
        match self {
            Server::Gunicorn => GUNICORN_READY,
            Server::Waitress => "Serving on",
            Server::Uvicorn => "Uvicorn running on",
            Server::Hypercorn => "Running on",
            _ => "^ready$",
        }
    }

    /// The argv that runs it, or why it cannot run here.
    pub fn argv(self) -> Result<Vec<String>, String> {
        let script = |name: &str| servers().join(name).display().to_string();
        Ok(match self {
            Server::AxumCurrentThread | Server::AxumMultiThread => {
                let runtime = if self == Server::AxumMultiThread {
                    "multi"
                } else {
                    "current"
                };
                let binary = axum()?.display().to_string();
                vec![binary, "--runtime".into(), runtime.into()]
            }
            Server::Asyncio => vec![python()?, script("asyncio_server.py")],
            Server::Blocking => vec![python()?, script("blocking_server.py")],
            Server::Gunicorn => vec![
                venv_tool("gunicorn")?,
                "--config".into(),
                script("gunicorn_conf.py"),
                "gunicorn_app:app".into(),
            ],
            Server::Node => vec![node()?, script("node_server.js")],
            Server::DyingPython => vec![python()?, script("dying_server.py")],
            Server::DyingNode => vec![node()?, script("dying_node.js")],
            Server::Werkzeug => vec![venv_tool("python")?, script("werkzeug_server.py")],
            Server::Waitress => vec![venv_tool("python")?, script("waitress_server.py")],
            Server::Uvicorn => vec![
                venv_tool("uvicorn")?,
                "uvicorn_app:app".into(),
                "--fd".into(),
                "3".into(),
            ],
            Server::Hypercorn => vec![
                venv_tool("hypercorn")?,
                "hypercorn_app:app".into(),
                "--bind".into(),
                "fd://3".into(),
            ],
            Server::Fastify => {
                fastify()?;
                vec![node()?, script("fastify_server.js")]
            }
        })
    }

    /// A Hotfile that serves it on a fresh loopback port, restarted when `version` changes;
    /// each instance takes `startup` to start.
    pub fn hotfile(self, ready: bool, startup: std::time::Duration) -> Result<String, String> {
        let run: Vec<String> = self.argv()?.iter().map(|a| kdl(a)).collect();
        Ok(format!(
            r#"
defaults {{
    debounce "20ms"
}}
service "serve" {{
    watch "version"
    socket "http" "127.0.0.1:0"
    env STARTUP_MS="{startup}" VERSION_FILE="version" PYTHONPATH={pythonpath} NODE_PATH={node_path}
    run {run}
    {ready}
    stop timeout="10s"
}}
"#,
            pythonpath = kdl(&servers().display().to_string()),
            node_path = kdl(&target().join("fastify/node_modules").display().to_string()),
            startup = startup.as_millis(),
            run = run.join(" "),
            ready = if ready {
                format!("ready log={}", kdl(self.ready_log()))
            } else {
                String::new()
            },
        ))
    }
}

/// A server under `hot watch`, listening, the case holding [`serial`]'s lock.
pub struct Served {
    pub project: crate::support::Project,
    pub hot: crate::support::Running,
    /// Where hot bound the service's socket.
    pub addr: std::net::SocketAddr,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl Served {
    /// `server` at `version` 1, with `ready` or without, once hot bound its socket; `None`
    /// when the server's tool is missing (see [`require`]).
    pub fn start(server: Server, ready: bool, startup: std::time::Duration) -> Option<Served> {
        let one_at_a_time = serial();
        let hotfile = require(server.hotfile(ready, startup))?;
        let project = crate::support::Project::with_hotfile(&hotfile);
        project.write("version", "1");
        let mut hot = project.spawn(&["watch"]);
        let addr = hot.wait_event("listening", "serve")["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("a socket address");
        Some(Served {
            project,
            hot,
            addr,
            _one_at_a_time: one_at_a_time,
        })
    }

    /// Nothing refused and nothing failed, or the summary and hot's transcript.
    #[track_caller]
    pub fn assert_clean(&self, summary: &crate::client::Summary) {
        assert_eq!(summary.refused, 0, "{summary}\n{}", self.hot.transcript());
        assert!(
            summary.failed.is_empty(),
            "{summary}\n{}",
            self.hot.transcript()
        );
    }
}

/// The gunicorn recipe's `ready log` pattern (docs/recipes.md).
pub const GUNICORN_READY: &str = "^worker [0-9]+ serving$";

/// A KDL string literal.
pub fn kdl(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn on_path(program: &str, probe: &str) -> Result<String, String> {
    match Command::new(program).arg(probe).output() {
        Ok(out) if out.status.success() => Ok(program.to_owned()),
        Ok(out) => Err(format!(
            "`{program} {probe}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("`{program}` not found ({e}); install it")),
    }
}

pub fn python() -> Result<String, String> {
    on_path("python3", "--version")
}

pub fn node() -> Result<String, String> {
    on_path("node", "--version")
}

/// The axum fixture, built once per test run (its own crate and lock file, its own target
/// directory, so axum never enters hot's build).
pub fn axum() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = target().join("axum");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let out = Command::new(cargo)
                .args(["build", "--locked", "--manifest-path"])
                .arg(servers().join("axum/Cargo.toml"))
                .arg("--target-dir")
                .arg(&target)
                .output()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "building tests/servers/axum failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(target.join("debug/interop-axum"))
        })
        .clone()
}

/// `$HOT_INTEROP_VENV`, or `target/interop/venv`.
pub fn venv() -> PathBuf {
    std::env::var_os("HOT_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| target().join("venv"))
}

/// `bin/<name>` of [`venv`], with `tests/servers/requirements.txt` installed there by pip when
/// the venv's copy of it differs (the same install and stamp as `.ci/run`'s).
pub fn venv_tool(name: &str) -> Result<String, String> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let venv = INSTALLED
        .get_or_init(|| {
            let venv = venv();
            let requirements = servers().join("requirements.txt");
            let stamp = venv.join("requirements.txt");
            if std::fs::read(&stamp).ok() == std::fs::read(&requirements).ok() {
                return Ok(venv);
            }
            let venv_arg = venv.display().to_string();
            run(Path::new(&python()?), &["-m", "venv", &venv_arg])?;
            run(
                &venv.join("bin/pip"),
                &[
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                    &requirements.display().to_string(),
                ],
            )?;
            std::fs::copy(&requirements, &stamp)
                .map_err(|e| format!("{}: {e}", stamp.display()))?;
            Ok(venv)
        })
        .clone()?;
    let tool = venv.join("bin").join(name);
    if tool.exists() {
        Ok(tool.display().to_string())
    } else {
        Err(format!("{} is missing", tool.display()))
    }
}

/// Fastify in `target/interop/fastify/node_modules`, installed by `npm ci` from the committed
/// `tests/servers/fastify/` lock file when the installed copy of the lock differs (as `.ci/run`).
pub fn fastify() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = target().join("fastify");
            let lock = servers().join("fastify/package-lock.json");
            if dir.join("node_modules/fastify").exists()
                && std::fs::read(dir.join("package-lock.json")).ok() == std::fs::read(&lock).ok()
            {
                return Ok(());
            }
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for file in ["package.json", "package-lock.json"] {
                std::fs::copy(servers().join("fastify").join(file), dir.join(file))
                    .map_err(|e| format!("copying {file}: {e}"))?;
            }
            let dir_arg = dir.display().to_string();
            run(
                Path::new("npm"),
                &["ci", "--no-audit", "--no-fund", "--prefix", &dir_arg],
            )
        })
        .clone()
}

fn run(program: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{} {}` failed: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
