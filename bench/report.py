#!/usr/bin/python3
"""Runs every figure of issue 5 against a built tree and prints one markdown
table (called by bench/run, which builds first; see there for the options).

Each piece is its own script with its own detailed output, kept in
<build>/bench-logs/: plan_process.py, relay_process.py (with the error path
from smlaunch_relay_bench), cluster_scale.py, footprint.py. The last two need
root (network namespaces, tests/e2e's harness); without root they are
reported as skipped.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"

# The Python toolkit (sagemaker-training) for the same work, from issue 5.
TOOLKIT = {"plan": "~490 ms / 50 MiB", "relay": "7.3 MB/s / 42 MiB", "error": "34 s at 80k lines",
           "tail": ">= 30 s"}


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    return f"{os.cpu_count()} CPUs ({model}), {mem} RAM, Linux {platform.release()}"


REUSE = False
SETTLE_BUSY = 0.25       # share of all CPUs busy (2 s windows) a step waits to fall below ...
SETTLE_MAX_S = 150       # ... for at most this long
SETTLED = []             # (step, seconds waited, busy share when it started)


def cpu_busy(window=2.0):
    """Share of all CPUs busy over `window` seconds (/proc/stat)."""
    def read():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]   # total, idle + iowait
    total0, idle0 = read()
    time.sleep(window)
    total1, idle1 = read()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def settle(name):
    """Waits until the machine is quiet (two 2-s windows under SETTLE_BUSY),
    at most SETTLE_MAX_S: the build, or the previous step, may still be
    running down; timings on a busy 2-core VM measure the scheduler, not
    smlaunch."""
    t0 = time.time()
    quiet = 0
    busy = cpu_busy()
    while time.time() - t0 < SETTLE_MAX_S:
        quiet = quiet + 1 if busy < SETTLE_BUSY else 0
        if quiet >= 2:
            break
        busy = cpu_busy()
    waited = time.time() - t0
    print(f"bench: {name}: started after {waited:.0f}s, CPUs {busy:.0%} busy", file=sys.stderr, flush=True)
    SETTLED.append((name, waited, busy))


def step(name, argv, logs, json_path, timeout):
    if REUSE:   # --reuse: the figures of the last run, from <build>/bench-logs
        with open(json_path) as f:
            return json.load(f), 0.0
    settle(name)
    print(f"bench: {name}: {' '.join(argv)}", file=sys.stderr, flush=True)
    t0 = time.time()
    with open(os.path.join(logs, f"{name}.log"), "w") as log:
        try:
            p = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
            code = p.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    took = time.time() - t0
    print(f"bench: {name}: exit {code} after {took:.0f}s (log: {os.path.join(logs, name + '.log')})",
          file=sys.stderr, flush=True)
    if code == 0 and os.path.exists(json_path):
        with open(json_path) as f:
            return json.load(f), took
    return {"error": f"exit {code}, see {os.path.join(logs, name + '.log')}"}, took


def mark(ok):
    return "met" if ok else "**missed**"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--hosts", help="cluster sizes (default 8,32,64; --quick: 8)")
    ap.add_argument("--cluster-runs", type=int)
    ap.add_argument("--footprint-seconds", type=float)
    ap.add_argument("--skip", default="", help="comma list of: plan,relay,cluster,footprint")
    ap.add_argument("--note", default="", help="a line printed under the table (e.g. the build flags)")
    ap.add_argument("--reuse", action="store_true", help="print the table of the last run's figures (no measuring)")
    a = ap.parse_args()
    global REUSE
    REUSE = a.reuse
    build = os.path.abspath(a.build)
    logs = os.path.join(build, "bench-logs")
    os.makedirs(logs, exist_ok=True)
    skip = set(filter(None, a.skip.split(",")))
    quick = a.quick
    hosts = a.hosts or ("8" if quick else "8,32,64")
    cruns = a.cluster_runs or (1 if quick else 3)
    fsec = a.footprint_seconds or (10 if quick else 60)
    plan_runs, relay_runs, relay_mb = (50, 2, 100) if quick else (200, 5, 100)
    fruns = 1 if quick else 3
    load0 = os.getloadavg()
    t0 = time.time()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    root = os.geteuid() == 0
    res, took = {}, {}
    if "plan" not in skip:
        res["plan"], took["plan"] = step("plan", [PY, os.path.join(HERE, "plan_process.py"), "--build", build,
                                                  "--runs", str(plan_runs), "--json", f"{logs}/plan.json"],
                                         logs, f"{logs}/plan.json", 900)
    if "relay" not in skip:
        res["relay"], took["relay"] = step("relay", [PY, os.path.join(HERE, "relay_process.py"), "--build", build,
                                                     "--runs", str(relay_runs), "--megabytes", str(relay_mb),
                                                     "--json", f"{logs}/relay.json"],
                                           logs, f"{logs}/relay.json", 1800)
    # The footprint before the cluster sizes: tearing down 64 hosts' network
    # namespaces keeps the kernel busy for minutes after.
    if "footprint" not in skip and root:
        res["footprint"], took["footprint"] = step(
            "footprint", [PY, os.path.join(HERE, "footprint.py"), "--build", build, "--seconds", str(fsec),
                          "--runs", str(fruns), "--json", f"{logs}/footprint.json"],
            logs, f"{logs}/footprint.json", (int(fsec) + 200) * fruns + 400)
    if "cluster" not in skip and root:
        res["cluster"], took["cluster"] = step(
            "cluster", [PY, os.path.join(HERE, "cluster_scale.py"), "--build", build, "--hosts", hosts,
                        "--runs", str(cruns), "--json", f"{logs}/cluster.json", "--logs", logs],
            logs, f"{logs}/cluster.json", 3600)
    load1 = os.getloadavg()
    total = time.time() - t0

    rows = []   # figure, smlaunch, side by side, ratio, target, python
    P = res.get("plan", {})
    if "4 hosts" in P:
        p4, p512, hello = P["4 hosts"], P["512 hosts"], P.get("C++ hello (libstdc++)", {})
        rows.append(["plan --json, 4-host p4d: wall", f"{p4['wall_ms']:.2f} ms (CPU {p4['cpu_ms']:.2f} ms)",
                     f"C++ hello {hello.get('wall_ms', 0):.2f} ms; empty C {P['empty C program']['wall_ms']:.2f} ms",
                     f"{p4['wall_ms'] / hello['wall_ms']:.1f}x hello" if hello.get("wall_ms") else "",
                     f"<= 5 ms: {mark(p4['wall_ms'] <= 5)}", "~490 ms"])
        rows.append(["plan --json, 4-host p4d: peak RSS", f"{p4['rss_mib']:.1f} MiB",
                     f"C++ hello {hello.get('rss_mib', 0):.1f} MiB", "",
                     f"<= 5 MiB: {mark(p4['rss_mib'] <= 5)}", "~50 MiB"])
        rows.append(["plan --json, 512 hosts: wall / RSS", f"{p512['wall_ms']:.2f} ms / {p512['rss_mib']:.1f} MiB",
                     f"4 hosts {p4['wall_ms']:.2f} ms", f"{p512['wall_ms'] / p4['wall_ms']:.2f}x the 4-host wall "
                     f"(CPU {p512['cpu_ms'] / p4['cpu_ms']:.2f}x)",
                     f"<= 50 ms: {mark(p512['wall_ms'] <= 50)}", ""])
    elif "plan" in res:
        rows.append(["planning", P.get("error"), "", "", "", "~490 ms / 50 MiB"])
    R = res.get("relay", {})
    if "healthy" in R:
        for key, label in (("healthy", "healthy"), ("after_error", "after an early error")):
            h = R[key]
            for reader in ("smlaunch train", "relay chain"):
                x = h[reader]
                what = "whole `smlaunch train`" if reader == "smlaunch train" else "relay chain (64-rank tag rewrite)"
                rows.append([f"relay {R['megabytes']:.0f} MB, 64 ranks, {label}: {what}",
                             f"{x['mb_s']:.0f} MB/s, {x['rss_mib']:.1f} MiB",
                             f"cat {h['cat']['mb_s']:.0f} MB/s", f"{x['ratio_to_cat']:.2f} of cat",
                             f">= 1000 MB/s {mark(x['mb_s'] >= 1000)}, >= 0.20 {mark(x['ratio_to_cat'] >= 0.2)}, "
                             f"<= 10 MiB {mark(x['rss_mib'] <= 10)}",
                             "7.3 MB/s / 42 MiB" if key == "healthy" else ""])
        e = R["error_path"]
        ns = [e[k]["ms"] for k in sorted(e, key=int)]
        lin = e["80000"]["ns_per_line"] / e["10000"]["ns_per_line"]
        rows.append(["error path, 10k/20k/40k/80k lines after the first error",
                     " / ".join(f"{v:.1f}" for v in ns) + " ms", "",
                     f"per line 80k vs 10k: {lin:.2f}", f"80k < 100 ms: {mark(e['80000']['ms'] < 100)}, linear: "
                     f"{mark(0.5 <= lin <= 1.5)}", "34 s at 80k"])
    elif "relay" in res:
        rows.append(["relay", R.get("error"), "", "", "", "7.3 MB/s / 42 MiB"])
    C = res.get("cluster", {})
    for n, s in (C.get("sizes") or {}).items():
        if "error" in s:
            rows.append([f"cluster {n} hosts", "FAILED: " + s["error"][:700].replace("|", "/"),
                         f"bare mpirun start {s['bare_start_s']:.3f} s, tail {s['bare_tail_s']:.3f} s"
                         if "bare_start_s" in s else "", "",
                         f"harness made the cluster in {s['cluster_make_s']:.0f} s" if "cluster_make_s" in s else "", ""])
            continue
        runs = s.get("runs", 1)

        def f(k, fmt="{:.3f} s"):
            return fmt.format(s[k]) if s.get(k) is not None else "n/a"
        rows.append([f"cluster {n} hosts: DNS wait", f("dns_s"), "", "", "", ""])
        ready = s.get("sshd_ready_to_all_up_s")
        rows.append([f"cluster {n} hosts: last worker sshd ready -> leader knows all up",
                     (f"{ready:.3f} s" if ready is None or ready >= 0 else
                      f"<= 0 ({ready:.3f} s: the leader's handshake beat the worker's own readiness log line)")
                     if ready is not None else "n/a", f"whole reach phase {f('reach_phase_s')}", "",
                     f"<= 1 s: {mark(s.get('sshd_ready_to_all_up_s', 9) <= 1)}" if n == "64" else "", ""])
        rows.append([f"cluster {n} hosts: SSH login check (all workers)", f("login_check_s"), "", "", "", ""])
        rows.append([f"cluster {n} hosts: start (all started -> first rank)", f("start_s"),
                     f"bare mpirun {f('bare_start_s')}",
                     f"+{s['start_s'] - s['bare_start_s']:.2f} s" if s.get("bare_start_s") else "", "", ""])
        rows.append([f"cluster {n} hosts: mpirun launch (login ok -> first rank), rank spread",
                     f"{f('mpirun_launch_s')}, {f('rank_spread_s')}", f"bare mpirun spread {f('bare_rank_spread_s')}",
                     "", "", ""])
        rows.append([f"cluster {n} hosts: outcome to every worker", f("outcome_all_workers_s"),
                     f"leader's own count {f('outcome_leader_s')}", "",
                     f"<= 1 s: {mark(s.get('outcome_all_workers_s', 9) <= 1)}" if n == "64" else "", ""])
        rows.append([f"cluster {n} hosts: end-of-job tail (last rank ends -> all exited)", f("tail_s"),
                     f"bare mpirun {f('bare_tail_s')}", "", f"<= 1 s: {mark(s.get('tail_s', 9) <= 1)}",
                     ">= 30 s"])
        rows.append([f"cluster {n} hosts: sshd connections dropped 'past MaxStartups' (all hosts)",
                     f("maxstartups_drops", "{:.0f}"), "", "", "", ""])
        rows.append([f"cluster {n} hosts: leader heartbeat blind (no worker answered; not counted)",
                     f("heartbeat_blind_s"), "median of the longest stretch per run", "", "", ""])
        rows.append([f"cluster {n} hosts: leader smlaunch peak threads / peak RSS",
                     f"{s.get('leader_threads_peak', 0):.0f} threads / {s.get('leader_rss_mib', 0):.1f} MiB", "", "",
                     "", ""])
        if s.get("failed_runs"):
            rows.append([f"cluster {n} hosts: FAILED runs", f"{s['failed_runs']} of {runs + s['failed_runs']}",
                         s["failures"][0][:300].replace("|", "/").replace("\n", " "), "", "", ""])
        rows.append([f"cluster {n} hosts: whole job, {runs} run(s); cluster made in", f"{f('total_s')}",
                     f"harness {f('cluster_make_s', '{:.0f} s')}", "", "", ""])
    if "cluster" in res and not C.get("sizes"):
        rows.append(["cluster formation", C.get("error"), "", "", "", ""])
    F = res.get("footprint", {})
    if "roles" in F:
        ro = F["roles"]
        for me, ref in (("smlaunch leader", "mpirun (leader)"), ("smlaunch worker", "orted (worker)")):
            if me not in ro:
                continue
            x, y = ro[me], ro.get(ref)
            rows.append([f"footprint, job printing {F['rate_mb_s']:.0f} MB/s for {F['seconds']:.0f} s "
                         f"(achieved {F['achieved_mb_s']:.1f} MB/s): {me}",
                         f"{x['core_pct']:.2f}% of a core measured, {x['core_pct_at_rate']:.2f}% scaled to "
                         f"{F['rate_mb_s']:.0f} MB/s; peak RSS {x['peak_rss_mib']:.1f} MiB"
                         + (f" (PSS {x['peak_pss_mib']:.1f}, private {x['peak_private_mib']:.1f})"
                            if x.get("peak_pss_mib") else ""),
                         f"{ref} {y['core_pct']:.2f}% ({y['core_pct_at_rate']:.2f}% scaled), {y['peak_rss_mib']:.1f} MiB"
                         if y else "",
                         f"{x['cpu_steady_s'] / y['cpu_steady_s']:.2f}x {ref.split()[0]} CPU"
                         if y and y["cpu_steady_s"] > 0 else "",
                         f"< 2%: {mark(max(x['core_pct'], x['core_pct_at_rate']) < 2)}, <= 10 MiB: "
                         f"{mark(x['peak_rss_mib'] <= 10)}", ""])
        if "sshd (leader)" in ro:
            z = ro["sshd (leader)"]
            rows.append(["leader's sshd during the job (worker heartbeat probes, incl. reaped sessions)",
                         f"{z['ms_per_heartbeat_probe']:.1f} ms CPU per probe",
                         f"{z['core_pct']:.2f}% of a core with 1 worker", "",
                         f"extrapolated to 63 workers probing every 2 s: "
                         f"{z['ms_per_heartbeat_probe'] * 63 / 2 / 10:.0f}% of a core", ""])
    elif "footprint" in res:
        rows.append(["footprint", F.get("error"), "", "", "", ""])
    if not root:
        rows.append(["cluster formation, footprint", "skipped: need root (network namespaces)", "", "", "", ""])

    print(f"\n### smlaunch performance ({'quick' if quick else 'full'} run, {started})\n")
    if REUSE:
        print(f"(Re-printed with --reuse from the JSON files in {logs}, written {time.ctime(os.path.getmtime(logs))}; "
              "the machine line below is of now, not of the run.)\n")
    print(f"Machine: {machine()}; load average at start {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f} "
          f"(1/5/15 min), at end {load1[0]:.2f}. Build: {build}. {a.note}\n")
    print("| figure | smlaunch (median) | side by side, same run | ratio | target | Python toolkit |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print(f"\nRepetitions: plan {plan_runs} runs; relay {relay_runs} rounds (and the error path "
          f"{relay_runs} repetitions); cluster {cruns} run(s) per size ({hosts} hosts, 1 rank per host, "
          f"smlaunch_mpi_allreduce); footprint {fruns} job(s) of {fsec:.0f} s (medians). Step times: "
          + ", ".join(f"{k} {v:.0f} s" for k, v in took.items()) + f"; all {total:.0f} s. Logs: {logs}")
    if SETTLED:
        print(f"Each step waited (up to {SETTLE_MAX_S} s) for two 2-s windows with the CPUs under "
              f"{SETTLE_BUSY:.0%} busy; busy when it started: "
              + ", ".join(f"{n} {busy:.0%} (after {w:.0f} s)" for n, w, busy in SETTLED) + ".")


if __name__ == "__main__":
    main()
