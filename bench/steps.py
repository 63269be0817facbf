#!/usr/bin/env python3
"""Steps of save -> command start, from the kernel's timestamps (perf, CLOCK_MONOTONIC).

Each tool runs under `perf record` (syscalls, forks, execs and wake-ups of it and its children)
in the project of bench/latency.py; N plain saves, then N atomic saves, each stamped with
time.monotonic_ns() just before the write. Per save, the first time each step is seen after
the save; printed: the median of each step's time since the previous one, per save kind.

    python3 bench/steps.py [--n 12] NAME=ARGV [NAME=ARGV ...]

ARGV is the tool's command line with `|` between arguments and `{stamps}` for the stamps file:
    base=target/release/hot|--json
    wx=watchexec|-w|src|-e|rs|--postpone|-d|0ms|-n|--|sh|-c|date +%s%N >> {stamps}
Needs perf and the right to trace (root, or kernel.perf_event_paranoid <= 1).
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import common
import latency

EVENTS = ("raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_process_fork,"
          "sched:sched_process_exec,sched:sched_wakeup")
# x86_64 syscall numbers of the calls the steps are told by.
NR = {0: "read", 44: "sendto", 45: "recvfrom", 80: "chdir", 232: "epoll_wait", 435: "clone3"}
# hot's keeper runs as /proc/self/exe, so its comm is `exe`.
EXEC = r" exec /usr/bin/sh"
STEPS = [
    ("inotify read", r"^(hot-inotify|notify-rs\S*) <read=[1-9]"),
    ("watcher wakes the driver", r"^hot-watch wakes comm=hot(?!-inotify|-writer)"),
    ("driver woken", r"^(hot\S*) <epoll_wait"),
    ("launch written", r"^(hot\S*) >sendto"),
    # The spare's keeper, or the command's process it forked ahead of the launch (which then
    # only execs: no spawn call, no fork on the path).
    ("launch read", r"^exe <recvfrom=[1-9]"),
    ("chdir", r"^exe >chdir"),
    ("spawn call", r"^(exe|tokio-rt-worker) >clone3"),
    ("forked", r" fork "),
    ("sh exec'd", EXEC),
    ("date exec'd", r" exec /usr/bin/date"),
]
EXEC_STEP = [pattern for _, pattern in STEPS].index(EXEC)
LINE = re.compile(r"^\s*(\S.*?)\s+(\d+)/(\d+)\s+(?:\[\d+\]\s+)?([\d.]+):\s+(\S+):\s*(.*)$")


def record(name: str, argv: list[str], n: int, out: Path):
    """Runs the tool under perf for n saves of each kind; returns the saves and perf's file."""
    with tempfile.TemporaryDirectory(prefix="hot-bench-steps-") as tmp:
        root = Path(tmp)
        stamps = latency.make_project(root)
        argv = [a.replace("{stamps}", str(stamps)) for a in argv]
        data = out / f"{name}.data"
        perf = ["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-e", EVENTS, "-o", str(data), "--"]
        is_hot = "hot" in Path(argv[0]).name
        saves = []
        with common.Proc(perf + argv, cwd=root, capture=is_hot) as proc:
            if is_hot:
                common.wait_hot_started(common.HotEvents(proc))
            else:
                time.sleep(2)
            for kind, save in [("plain", common.write_text), ("atomic", common.atomic_save)]:
                for i in range(n):
                    before = len(common.read_stamps(stamps))
                    t0 = time.monotonic_ns()
                    save(root / "src/a.rs", f"pub fn a() -> u32 {{ {i} }} // {kind} {t0}\n")
                    saves.append((kind, t0))
                    latency.wait_new_stamp(stamps, before, 3.0)
                    time.sleep(0.15)
            # perf writes its file on SIGINT, and passes it on to the tool.
            os.killpg(proc.popen.pid, signal.SIGINT)
            proc.popen.wait(timeout=30)
    return saves, data


def events(data: Path) -> list[tuple[int, str]]:
    """(time in ns, `COMM <call=RET` / `COMM >call` / `COMM wakes` / `COMM fork|exec PATH`)."""
    text = subprocess.run(["perf", "script", "--ns", "-i", str(data), "-F", "comm,pid,tid,time,event,trace"],
                          capture_output=True, text=True).stdout
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        comm, _pid, _tid, t, event, rest = m.groups()
        comm = comm.strip()
        event = event.split(":")[-1]
        if event in ("sys_enter", "sys_exit"):
            nr = re.search(r"NR (\d+)", rest)
            call = NR.get(int(nr.group(1))) if nr else None
            if call is None:
                continue
            ret = re.search(r"= (-?\d+)", rest) if event == "sys_exit" else None
            label = f"{comm} {'>' if event == 'sys_enter' else '<'}{call}" + (f"={ret.group(1)}" if ret else "")
        elif event == "sched_wakeup":
            label = f"{comm} wakes {rest}"
        elif event == "sched_process_fork":
            label = f"{comm} fork {rest}"
        else:
            path = re.search(r"filename=(\S+)", rest)
            label = f"{comm} exec {path.group(1) if path else rest}"
        out.append((int(round(float(t) * 1e9)), label))
    out.sort()
    return out


def steps(saves, evs) -> dict:
    """Per save kind and step: the times since the previous step seen, in ms."""
    found: dict = {}
    bounds = [t for _, t in saves[1:]] + [1 << 62]
    for (kind, t0), t_next in zip(saves, bounds):
        window = [e for e in evs if t0 <= e[0] < t_next]
        # The steps before the command's exec are looked for before it only (a spare's refill
        # forks after it).
        anchor = next((t for t, label in window if re.search(EXEC, label)), t_next)
        at, prev = -1, ("save", t0)
        for i, (name, pattern) in enumerate(STEPS):
            before = anchor if i < EXEC_STEP else 1 << 62
            hit = next((t for t, label in window
                        if at <= t <= before and re.search(pattern, label)), None)
            if hit is None:
                continue
            found.setdefault((kind, name), []).append((hit - prev[1]) / 1e6)
            at, prev = hit, (name, hit)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=12, help="saves of each kind")
    parser.add_argument("--out", default=None, help="where perf's files go (default: a temp dir)")
    parser.add_argument("tools", nargs="+", metavar="NAME=ARGV")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="hot-bench-steps-out-"))
    out.mkdir(parents=True, exist_ok=True)
    for spec in args.tools:
        name, _, argv = spec.partition("=")
        saves, data = record(name, argv.split("|"), args.n, out)
        found = steps(saves, events(data))
        print(f"== {name}: median ms since the previous step (saves that showed it)")
        for kind in ("plain", "atomic"):
            cells = [f"{step} {statistics.median(v):.3f} ({len(v)})"
                     for step, _ in STEPS if (v := found.get((kind, step)))]
            print(f"  {kind:6} " + " | ".join(cells))
    print(f"perf's files: {out}")


if __name__ == "__main__":
    main()
