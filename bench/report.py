"""Markdown tables of bench/run.py: one per measure, with medians, min-max and each tool's
ratio to hot (hot at its default settings; above 1.00x the tool is slower or bigger)."""

import statistics

import common
import plan
from burst import BURSTS
from suite import median_range, ratio


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _hot(results, pick):
    """The value of hot at its default settings (the ratios' base)."""
    for tool, r in results.items():
        if getattr(tool, "kind", None) == "hot" and not tool.fast:
            return pick(r)
    return None


def latency_table(results: dict, n: int) -> str:
    rows, notes = [], []
    for kind in ["plain", "atomic"]:
        base = _hot(results, lambda r: _median(r[kind]["latencies"]))
        for tool, r in results.items():
            lat = r[kind]["latencies"]
            rows.append([kind, tool.kind, tool.setting, median_range(lat), r[kind]["duplicates"],
                         r[kind]["missed"], ratio(_median(lat), base)])
    for tool, r in results.items():
        if r["initial"]:
            notes.append(f"{tool.label} ran {r['initial']} time(s) at start, before the first save (not counted).")
    head = (f"### Save → command start ({n} plain saves, then {n} atomic saves: temp file renamed over)\n\n"
            "Latency: the write to the command's first `date +%s%N`; a duplicate is any further run "
            "before the next save.\n\n")
    table = common.table(["save", "tool", "setting", "median ms (min-max)", "duplicates", "missed", "× hot"], rows)
    return head + table + "".join(f"\n\n{n_}" for n_ in notes) + "\n"


def burst_table(results: dict, files: int, reps: int, window: float) -> str:
    rows = []
    # burst.py --bursts runs some of them only.
    names = [n for n in BURSTS if all(n in r for r in results.values())]
    for name in names:
        base = _hot(results, lambda r: _median([m["first_ms"] for m in r[name]]))
        for tool, r in results.items():
            ms = r[name]
            label, setting = (tool.kind, tool.setting) if tool != "none" else ("no watcher", "-")
            first = _median([m["first_ms"] for m in ms])
            cpu = [m["cpu_s"] for m in ms if m["cpu_s"] == m["cpu_s"]]
            rows.append([name, label, setting, median_range([m["burst_ms"] for m in ms], "{:.0f}"),
                         median_range([m["max_gap_ms"] for m in ms]),
                         median_range([m["runs"] for m in ms], "{:.0f}") if tool != "none" else "-",
                         median_range([m["during"] for m in ms], "{:.0f}") if tool != "none" else "-",
                         median_range([m["first_ms"] for m in ms]), median_range([m["last_ms"] for m in ms]),
                         ratio(first, base) if tool != "none" else "-",
                         median_range(cpu, "{:.2f}")])
    head = (f"### Bursts of {files:,} files ({reps} repetition(s) of each)\n\n"
            "A Cargo workspace of 100 crates holding the files. rewrite: every file rewritten in place as fast as possible; "
            "saves: every file saved the editor way (temp file renamed over), paced over about 1 s; touches: every file's "
            "times set, content unchanged; fmt: a real `cargo fmt --all` that rewrites every file; checkout: a real "
            "`git checkout -f` to a branch that changes every file. The longest gap between two writes of the burst is "
            "shown (not known for fmt and checkout): a gap longer than a tool's quiet period splits the burst "
            f"legitimately. Runs are counted from the burst's start to {window:.0f} s after its end (for fmt and "
            "checkout, the command's exit); lateness is from the burst's end to the first (last) run that started after it.\n\n")
    table = common.table(["burst", "tool", "setting", "burst ms", "longest gap ms", "runs", "runs during burst",
                          "end → first run ms", "end → last run ms", "× hot (first run)", "tool CPU s"], rows)
    waves = []
    for tool, r in results.items():
        if getattr(tool, "kind", None) == "hot":
            for name in names:
                w = [m.get("waves") or [] for m in r[name]]
                shown = ["; ".join(f"{n} files at {t:+.0f} ms" for n, t in x[:4]) + (" ..." if len(x) > 4 else "")
                         for x in w]
                waves.append(f"{tool.label} {name}: waves per repetition {[len(x) for x in w]} "
                             f"(files, `wave_started` after the end: {' | '.join(shown)})")
    return head + table + "\n\n" + "\n".join(f"- {w}" for w in waves) + "\n"


