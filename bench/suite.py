"""The measures of bench/run.py for the watchers: save -> start, bursts, the 100,000-file tree
and the 500-node plan. Each returns rows for run.py's tables; every tool runs the same command,
`sh -c 'date +%s%N >> STAMPS'`, in a fresh temp project, one tool at a time.
"""

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import burst
import common
import latency
import peers
import plan
import tree


stamp_command = burst.stamp_command


# --- save -> command start -------------------------------------------------------------------

def save_to_start(tools, paths: dict, n: int, gap: float, settle: float, log) -> dict:
    """{tool: {"plain"|"atomic": {latencies, duplicates, missed}, "initial": runs before the
    first save}}; n saves of each kind (latency.py's measure_saves)."""
    results = {}
    for tool in tools:
        log(f"  save -> start: {tool.label}")
        with tempfile.TemporaryDirectory(prefix="hot-bench-latency-") as tmp:
            root = Path(tmp)
            stamps = root / "STAMPS"
            (root / "src").mkdir()
            (root / "src/a.rs").write_text("pub fn a() {}\n")
            try:
                proc, _ = peers.start(tool, paths, root, stamp_command(stamps), settle)
            except RuntimeError as e:
                log(f"  {tool.label}: {e}")
                continue
            with proc:
                r = {"initial": len(common.read_stamps(stamps))}
                for kind, save in [("plain", common.write_text), ("atomic", common.atomic_save)]:
                    lat, dup, missed = latency.measure_saves(save, root / "src/a.rs", stamps, n, gap, 3.0, kind)
                    r[kind] = {"latencies": lat, "duplicates": dup, "missed": missed}
            results[tool] = r
    return results


# --- bursts (bench/burst.py) ----------------------------------------------------------------

BURSTS = burst.BURSTS


def bursts(tools, paths: dict, files: int, reps: int, window: float, seconds: float, settle: float, log) -> dict:
    """{tool: {burst: [burst.measure() result per repetition]}}: burst.py's five bursts."""
    return burst.run(tools, paths, files, reps, window, seconds, settle, log)


# --- the 100,000-file tree -------------------------------------------------------------------

def wakeups(pid: int) -> int | None:
    """Context switches (voluntary + involuntary) of every thread of pid: each is a wake-up."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def wait_cpu_quiet(pid: int, quiet: float, at_least: float, limit: float) -> float | None:
    """Waits at least `at_least` s, then until pid's CPU time has not grown for `quiet` s
    (bounded by `limit`); returns when it last grew (time.monotonic()), i.e. when its start-up
    work ended (CPU time is counted in clock ticks, so to ~10 ms)."""
    start = time.monotonic()
    last_cpu, last_change = tree.cpu_s(pid), start
    while time.monotonic() < start + limit:
        time.sleep(0.05)
        cpu = tree.cpu_s(pid)
        if cpu is None:
            return None
        if cpu != last_cpu:
            last_cpu, last_change = cpu, time.monotonic()
        elif time.monotonic() - last_change >= quiet and time.monotonic() - start >= at_least:
            break
    return last_change


def idle_figures(pid: int, idle: float) -> dict:
    """CPU and wake-ups of `pid` (all its threads) over `idle` seconds of doing nothing."""
    c0, w0 = tree.cpu_s(pid), wakeups(pid)
    time.sleep(idle)
    c1, w1 = tree.cpu_s(pid), wakeups(pid)
    return {
        "idle_cpu_ms": (c1 - c0) * 1000 if c0 is not None and c1 is not None else None,
        "wakeups_per_s": (w1 - w0) / idle if w0 is not None and w1 is not None else None,
    }


def edit_latencies(stamps, paths: list, pause: float) -> list[float]:
    """Edits each of `paths` in turn, `pause` s apart: ms from each write to the first stamp
    of the command after it (an edit that started nothing within 10 s is left out)."""
    lat = []
    for path in paths:
        before = len(common.read_stamps(stamps))
        t_edit = time.time_ns()
        common.write_text(path, f"pub fn f() -> u64 {{ {t_edit} }}\n")
        got = latency.wait_new_stamp(stamps, before, 10)
        new = [s for s in got if s >= t_edit]
        if new:
            lat.append((new[0] - t_edit) / 1e6)
        time.sleep(pause)
    return lat


def tree_run(tools, paths: dict, scale: float, idle: float, settle: float, log) -> tuple[dict, str]:
    """Builds tree.py's tree (100,100 watched files at scale 1), then per tool: spawn ->
    watching (hot's event; peers have none), the end of its start-up work (its CPU time stops
    growing for 1 s), RSS and CPU then, CPU and wake-ups over an idle window, and edit -> run
    start (5 edits)."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="hot-bench-tree-") as tmp:
        root = Path(tmp)
        t = time.monotonic()
        nfiles, ndirs, ignored = tree.build_tree(tmp, scale)
        about = (f"{nfiles} watched .rs files in {ndirs} directories (+{ignored} ignored files), "
                 f"built in {time.monotonic() - t:.1f} s")
        log(f"  tree: {about}")
        time.sleep(3.5)  # hot hashes a baseline only of files older than 3 s (a checkout that is not brand new)
        stamps = root / "STAMPS"
        for tool in tools:
            log(f"  tree: {tool.label}")
            stamps.unlink(missing_ok=True)
            r = {}
            t_spawn, t_spawn_mono = time.time_ns(), time.monotonic()
            try:
                proc, events = peers.start(tool, paths, root, stamp_command(stamps), 0.1, timeout=120)
            except RuntimeError as e:
                log(f"  {tool.label}: {e}")
                continue
            with proc:
                pid = proc.popen.pid
                if events:
                    watching = next(e for e in events.log if e.get("event") == "watching")
                    r["ready_s"] = (watching["_t"] - t_spawn) / 1e9
                # the start-up is over once the watcher's CPU time stops growing (peers keep
                # scanning well past any fixed settle time on a big tree)
                busy = wait_cpu_quiet(pid, 1.0, settle, 60.0)
                r["busy_s"] = busy - t_spawn_mono if busy is not None else None
                r["rss_kb"] = tree.rss_kb(pid)
                r["startup_cpu_s"] = tree.cpu_s(pid)
                r.update(idle_figures(pid, idle))
                edits = [root / "src" / "m0" / f"l{i}" / "f0.rs" for i in range(5)]
                r["edit_ms"] = edit_latencies(stamps, edits, 0.6)
            results[tool] = r
    return results, about


