"""The peers of bench/run.py: installing them into a local folder, and how each one is told to
run the same command on a change, at its default and at its fastest setting.

Peers are installed with `cargo install --locked --root DIR` into DIR/bin (DIR: --peers-dir,
else $HOT_PEERS, else target/peers; never committed). A peer that fails to install is skipped,
and the run says so.
"""

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import common

# crate -> the binary it installs
CRATES = {"watchexec-cli": "watchexec", "cargo-watch": "cargo-watch", "systemfd": "systemfd", "bacon": "bacon"}


def install(root: Path, log) -> dict:
    """Installs every peer missing from root/bin (one `cargo install` per crate, niced: it takes
    minutes on 2 cores); returns {binary: path} of the peers that are there afterwards."""
    found = {}
    for crate, binary in CRATES.items():
        path = root / "bin" / binary
        if not os.access(path, os.X_OK):
            log(f"installing {crate} into {root} (cargo install --locked) ...")
            done = subprocess.run(
                ["nice", "-n", "19", "cargo", "install", "--locked", "--quiet", "--root", str(root), crate],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
            )
            if done.returncode != 0 or not os.access(path, os.X_OK):
                tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
                log(f"skipped {crate}: cargo install failed ({tail})")
                continue
        found[binary] = str(path)
    return found


def version(path: str) -> str:
    """The first line of `PATH --version` (cargo-watch needs its subcommand form)."""
    argv = [path, "watch", "--version"] if path.endswith("cargo-watch") else [path, "--version"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout.strip().splitlines() or ["?"])[0]


@dataclass(frozen=True)
class Tool:
    """One watcher at one setting. `kind` is hot, watchexec, cargo-watch or bacon."""

    kind: str
    setting: str  # "default" or the fastest flag
    fast: bool

    @property
    def label(self) -> str:
        return self.kind if not self.fast else f"{self.kind} {self.setting}"


# Each peer at its default and at its fastest setting: hot's and watchexec's quiet period and
# cargo-watch's delay set to zero; bacon's grace period (15 ms by default) set to "none".
TOOLS = [
    Tool("hot", "default", False),
    Tool("hot", "--debounce 0ms", True),
    Tool("watchexec", "default", False),
    Tool("watchexec", "-d 0ms", True),
    Tool("cargo-watch", "default", False),
    Tool("cargo-watch", "-d 0", True),
    Tool("bacon", "default", False),
    Tool("bacon", 'grace_period="none"', True),
]

CARGO_TOML = '[package]\nname = "bench"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\npath = "src/a.rs"\n'

HOTFILE = """task "t" {{
    watch "src/**/*.rs"
    run {argv}
}}
"""

# bacon: a job that runs the command, watching only src/ (like the others); --headless runs it
# without the terminal UI. Its grace period is a preference, which bacon.toml may set too.
BACON_TOML = """default_job = "bench"
{grace}
[jobs.bench]
command = {argv}
need_stdout = false
allow_warnings = true
allow_failures = true
default_watch = false
watch = ["src"]
"""


def kdl_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(argv) -> str:
    return "[" + ", ".join(kdl_string(a) for a in argv) + "]"


def prepare(tool: Tool, root: Path, command: list[str]) -> None:
    """Writes what the tool reads from the project: a Cargo.toml for every tool (cargo-watch
    and bacon refuse to start without one), hot's Hotfile, bacon's bacon.toml."""
    if not (root / "Cargo.toml").exists():
        (root / "Cargo.toml").write_text(CARGO_TOML)
    if tool.kind == "hot":
        (root / "Hotfile").write_text(HOTFILE.format(argv=" ".join(kdl_string(a) for a in command)))
    if tool.kind == "bacon":
        grace = 'grace_period = "none"\n' if tool.fast else ""
        (root / "bacon.toml").write_text(BACON_TOML.format(grace=grace, argv=toml_list(command)))


def argv(tool: Tool, paths: dict, command: list[str], postpone: bool = True) -> list[str]:
    """The command line that watches src/ (`.rs` files) and runs `command` on each change.
    Peers run with --postpone where they have it (bacon has not: it runs the job at start)."""
    if tool.kind == "hot":
        return [paths["hot"], "watch", "--json"] + (["--debounce", "0ms"] if tool.fast else [])
    if tool.kind == "watchexec":
        # -n: run the argv as is (no shell), like hot's argv form.
        return ([paths["watchexec"], "-w", "src", "-e", "rs"] + (["--postpone"] if postpone else [])
                + (["-d", "0ms"] if tool.fast else []) + ["-n", "--"] + command)
    if tool.kind == "cargo-watch":
        # -s is `sh -c`; the command is quoted back into one line.
        return ([paths["cargo-watch"], "watch", "-w", "src"] + (["--postpone"] if postpone else [])
                + (["-d", "0"] if tool.fast else []) + ["-s", shlex.join(command)])
    if tool.kind == "bacon":
        return [paths["bacon"], "--headless", "-j", "bench"]
    raise ValueError(tool)


def env_for(tool: Tool, root: Path) -> dict:
    """bacon reads its global preferences too; point them at an empty file so that a user's
    prefs.toml does not change the figures. (Not /dev/null: bacon watches its config files, and
    every write to /dev/null by any process is an inotify event that makes it rerun the job.)"""
    env = dict(os.environ)
    if tool.kind == "bacon":
        prefs = root / ".bacon-prefs.toml"
        prefs.write_text("")
        env["BACON_PREFS"] = str(prefs)
    return env


def available(tools, paths: dict) -> list:
    """The tools whose binary is there."""
    binary = {"hot": "hot", "watchexec": "watchexec", "cargo-watch": "cargo-watch", "bacon": "bacon"}
    return [t for t in tools if os.access(paths.get(binary[t.kind], ""), os.X_OK)]


def start(tool: Tool, paths: dict, root: Path, command: list[str], settle: float, timeout: float = 60):
    """Starts the tool in root and waits until it watches: hot's `watching` event and first
    wave; for peers (no readiness signal) a fixed settle time. Returns (Proc, HotEvents|None)."""
    import time

    prepare(tool, root, command)
    proc = common.Proc(argv(tool, paths, command), cwd=root, env=env_for(tool, root), capture=tool.kind == "hot")
    if tool.kind == "hot":
        events = common.HotEvents(proc)
        try:
            common.wait_hot_started(events, timeout)
        except RuntimeError:
            proc.stop()
            raise
        return proc, events
    time.sleep(settle)
    if proc.popen.poll() is not None:
        raise RuntimeError(f"{tool.label} exited with {proc.popen.returncode} before the first change")
    return proc, None