def servers_table(results: dict, restarts: int, startup_ms: int) -> str:
    rows, notes = [], []
    for (kind, clients), by_config in results.items():
        base_slow = by_config.get("hot ready", {}).get("slowest")
        base_change = _median(by_config.get("hot ready", {}).get("change_ms", []))
        for config, r in by_config.items():
            if "alone" in r:
                rows.append([kind, "-", "server alone", "-", "-", "-", "-", "-", "-",
                             median_range(r["alone"], "{:.0f}"), ratio(_median(r["alone"]), base_change)])
                continue
            if r.get("never"):
                rows.append([kind, clients, config, "-", "-", "-", "-", "never served", "-", "-", "-"])
                continue
            rows.append([kind, clients, config, r["restarts"], r["requests"], r["refused"], r["failed"],
                         f"{r['slowest']:.1f}", ratio(r["slowest"], base_slow),
                         median_range(r["change_ms"], "{:.0f}"), ratio(_median(r["change_ms"]), base_change)])
            if r["details"]:
                notes.append(f"{kind} / {clients} client(s) / {config}: failures {r['details']}")
    head = (f"### Restarts of real servers under a loopback client ({restarts} restarts, {startup_ms} ms start-up)\n\n"
            "Clients: 1 sends a GET every 10 ms (after the previous answer); 8 do so at once. "
            "`hot ready` declares `ready log=\"^ready$\"` (the old instance serves until the new one is "
            "ready); `systemfd+wx` is `systemfd --no-pid -s tcp::… -- watchexec -r`. Change → new build "
            f"serving: the write to the first answer from the new version (includes the {startup_ms} ms start-up); "
            "`server alone` is the server's own start-up, spawned directly with the socket on fd 3: the time from "
            "the spawn to the answer to a GET sent right after it (3 runs), the floor of any supervisor.\n\n")
    table = common.table(["server", "clients", "config", "restarts", "requests", "refused", "failed",
                          "slowest ms", "× hot", "change → new build serving ms", "× hot"], rows)
    return head + table + "".join(f"\n\n{n_}" for n_ in notes) + "\n" + phases_table(results)


def phases_table(results: dict) -> str:
    """Where hot's change → new build serving goes (see servers.phases), beside the server's
    own spawn → ready line and spawn → first answer when started alone."""
    from servers import PHASES
    rows = []
    alone = {kind: c["server alone"] for (kind, _), c in results.items() if "server alone" in c}
    for (kind, clients), by_config in results.items():
        ph = by_config.get("hot ready", {}).get("phases")
        if not ph or not ph[PHASES[0]]:
            continue
        a = alone.get(kind, {})
        rows.append([kind, clients] + [median_range(ph[name], "{:.1f}") for name in PHASES]
                    + [median_range(a.get("alone_ready", []), "{:.0f}"), median_range(a.get("alone", []), "{:.0f}"),
                       median_range(a.get("alone_cold", []), "{:.1f}")])
    if not rows:
        return ""
    head = ("\n#### Where change → new build serving goes (hot ready)\n\n"
            "From hot's `--json` events, stamped on arrival, per restart: the write to `wave_started` "
            "(the watcher's quiet window), to `node_started` (engine, spawn through the keeper), to "
            "`service_ready` (the server's start-up to its ready line, read back), then to the end of the "
            "first answer from the new version (the old instance's stop, the client's pacing of up to "
            "10 ms, the answer). `alone`: the same server spawned directly, to its ready line and to the "
            "answer to a GET waiting in the backlog, on a machine not serving the old instance's traffic; "
            "`alone: fresh instance, slowest of N at once`: N GETs sent together right after a fresh "
            "instance's ready line (N the most clients of the run), the floor of the slowest request under "
            "that many clients whoever starts the server.\n\n")
    return head + common.table(["server", "clients"] + [f"{n} ms" for n in PHASES]
                               + ["alone: spawn → ready line ms", "alone: spawn → answer ms",
                                  "alone: fresh instance, slowest of N at once ms"], rows) + "\n"