# --- a 1,000,000-file monorepo -------------------------------------------------------------

def watch_limit() -> int | None:
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_watches").read_text())
    except (OSError, ValueError):
        return None


def in_namespace_limit(limit: int) -> list[str]:
    """A prefix that runs a command in a user namespace whose inotify watch limit is `limit`
    (the kernel applies the lower of it and the system's), so the fallback at a small limit is
    measured without changing the machine's setting."""
    return ["unshare", "-U", "-r", "sh", "-c",
            f'echo {limit} > /proc/sys/user/max_inotify_watches && exec "$0" "$@"']


def tree_1m(hot: str, scale: float, limits: list, idle: float, log) -> tuple[dict, str]:
    """tree.py's tree at `scale` (10: 1,001,000 watched files in 111,101 directories, a
    simulated monorepo), hot only, once per limit: `None` is the system's watch limit, a number
    a user-namespace limit. Per run: spawn -> watching, the end of the start-up work, RSS,
    start-up CPU, idle CPU and wake-ups, directories watched and polled (`watch_fallback`), and
    edit -> run start (5 edits)."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="hot-bench-tree1m-") as tmp:
        root = Path(tmp)
        t = time.monotonic()
        nfiles, ndirs, ignored = tree.build_tree(tmp, scale)
        about = (f"{nfiles} watched .rs files in {ndirs} directories (+{ignored} ignored files), "
                 f"built in {time.monotonic() - t:.1f} s")
        log(f"  tree1m: {about}")
        time.sleep(3.5)
        stamps = root / "STAMPS"
        tool = next(t for t in peers.TOOLS if t.kind == "hot" and not t.fast)
        peers.prepare(tool, root, stamp_command(stamps))
        for limit in limits:
            label = f"system limit {watch_limit()}" if limit is None else f"user-namespace limit {limit}"
            log(f"  tree1m: hot, {label}")
            stamps.unlink(missing_ok=True)
            argv = peers.argv(tool, {"hot": hot}, stamp_command(stamps))
            if limit is not None:
                argv = in_namespace_limit(limit) + argv
            r = {}
            t_spawn, t_spawn_mono = time.time_ns(), time.monotonic()
            with common.Proc(argv, cwd=root, capture=True) as proc:
                events = common.HotEvents(proc)
                try:
                    common.wait_hot_started(events, 300)
                except RuntimeError as e:
                    log(f"  tree1m: {e}")
                    results[label] = {"error": str(e)}
                    continue
                pid = proc.popen.pid
                watching = next(e for e in events.log if e.get("event") == "watching")
                r["ready_s"] = (watching["_t"] - t_spawn) / 1e9
                r["directories"] = watching.get("directories")
                # past the limit the poller keeps a core busy: its start-up never goes quiet
                busy = wait_cpu_quiet(pid, 1.0, 3.0, 300.0 if limit is None else 30.0)
                r["busy_s"] = busy - t_spawn_mono if busy is not None else None
                r["rss_kb"] = tree.rss_kb(pid)
                r["startup_cpu_s"] = tree.cpu_s(pid)
                r.update(idle_figures(pid, idle))
                fallback = [e for e in events.log if e.get("event") == "watch_fallback"]
                r["polled"] = fallback[0].get("polled") if fallback else 0
                r["fix"] = fallback[0].get("fix") if fallback else None
                # The last top directory: the one a small limit leaves to the poller.
                top = max(int(p.name[1:]) for p in (root / "src").iterdir())
                edits = [root / "src" / f"m{top}" / f"l{i}" / "f0.rs" for i in range(5)]
                r["edit_ms"] = edit_latencies(stamps, edits, 1.2)
            results[label] = r
    return results, about


# --- the 500-node plan -----------------------------------------------------------------------

def plan_run(hot: str, nodes: int, runs: int) -> dict:
    """{label: [ms per run]}: plan.py's commands on its generated Hotfile, taking turns."""
    with tempfile.TemporaryDirectory(prefix="hot-bench-plan-") as tmp:
        root = Path(tmp)
        (root / "Hotfile").write_text(plan.hotfile(nodes))
        return plan.measure_all(hot, root, runs)


def median_range(values, fmt="{:.1f}") -> str:
    """`median (min-max)`, or "-" when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def ratio(value, base) -> str:
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def check_output(argv, **kw) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kw).stdout
