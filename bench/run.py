#!/usr/bin/env python3
"""One command: hot against its peers, side by side, in one run.

    python3 bench/run.py            # every measure (about 15 minutes on an idle 2-core machine)
    python3 bench/run.py --quick    # a smaller subset of each (under five minutes)

1. Installs the peers that are missing into a local folder (`cargo install --locked --root DIR`
   of watchexec-cli, cargo-watch, systemfd and bacon; DIR is --peers-dir, else $HOT_PEERS, else
   target/peers; a peer that fails to install is skipped and the run says so).
2. Builds hot in release (`cargo build --release --bin hot`), the axum server of the interop
   tests, and a venv with gunicorn (target/interop/venv); a server kind whose tool is missing
   (node, gunicorn) is skipped.
3. Measures, one tool at a time, each in fresh temp projects:
   save → command start (plain and atomic saves; duplicates; each tool at its default and its
   fastest setting), 5,000-file bursts (rewrite, editor saves, touches, a git checkout), restarts of the interop
   servers under a loopback client (1 client and 8 concurrent; hot with `ready` beside
   systemfd + watchexec -r), the 100,000-file tree (watching after, RSS, start-up CPU, idle CPU,
   wake-ups), a 500-node plan, the story's table (examples/axum-hello under five dev loops), and
   the story on a project bigger than hello-world (examples/axum-todos: `hot init`'s Hotfile
   against `cargo watch -x run`, alternating).
4. Prints one Markdown table per measure (median, min-max, ratio to hot) and writes them all,
   with the date, the machine and every version, to --out (default target/bench/results.md).

Every process runs in its own session and is stopped by process group (and its session swept);
every wait is bounded; everything listens on 127.0.0.1; temp projects are removed.
"""

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import common
import peers
import report
import servers
import story
import suite

MEASURES = ["latency", "bursts", "servers", "tree", "plan", "story", "todos"]
# Only when named in --only: a 1,000,000-file tree takes minutes and ~5 GB of disk.
EXTRA = ["tree1m"]