def tree_table(results: dict, about: str, idle: float, settle: float) -> str:
    rows = []
    base = {k: _hot(results, lambda r, k=k: r.get(k)) for k in ["rss_kb", "startup_cpu_s"]}
    base_edit = _hot(results, lambda r: _median(r["edit_ms"]))
    for tool, r in results.items():
        rss = r.get("rss_kb")
        cpu = r.get("startup_cpu_s")
        rows.append([tool.kind, tool.setting,
                     f"{r['ready_s'] * 1000:.0f} ms" if r.get("ready_s") is not None else "- (no signal)",
                     f"{r['busy_s']:.2f} s" if r.get("busy_s") is not None else "-",
                     f"{rss / 1024:.1f} MiB ({ratio(rss, base['rss_kb'])})" if rss else "-",
                     f"{cpu * 1000:.0f} ms ({ratio(cpu, base['startup_cpu_s'])})" if cpu is not None else "-",
                     f"{r['idle_cpu_ms']:.0f}" if r.get("idle_cpu_ms") is not None else "-",
                     f"{r['wakeups_per_s']:.1f}" if r.get("wakeups_per_s") is not None else "-",
                     median_range(r["edit_ms"]), ratio(_median(r["edit_ms"]), base_edit)])
    head = (f"### A large tree: {about}\n\n"
            f"Watching after: spawn → hot's `watching` event (the peers print no readiness signal). Start-up work "
            f"ends: spawn → the last growth of the watcher's CPU time before 1 s without any (watched from hot's first "
            f"wave or the peer's spawn, for at least {settle:.0f} s). RSS and start-up CPU (utime+stime) then; "
            f"idle CPU and wake-ups (voluntary + involuntary context switches of all its threads) over "
            f"the next {idle:.0f} s; then 5 edits → command start.\n\n")
    table = common.table(["tool", "setting", "watching after", "start-up work ends after", "RSS", "start-up CPU", f"idle CPU ms / {idle:.0f} s",
                          "idle wake-ups / s", "edit → start ms", "× hot"], rows)
    return head + table + "\n"


def tree1m_table(results: dict, about: str, idle: float) -> str:
    rows = []
    for label, r in results.items():
        if "error" in r:
            rows.append([label] + ["-"] * 8 + [r["error"]])
            continue
        rows.append([label,
                     f"{r['ready_s']:.2f} s" if r.get("ready_s") is not None else "-",
                     f"{r['busy_s']:.2f} s" if r.get("busy_s") is not None else "-",
                     f"{r['rss_kb'] / 1024:.1f} MiB" if r.get("rss_kb") else "-",
                     f"{r['startup_cpu_s'] * 1000:.0f} ms" if r.get("startup_cpu_s") is not None else "-",
                     f"{r['idle_cpu_ms']:.0f}" if r.get("idle_cpu_ms") is not None else "-",
                     f"{r['wakeups_per_s']:.1f}" if r.get("wakeups_per_s") is not None else "-",
                     str(r.get("directories", "-")), str(r.get("polled", 0)),
                     median_range(r["edit_ms"]) + (f" ({5 - len(r['edit_ms'])} missed)" if len(r["edit_ms"]) < 5 else "")])
    fixes = sorted({r["fix"] for r in results.values() if r.get("fix")})
    head = (f"### A simulated monorepo: {about}\n\n"
            "hot only, once at the system's inotify watch limit and once in a user namespace with a "
            "smaller one (the kernel applies the lower). Columns as in the large tree's table; "
            "directories: watched in all (inotify and polled); polled: past the limit, from hot's "
            "`watch_fallback` event; edits go to the last top directory, the one a small limit leaves "
            "to the poller.\n\n")
    table = common.table(["limit", "watching after", "start-up work ends after", "RSS", "start-up CPU",
                          f"idle CPU ms / {idle:.0f} s", "idle wake-ups / s", "directories", "polled",
                          "edit → start ms"], rows)
    note = "".join(f"\nhot's suggested fix: `{f}`\n" for f in fixes)
    return head + table + "\n" + note


def plan_table(results: dict, nodes: int, runs: int) -> str:
    base = _median(results.get(plan.BASELINE, []))
    rows = [[label, median_range(ms, "{:.2f}"), ratio(_median(ms), base)] for label, ms in results.items()]
    head = (f"### Plan of a {nodes}-node Hotfile ({runs} runs of each command, whole process, taking turns)\n\n"
            "No peer reads a Hotfile; the baseline is hot's own start-up. Target: each command within "
            "10 ms and at most 2x `hot --version`.\n\n")
    return head + common.table(["command", "ms: median (min-max)", "× hot --version"], rows) + "\n"


