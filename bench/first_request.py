"""From `cargo new` to the first request served, following only what `hot init` prints.

    python3 bench/first_request.py [--hot PATH] [--work DIR] [--kind package|workspace]

package:   `cargo new --bin myapp`, `hot init`, the printed `cargo add` lines, the printed
           main.rs, then `hot`, until http://127.0.0.1:3000 answers.
workspace: a workspace of `shared` (a library, `cargo new --lib`) used by `api` and `web`
           (`cargo new --bin`, with `shared = { path = "../shared" }`), `hot init`, the printed
           lines for each server, `hot`, until both 3000 and 3001 answer.
The clock runs from the first `cargo new`; typing is not counted. Needs crates.io (the first
build downloads axum and tokio unless cargo's cache has them). Standard library only; hot is
stopped through its process group.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, HotEvents, Proc  # noqa: E402


def sh(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)


def printed(stdout: str) -> tuple[list[str], str, list[str]]:
    """The `cargo add` lines, the main.rs snippet and the files it is for."""
    adds = [line.strip() for line in stdout.splitlines() if line.strip().startswith("cargo add")]
    step2 = stdout.split("\n2. ", 1)[1].split("\n3. ", 1)[0]
    head, code = step2.split(":\n\n", 1)
    snippet = "\n".join(line[5:] for line in code.rstrip().splitlines()) + "\n"
    files = [part.strip().split(" (")[0] for part in head.rsplit(", for\n", 1)[1].split(",\n")]
    return adds, snippet, [f for f in files if f.endswith(".rs")]


def answers(addr: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{addr}/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hot", default=str(ROOT / "target/debug/hot"))
    parser.add_argument("--work", default="/tmp/hot-first-request")
    parser.add_argument("--kind", choices=["package", "workspace"], default="package")
    args = parser.parse_args()
    work = Path(args.work) / args.kind
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    steps = {}
    t0 = time.monotonic()
    if args.kind == "package":
        sh(["cargo", "new", "--bin", "myapp"], work)
        project = work / "myapp"
        addrs = ["127.0.0.1:3000"]
    else:
        project = work / "ws"
        project.mkdir()
        (project / "Cargo.toml").write_text('[workspace]\nmembers = ["shared", "api", "web"]\nresolver = "3"\n')
        sh(["cargo", "new", "--lib", "shared"], project)
        for name in ["api", "web"]:
            sh(["cargo", "new", "--bin", name], project)
            with open(project / name / "Cargo.toml", "a") as manifest:
                manifest.write('shared = { path = "../shared" }\n')
        addrs = ["127.0.0.1:3000", "127.0.0.1:3001"]
    init = subprocess.run([args.hot, "init"], cwd=project, capture_output=True, text=True, timeout=120, check=True)
    steps["init"] = time.monotonic() - t0
    adds, snippet, files = printed(init.stdout)
    for line in adds:
        sh(line.split(), project)
    for file in files:
        (project / file).write_text(snippet)
    steps["edits"] = time.monotonic() - t0
    env = dict(os.environ, NO_COLOR="1")
    with Proc([args.hot, "--json"], cwd=project, env=env, capture=True, stop_timeout=15) as proc:
        events = HotEvents(proc)
        pending = set(addrs)
        deadline = time.monotonic() + 1200
        while pending and time.monotonic() < deadline:
            pending = {a for a in pending if not answers(a)}
            time.sleep(0.1)
        steps["served"] = time.monotonic() - t0
        # The loop works: an edit to a server reaches it.
        loop = None
        if not pending:
            main_rs = project / files[0]
            main_rs.write_text(snippet.replace("Hello from hot!", "Edited under hot!"))
            t1 = time.monotonic()
            while time.monotonic() < t1 + 600:
                try:
                    with urllib.request.urlopen(f"http://{addrs[0]}/", timeout=2) as response:
                        if b"Edited under hot!" in response.read():
                            loop = time.monotonic() - t1
                            break
                except OSError:
                    pass
                time.sleep(0.05)
        failed = [e for e in events.log if e.get("event") == "node_finished" and not e.get("ok")]
        durations = {}  # the first wave's, kept from before the edit below
        for e in events.log:
            if e.get("event") == "node_finished":
                durations.setdefault(e["node"], round(e["duration_ms"] / 1000, 1))
    if pending:
        raise SystemExit(f"never served: {sorted(pending)}; failures: {failed}")
    if loop is None:
        raise SystemExit("the edit never reached the server")
    print(f"{args.kind}: cargo new -> first request served in {steps['served']:.1f} s "
          f"(init at {steps['init']:.1f} s, printed lines applied at {steps['edits']:.1f} s); "
          f"failed nodes: {len(failed)}; first-wave task times: {durations}; "
          f"then an edit to {files[0]} served in {loop:.1f} s")


if __name__ == "__main__":
    main()
