"""Edit → new build serving, for three (four) ways of running cargo tasks under hot.

    python3 bench/cargo_layouts.py [--rounds N] [--hot PATH] [--work DIR]

Layouts, all made from the Hotfile `hot init` writes:
  a  parallel: every cargo task may run at once, on one target directory (no `lock`)
  b  lock:     every cargo task holds `lock "cargo"`: hot runs them one at a time
  c  clippy on its own CARGO_TARGET_DIR (target/clippy), no lock
  d  c, with `lock "cargo"` on test and build (what `hot init` writes)
  e  c, with `lock "clippy"` on the clippy tasks
  f  one lock per target directory: `lock "clippy"` on clippy, `lock "cargo"` on test and build
(In a single package there is one clippy task, so e is c and f is d.)

Projects: a copy of examples/axum-hello, and a three-member workspace (a shared library used
by two axum servers; the edit is to the library, so both servers' chains rerun). The layouts
are interleaved (a b c d a b c d ...) so that load from other work on the machine spreads
over all of them. Each trial: start hot, wait for the first wave, edit, and time until every
service answers with the new text. Standard library only; crates.io is needed once, for axum.
Every process is stopped by its process group; every wait is bounded.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, HotEvents, Proc, is_event  # noqa: E402

LAYOUTS = ["a", "b", "c", "d", "e", "f"]
CLIPPY_DIR = '    env CARGO_TARGET_DIR="target/clippy"\n'

AXUM_DEPS = """\
axum = { version = "0.8", default-features = false, features = ["http1", "tokio"] }
listenfd = "1.0"
tokio = { version = "1", features = ["rt-multi-thread", "net"] }
"""

SERVER = """\
use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let listener = match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
        Some(listener) => listener,
        None => TcpListener::bind("127.0.0.1:0")?,
    };
    listener.set_nonblocking(true)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        println!("listening on http://{}", listener.local_addr()?);
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|| async { format!("NAME: {}\\n", shared::GREETING) }),
        );
        axum::serve(listener, app).await
    })
}
"""


def make_workspace(dest: Path) -> None:
    """shared (lib), api and web (bins using shared and axum)."""
    if dest.exists():
        return
    (dest / "shared/src").mkdir(parents=True)
    (dest / "Cargo.toml").write_text('[workspace]\nmembers = ["shared", "api", "web"]\nresolver = "3"\n')
    (dest / "shared/Cargo.toml").write_text('[package]\nname = "shared"\nversion = "0.1.0"\nedition = "2024"\n')
    (dest / "shared/src/lib.rs").write_text(
        'pub const GREETING: &str = "hello";\n\n#[cfg(test)]\nmod tests {\n    #[test]\n'
        "    fn greets() {\n        assert!(!super::GREETING.is_empty());\n    }\n}\n"
    )
    for name in ["api", "web"]:
        (dest / name / "src").mkdir(parents=True)
        (dest / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2024"\n\n[dependencies]\n'
            f'shared = {{ path = "../shared" }}\n{AXUM_DEPS}'
        )
        (dest / name / "src/main.rs").write_text(SERVER.replace("NAME", name))


def layout(base: str, which: str) -> str:
    """The Hotfile `hot init` wrote, with its `lock` lines and clippy's target directory set
    for layout `which`."""
    blocks = re.split(r"(?m)^(?=task |service )", base)
    out = []
    for block in blocks:
        if not block.startswith("task "):
            out.append(block)
            continue
        clippy = block.startswith('task "clippy')
        block = re.sub(r'(?m)^    lock ".*"\n', "", block)
        block = re.sub(r'(?m)^    env CARGO_TARGET_DIR=".*"\n', "", block)
        own_dir = which in "cdef"
        lock = {
            "a": None,
            "b": "cargo",
            "c": None,
            "d": None if clippy else "cargo",
            "e": "clippy" if clippy else None,
            "f": "clippy" if clippy else "cargo",
        }[which]
        extra = ""
        if own_dir and clippy:
            extra += CLIPPY_DIR
        if lock:
            extra += f'    lock "{lock}"\n'
        block = re.sub(r'(?m)^    run ', lambda m: extra + m.group(0), block, count=1)
        out.append(block)
    return "".join(out)


def get(addr: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://{addr}/", timeout=2) as answer:
            return answer.read().decode()
    except OSError:
        return None


def trial(project: Path, hot: str, hotfile: str, edit, token: str, addrs: list[str]) -> dict:
    (project / "Hotfile").write_text(hotfile)
    env = dict(os.environ, NO_COLOR="1")
    with Proc([hot, "--json", "-f", "Hotfile"], cwd=project, env=env, capture=True, stop_timeout=15) as proc:
        events = HotEvents(proc)
        if events.wait_for(is_event("wave_finished"), 600) is None:
            raise RuntimeError("first wave did not finish")
        for addr in addrs:
            if get(addr) is None:
                raise RuntimeError(f"nothing serves {addr} after the first wave")
        events.drain()
        mark = len(events.log)
        edit(token)
        t0 = time.monotonic()
        pending = set(addrs)
        deadline = t0 + 600
        while pending and time.monotonic() < deadline:
            for addr in list(pending):
                body = get(addr)
                if body is not None and token in body:
                    pending.discard(addr)
            time.sleep(0.02)
        served = time.monotonic() - t0
        if pending:
            raise RuntimeError(f"new text never served on {pending}")
        # Let the wave finish, for the durations (the checks after the build may still run).
        events.wait_for(is_event("wave_finished"), 600)
        after_edit = events.log[mark:]
        durations = {}
        for event in after_edit:
            if event.get("event") == "node_finished":
                durations.setdefault(event["node"], []).append(round(event["duration_ms"]))
        waited = [
            e["line"].split("waiting for file lock on ", 1)[1].strip()
            for e in after_edit
            if e.get("event") == "output" and "waiting for file lock on " in e.get("line", "")
        ]
    return {"served": served, "durations": durations, "lock_waits": len(waited), "waited_for": sorted(set(waited))}


def main() -> None:
    # SIGTERM unwinds like Ctrl-C, so the `with Proc` blocks stop their hot.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hot", default=str(ROOT / "target/debug/hot"))
    parser.add_argument("--work", default="/tmp/hot-cargo-layouts")
    parser.add_argument("--projects", default="axum,workspace")
    parser.add_argument("--layouts", default="".join(LAYOUTS))
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    projects = {}
    axum = work / "axum-hello"
    if not axum.exists():
        shutil.copytree(ROOT / "examples/axum-hello", axum)
    main_rs = axum / "src/main.rs"
    original = main_rs.read_text()

    def edit_axum(token: str) -> None:
        main_rs.write_text(re.sub(r'const GREETING: &str = ".*";', f'const GREETING: &str = "{token}";', original))

    projects["axum"] = (axum, edit_axum, ["127.0.0.1:3000"])
    ws = work / "workspace"
    make_workspace(ws)
    lib_rs = ws / "shared/src/lib.rs"
    lib_original = lib_rs.read_text()

    def edit_ws(token: str) -> None:
        lib_rs.write_text(re.sub(r'GREETING: &str = ".*";', f'GREETING: &str = "{token}";', lib_original))

    projects["workspace"] = (ws, edit_ws, ["127.0.0.1:3000", "127.0.0.1:3001"])

    results: dict = {}
    for name in args.projects.split(","):
        project, edit, addrs = projects[name]
        (project / "Hotfile").unlink(missing_ok=True)
        init = subprocess.run([args.hot, "init"], cwd=project, capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            raise RuntimeError(f"hot init failed in {project}: {init.stderr}")
        base = (project / "Hotfile").read_text()
        print(f"# {name}: warming up every layout", file=sys.stderr, flush=True)
        for which in args.layouts:
            trial(project, args.hot, layout(base, which), edit, f"warm-{which}", addrs)
        for round_ in range(args.rounds):
            for which in args.layouts:
                token = f"r{round_}{which}{time.time_ns() % 100000}"
                result = trial(project, args.hot, layout(base, which), edit, token, addrs)
                results.setdefault(name, {}).setdefault(which, []).append(result)
                print(json.dumps({"project": name, "layout": which, "round": round_, **result}), flush=True)

    print("\n| project | layout | edit → served, median (min-max) | ratio to a | cargo lock waits per edit |")
    print("| --- | --- | --- | --- | --- |")
    for name, by_layout in results.items():
        base_median = statistics.median(r["served"] for r in by_layout["a"]) if "a" in by_layout else None
        for which, runs in by_layout.items():
            served = [r["served"] for r in runs]
            med = statistics.median(served)
            ratio = f"{med / base_median:.2f}" if base_median else "-"
            waits = statistics.median(r["lock_waits"] for r in runs)
            print(f"| {name} | {which} | {med:.2f} s ({min(served):.2f}-{max(served):.2f}) | {ratio} | {waits:g} |")


if __name__ == "__main__":
    main()