def story_table(results: dict, project: str = "hello") -> str:
    rows, notes = [], []
    hot = "hot" if "hot" in results else "hot init"
    base = _median(results.get(hot, {}).get("served_ms", []))
    for setup, r in results.items():
        if "error" in r:
            rows.append([setup, r["error"], "-", "-", "-", "-"])
            continue
        share = f"{100 * r['broken_good_share']:.0f}%"
        if r["broken_refused"] or r["broken_failed"]:
            share += f" ({r['broken_refused']} refused, {r['broken_failed']} timed out or failed)"
        rows.append([f"`{setup}`" if setup != "hot" else "`hot`",
                     median_range([v / 1000 for v in r["served_ms"]], "{:.2f}") + " s",
                     median_range(r["refused"], "{:.0f}"),
                     f"{max(r['slowest_ms']):.0f} ms", share, ratio(_median(r["served_ms"]), base)])
        if r.get("load"):
            notes.append(f"{setup}: load average (1 min) when its rounds started: "
                         + ", ".join(f"{v:.1f}" for v in r["load"]))
        notes.append(f"{setup}: broken edit watched {r['broken_window_s']:.1f} s: {r['broken_requests']} requests "
                     f"started, {r['broken_good']} answered by the last good build, {r['broken_refused']} refused, "
                     f"{r['broken_failed']} failed (10 s timeout), slowest "
                     + (f"{r['broken_slowest_ms']:.0f} ms" if r["broken_slowest_ms"] is not None else "-"))
        for i, nodes in enumerate(r.get("nodes", []), 1):
            spans = ", ".join(f"{n} {a / 1000:.2f}-{b / 1000:.2f} s" if b is not None else f"{n} from {a / 1000:.2f} s"
                              for n, (a, b) in sorted(nodes.items(), key=lambda kv: kv[1][0]))
            notes.append(f"{setup}: edit {i}: {spans} after the save (node start-end; serve's end is `service_ready`)")
    edits = max((len(r.get("served_ms", [])) for r in results.values()), default=0)
    what = {"hello": ("an axum hello-world under five dev loops", "examples/axum-hello"),
            "todos": ("axum's todos example, a project bigger than hello-world", "examples/axum-todos")}[project]
    head = (f"### The story: {what[0]}\n\n"
            f"{what[1]} with real `cargo clippy`, `cargo test` and `cargo build`; {edits} edit(s) of the "
            "greeting each, then a broken edit (a type error); a client sends a GET every 20 ms, one after the other, "
            "10 s timeout. Broken edit: the share of the window after the broken save (at least 4 s) during which "
            "the last good build answered; a request that hangs counts for its whole wait.\n\n")
    table = common.table(["setup", "edit → new text served", "refused per edit", "slowest request (edits)",
                          "broken edit: answered by the last good build", f"× {hot}"], rows)
    return head + table + "\n\n" + "\n".join(f"- {n_}" for n_ in notes) + "\n"


def _best(items, key):
    """(label, value) of the item with the smallest key, or None."""
    items = [(label, v) for label, v in items if v is not None]
    return min(items, key=lambda kv: key(kv[1])) if items else None