PROFILES = {
    "full": dict(
        latency_n=20, latency_gap=0.3, settle=2.0,
        burst_files=5000, burst_reps=2, burst_window=3.0, burst_tools="all",
        server_kinds="axum-current,axum-multi,asyncio,blocking,gunicorn,node", server_clients=[1, 8],
        server_restarts=3, tree_scale=1.0, tree_idle=3.0, tree_settle=3.0,
        plan_runs=50, story_setups=story.SETUPS, story_edits=3,
        todos_setups=story.TODOS_SETUPS, todos_edits=3, todos_rounds=2,
    ),
    "quick": dict(
        latency_n=5, latency_gap=0.2, settle=1.5,
        burst_files=1000, burst_reps=1, burst_window=2.0, burst_tools="default",
        server_kinds="axum-current,asyncio", server_clients=[1, 8], server_restarts=2,
        tree_scale=0.1, tree_idle=2.0, tree_settle=2.0,
        plan_runs=10, story_setups=["cargo watch -x run", "hot"], story_edits=1,
        todos_setups=story.TODOS_SETUPS, todos_edits=1, todos_rounds=1,
    ),
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_quiet(argv, **kw) -> bool:
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        log(f"failed: {' '.join(map(str, argv))}: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done.returncode == 0


def build(args) -> dict:
    """Builds hot and the servers' fixtures; returns what is there."""
    have = {}
    if not args.no_build:
        log("building hot in release (cargo build --release --bin hot) ...")
        if not run_quiet(["cargo", "build", "--release", "--bin", "hot"], cwd=common.ROOT):
            sys.exit("bench: hot did not build")
    have["hot"] = str(common.ROOT / "target/release/hot")
    if not os.access(have["hot"], os.X_OK):
        sys.exit(f"bench: {have['hot']} is missing (run without --no-build)")
    if "servers" in args.only:
        axum = common.ROOT / "target/interop/axum/debug/interop-axum"
        if not args.no_build:
            log("building the axum fixture (tests/servers/axum) ...")
            run_quiet(["cargo", "build", "--locked", "--manifest-path", "tests/servers/axum/Cargo.toml",
                       "--target-dir", "target/interop/axum"], cwd=common.ROOT)
        if os.access(axum, os.X_OK):
            have["axum"] = str(axum)
        venv = Path(os.environ.get("HOT_INTEROP_VENV", common.ROOT / "target/interop/venv"))
        if not os.access(venv / "bin/gunicorn", os.X_OK) and not args.no_build:
            log(f"making a venv with gunicorn in {venv} ...")
            if run_quiet([sys.executable, "-m", "venv", str(venv)]):
                run_quiet([str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check",
                           "-r", str(common.ROOT / "tests/servers/requirements.txt")])
        if os.access(venv / "bin/gunicorn", os.X_OK):
            have["gunicorn"] = str(venv / "bin/gunicorn")
        if shutil.which("node"):
            have["node"] = shutil.which("node")
    return have


def first_line(argv) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
        return ((out.stdout or out.stderr).strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def header(args, paths: dict, have: dict) -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().split()[1]
    commit = first_line(["git", "-C", str(common.ROOT), "rev-parse", "--short", "HEAD"])
    dirty = first_line(["git", "-C", str(common.ROOT), "status", "--porcelain", "--untracked-files=no"])
    lines = [
        f"Run of `python3 bench/run.py{' --quick' if args.quick else ''}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"- machine: {os.cpu_count()} cores ({cpu}), {int(mem) / 1024 / 1024:.0f} GiB, Linux {platform.release()}, "
        f"load average at start {os.getloadavg()[0]:.1f}",
        f"- hot: {first_line([have['hot'], '--version'])} at {commit}{' (uncommitted changes)' if dirty != '?' and dirty else ''}, "
        f"release build; {first_line(['rustc', '--version'])}",
    ]
    for name in ["watchexec", "cargo-watch", "systemfd", "bacon"]:
        lines.append(f"- {name}: {peers.version(paths[name]) if name in paths else 'not installed (skipped)'}")
    lines.append(f"- Python {platform.python_version()}"
                 + (f", Node {first_line([have['node'], '--version'])}" if "node" in have else ", no Node")
                 + (f", {first_line([have['gunicorn'], '--version'])}" if "gunicorn" in have else ", no gunicorn"))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--quick", action="store_true", help="a subset of every measure, under five minutes")
    parser.add_argument("--only", default=",".join(MEASURES), help=f"measures to run, of {','.join(MEASURES)} (and {','.join(EXTRA)}, only when named)")
    parser.add_argument("--peers-dir", default=os.environ.get("HOT_PEERS", str(common.ROOT / "target/peers")),
                        help="where the peers are installed (cargo install --root); $HOT_PEERS")
    parser.add_argument("--no-install", action="store_true", help="use the peers already in --peers-dir")
    parser.add_argument("--no-build", action="store_true", help="use the hot already in target/release")
    parser.add_argument("--out", default=str(common.ROOT / "target/bench/results.md"))
    args = parser.parse_args()
    # SIGTERM / SIGHUP unwind like Ctrl-C, so every `finally` stops its processes and removes
    # its temp folder
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    args.only = [m.strip() for m in args.only.split(",") if m.strip()]
    p = SimpleNamespace(**PROFILES["quick" if args.quick else "full"])
    started = time.monotonic()

    peers_dir = Path(args.peers_dir).resolve()
    if args.no_install:
        paths = {b: str(peers_dir / "bin" / b) for b in peers.CRATES.values() if os.access(peers_dir / "bin" / b, os.X_OK)}
    else:
        paths = peers.install(peers_dir, log)
    for crate, binary in peers.CRATES.items():
        if binary not in paths:
            log(f"{binary} is not installed: its rows are left out")
    have = build(args)
    paths["hot"] = have["hot"]

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sections = [header(args, paths, have)]

    def emit(text: str) -> None:
        print("\n" + text, flush=True)
        sections.append(text)
        out.write_text("\n".join(sections))

    emit(sections.pop())
    collected = {}
    all_tools = peers.available(peers.TOOLS, paths)
    default_tools = [t for t in all_tools if not t.fast]
    for measure in args.only:
        log(f"measure: {measure}")
        try:
            if measure == "latency":
                r = collected["latency"] = suite.save_to_start(all_tools, paths, p.latency_n, p.latency_gap, p.settle, log)
                emit(report.latency_table(r, p.latency_n))
            elif measure == "bursts":
                tools = all_tools if p.burst_tools == "all" else default_tools
                r = collected["bursts"] = suite.bursts(tools, paths, p.burst_files, p.burst_reps, p.burst_window, 1.0, p.settle + 1, log)
                emit(report.burst_table(r, p.burst_files, p.burst_reps, p.burst_window))
            elif measure == "servers":
                collected["servers"] = run_servers(p, paths, have)
                emit(report.servers_table(collected["servers"], p.server_restarts, servers.STARTUP_MS))
            elif measure == "tree":
                r, about = suite.tree_run(default_tools, paths, p.tree_scale, p.tree_idle, p.tree_settle, log)
                collected["tree"] = r
                emit(report.tree_table(r, about, p.tree_idle, p.tree_settle))
            elif measure == "tree1m":
                # the system's limit, then a user-namespace limit below the tree's 111,102 directories
                r, about = suite.tree_1m(paths["hot"], 10.0, [None, 65536], p.tree_idle, log)
                collected["tree1m"] = r
                emit(report.tree1m_table(r, about, p.tree_idle))
            elif measure == "plan":
                emit(report.plan_table(suite.plan_run(paths["hot"], 500, p.plan_runs), 500, p.plan_runs))
            elif measure == "story":
                target = common.ROOT / "target/bench/story-target"
                collected["story"] = story.run(p.story_setups, paths, target, p.story_edits, log)
                emit(report.story_table(collected["story"]))
            elif measure == "todos":
                target = common.ROOT / "target/bench/story-todos-target"
                collected["todos"] = story.run(p.todos_setups, paths, target, p.todos_edits, log, "todos", p.todos_rounds)
                emit(report.story_table(collected["todos"], "todos"))
            else:
                log(f"unknown measure {measure!r} (known: {', '.join(MEASURES + EXTRA)})")
        except Exception as e:  # one measure failing must not lose the others' tables
            log(f"measure {measure} failed: {type(e).__name__}: {e}")
            emit(f"### {measure}\n\nfailed: {type(e).__name__}: {e}\n")
    try:
        emit(report.summary_table(collected))
    except Exception as e:  # the tables above are what counts
        log(f"summary failed: {type(e).__name__}: {e}")
    log(f"done in {(time.monotonic() - started) / 60:.1f} min; tables in {out}")


def run_servers(p, paths: dict, have: dict) -> str:
    kinds = []
    for kind in p.server_kinds.split(","):
        need = {"axum-current": "axum", "axum-multi": "axum", "gunicorn": "gunicorn", "node": "node"}.get(kind)
        if need and need not in have:
            log(f"  servers: {kind} skipped ({need} is missing)")
            continue
        kinds.append(kind)
    configs = ["hot ready"] + (["systemfd+wx"] if "systemfd" in paths and "watchexec" in paths else [])
    args = SimpleNamespace(restarts=p.server_restarts, axum=have.get("axum", ""), hot=paths["hot"],
                           watchexec=paths.get("watchexec", ""), systemfd=paths.get("systemfd", ""))
    results = {}
    for clients in p.server_clients:
        for kind in kinds:
            for config in configs:
                log(f"  servers: {kind} / {clients} client(s) / {config}")
                results.setdefault((kind, clients), {})[config] = servers.measure(config, kind, args, clients)
            if clients == p.server_clients[0]:
                alone = servers.alone(kind, args, clients=max(p.server_clients))
                results[(kind, clients)]["server alone"] = {"alone": alone["answer_ms"],
                                                            "alone_ready": alone["ready_ms"],
                                                            "alone_cold": alone["cold_ms"]}
    return results


if __name__ == "__main__":
    main()