def summary_table(collected: dict) -> str:
    """hot against the best peer at default settings and at any setting, one row per measure;
    the details are in the tables below it."""
    rows = []

    def row(measure, hot, hot_fast, best_default, best_any, fmt):
        cell = lambda b: f"{b[0]}: {fmt(b[1])}" if b else "-"  # noqa: E731
        rows.append([measure, fmt(hot) if hot is not None else "-", fmt(hot_fast) if hot_fast is not None else "-",
                     cell(best_default), cell(best_any)])

    lat = collected.get("latency")
    if lat:
        for kind in ["plain", "atomic"]:
            def val(r):
                m = _median(r[kind]["latencies"])
                return None if m is None else (m, r[kind]["duplicates"])
            hot = next((val(r) for t, r in lat.items() if t.kind == "hot" and not t.fast), None)
            fast = next((val(r) for t, r in lat.items() if t.kind == "hot" and t.fast), None)
            peers_ = [(t.label, val(r)) for t, r in lat.items() if t.kind != "hot"]
            row(f"save → command start, {kind} save: median (duplicates)", hot, fast,
                _best([p for p, t in zip(peers_, [t for t in lat if t.kind != "hot"]) if not t.fast], lambda v: v[0]),
                _best(peers_, lambda v: v[0]), lambda v: f"{v[0]:.1f} ms ({v[1]})")
    bursts = collected.get("bursts")
    if bursts:
        for name in BURSTS:
            def val(r):
                ms = r[name]
                return (_median([m["runs"] for m in ms]), _median([m["first_ms"] for m in ms]))
            tools = [t for t in bursts if t != "none"]
            hot = next((val(bursts[t]) for t in tools if t.kind == "hot" and not t.fast), None)
            fast = next((val(bursts[t]) for t in tools if t.kind == "hot" and t.fast), None)
            peers_ = [(t.label, val(bursts[t])) for t in tools if t.kind != "hot"]
            key = lambda v: (abs(v[0] - 1), v[1] if v[1] is not None else 1e9)  # noqa: E731
            fmt = lambda v: f"{v[0]:.0f} runs, " + (f"{v[1]:.0f} ms late" if v[1] is not None else "none after")  # noqa: E731
            row(f"burst ({name}): runs / end → first run", hot, fast,
                _best([(t.label, val(bursts[t])) for t in tools if t.kind != "hot" and not t.fast], key),
                _best(peers_, key), fmt)
    servers = collected.get("servers")
    if servers:
        by_config = {}
        for (kind, clients), configs in servers.items():
            for config, r in configs.items():
                if "slowest" in r:
                    by_config.setdefault(config, []).append(r["slowest"])
        worst = {c: max(v) for c, v in by_config.items()}
        row("restart of a server (800 ms start-up): slowest request, worst server kind",
            worst.get("hot ready"), None, ("systemfd + watchexec -r", worst.get("systemfd+wx")), None,
            lambda v: f"{v:.0f} ms")
        over = []
        for (kind, clients), configs in servers.items():
            alone = _median(configs.get("server alone", {}).get("alone", []))
            change = _median(configs.get("hot ready", {}).get("change_ms", []))
            if alone is not None and change is not None:
                over.append(change - alone)
        if over:
            rows.append(["restart: change → new build serving, above the server's own start-up (hot, worst kind)",
                         f"{max(over):.0f} ms", "-", "-", "-"])
    tree_ = collected.get("tree")
    if tree_:
        hot = next((r for t, r in tree_.items() if t.kind == "hot"), {})
        for key, label, fmt in [("rss_kb", "RSS", lambda v: f"{v / 1024:.1f} MiB"),
                                ("startup_cpu_s", "start-up CPU", lambda v: f"{v * 1000:.0f} ms"),
                                ("wakeups_per_s", "idle wake-ups", lambda v: f"{v:.1f} /s")]:
            row(f"large tree: {label}", hot.get(key), None,
                _best([(t.label, r.get(key)) for t, r in tree_.items() if t.kind != "hot"], lambda v: v), None, fmt)
        if hot.get("ready_s") is not None:
            rows.append(["large tree: watching after", f"{hot['ready_s'] * 1000:.0f} ms", "-", "no peer signals it", "-"])
    for key, label, ours in [("story", "the story", "hot"), ("todos", "the story on axum's todos", "hot init")]:
        story_ = collected.get(key)
        if not story_:
            continue

        def val(r):
            return None if "error" in r else (_median(r["served_ms"]), _median(r["refused"]), r["broken_good_share"])
        hot = val(story_[ours]) if ours in story_ else None
        peers_ = [(s, val(r)) for s, r in story_.items() if s != ours and not s.startswith("shape:")]
        fmt = lambda v: f"{v[0] / 1000:.2f} s, {v[1]:.0f} refused, {100 * v[2]:.0f}% during a broken edit"  # noqa: E731
        row(f"{label}: edit → new text served, refused per edit, last good build answering",
            hot, None, _best(peers_, lambda v: v[0]), None, fmt)
    head = ("### Summary\n\nhot at its defaults and at its fastest setting, against the best peer at its "
            "defaults and at any setting (best: fastest; for bursts, closest to one run, then earliest).\n\n")
    return head + common.table(["measure", "hot", "hot, fastest setting", "best peer, default settings",
                                "best peer, any setting"], rows) + "\n"
