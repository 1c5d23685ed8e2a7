#!/usr/bin/python3
"""Cluster formation at scale: `smlaunch train` on N simulated hosts.

Uses the e2e harness (tests/e2e/cluster.py: network namespaces, real sshd,
real Open MPI; root only). For each N (default 8, 32, 64) it builds one
cluster, then runs a trivial MPI job (1 process per host: a shell entry point
that stamps its start and end and runs build/bin/smlaunch_mpi_allreduce) R
times through `smlaunch train`, and once through a bare mpirun over the
harness's own sshd on the same hosts (the reference launcher, side by side).

Every phase is taken from smlaunch's own log lines (wall-clock timestamps,
same clock for every host, since they share one kernel):

  dns wait         leader's "All N host names resolve (X s)" (debug level)
  sshd ready->up   last worker's "SSH daemon ready" -> leader's "All N-1
                   workers reachable" (target <= 1 s at 64)
  reach phase      the leader's "All N-1 workers reachable (X s)"
  login check      "SSH login to every worker works (X s)"
  mpirun launch    "SSH login ... works" -> first rank's E2E_START
  rank spread      first -> last rank's E2E_START (mpirun's fan-out)
  outcome          leader's "Writing the job's outcome" -> last worker's
                   "status file found" (target <= 1 s at 64); and the
                   leader's own "Outcome delivered (X s)"
  tail             last rank's E2E_END -> every host's smlaunch exited
                   (target <= 1 s)
  heartbeat blind  the leader's longest stretch of heartbeat rounds in
                   which no worker answered (this machine too loaded to
                   tell; such rounds are not counted against the workers)

Prints a table and, with --json FILE, writes the medians.
Usage: bench/cluster_scale.py [--build DIR] [--hosts 8,32,64] [--runs R]
"""
import argparse
import calendar
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
from cluster import Interrupted  # noqa: E402
from bench_cluster import BenchCluster as Cluster  # noqa: E402

LOGS = None   # where the leader's sshd logs are kept (--logs)
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \S+ \w+ (.*)$")


def log_lines(text):
    """[(epoch seconds, message)] of smlaunch's log records (local time)."""
    out = []
    for line in text.splitlines():
        m = STAMP.match(line)
        if m:
            t = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000.0
            out.append((t, m.group(3)))
    return out


def first(lines, pattern):
    rx = re.compile(pattern)
    for t, msg in lines:
        m = rx.search(msg)
        if m:
            return t, m
    return None, None


def stamps(text, kind):
    return [float(m.group(1)) for m in re.finditer(rf"E2E_{kind} rank=\d+ t=([0-9.]+)", text)]


ENTRY = """#!/bin/sh
echo "E2E_START rank=$OMPI_COMM_WORLD_RANK t=$(date +%s.%N)"
{prog} "$@" || exit $?
echo "E2E_END rank=$OMPI_COMM_WORLD_RANK t=$(date +%s.%N)"
"""


def job(c, prog, n):
    c.write_job({"sagemaker_program": "train.sh", "sagemaker_submit_directory": "/opt/ml/code",
                 "sagemaker_mpi_enabled": True, "sagemaker_mpi_num_of_processes_per_host": 1,
                 "sagemaker_mpi_custom_mpi_options": "", "sagemaker_region": "us-west-2",
                 "expect-size": n},
                code={"train.sh": ENTRY.format(prog=prog)})


def bare_mpirun(c, n, prog, timeout):
    """All started (sshd ready everywhere) -> first rank, for a bare mpirun
    over the same hosts, the same entry point (plm_rsh_no_tree_spawn 1, as
    smlaunch's plan and the SageMaker toolkit use)."""
    job(c, prog, n)
    sshd = c.start_sshd()
    try:
        names = [h.name for h in c.hosts]
        argv = ["mpirun", "--allow-run-as-root", "--host", ",".join(f"{x}:1" for x in names), "-np", str(n),
                "-mca", "btl_tcp_if_include", "eth0", "-mca", "oob_tcp_if_include", "eth0",
                "-mca", "plm_rsh_no_tree_spawn", "1", "-x", f"LD_PRELOAD={c.shim}",
                "/bin/sh", "/opt/ml/code/train.sh", "--expect-size", str(n)]
        run = c.start(argv, hosts=[1], label=f"bare{len(c.runs) + 1}", teardown=False)
        r = run.wait(timeout)["algo-1"]
    finally:
        for h in sshd.hosts:
            h.kill_all()
        sshd.wait(10)
    starts, ends = stamps(r.stdout, "START"), stamps(r.stdout, "END")
    if r.exit_code != 0 or len(starts) != n:
        raise AssertionError(f"bare mpirun exited {r.exit_code}, {len(starts)} starts:\n{r.stderr[-1500:]}")
    return {"start_s": min(starts) - run.all_started, "rank_spread_s": max(starts) - min(starts),
            "tail_s": r.ended - max(ends)}


def limits():
    """The /proc/sys and sshd settings that matter at 64 hosts."""
    def rd(p):
        try:
            with open(p) as fh:
                return fh.read().strip()
        except OSError:
            return "?"
    inotify_in_use = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                        inotify_in_use += 1
            except OSError:
                pass
    sshd_t = subprocess.run(["/usr/sbin/sshd", "-T", "-f", "/dev/null"], capture_output=True, text=True).stdout
    ms = next((line.split()[1] for line in sshd_t.splitlines() if line.startswith("maxstartups ")), "?")
    return {"somaxconn": rd("/proc/sys/net/core/somaxconn"),
            "tcp_max_syn_backlog": rd("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
            "inotify_max_user_instances": rd("/proc/sys/fs/inotify/max_user_instances"),
            "inotify_instances_in_use": inotify_in_use,
            "pid_max": rd("/proc/sys/kernel/pid_max"), "threads_max": rd("/proc/sys/kernel/threads-max"),
            "sshd_maxstartups_default": ms}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    parser.add_argument("--hosts", default="8,32,64")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare mpirun run")
    parser.add_argument("--timeout", type=int, default=240, help="--peer-timeout and per-run bound")
    parser.add_argument("--json")
    parser.add_argument("--logs", help="keep the leader's sshd log of each run here")
    args = parser.parse_args()
    global LOGS
    LOGS = args.logs
    if LOGS:
        os.makedirs(LOGS, exist_ok=True)
    build = os.path.abspath(args.build)
    prog = os.path.join(build, "bin", "smlaunch_mpi_allreduce")
    if os.geteuid() != 0:
        sys.exit("cluster_scale: needs root (network namespaces)")
    if not os.access(prog, os.X_OK):
        sys.exit(f"{prog} is not built")
    lim = limits()
    print(f"limits: {lim}", flush=True)
    summary = {"limits": lim, "sizes": {}}
    for n in [int(x) for x in args.hosts.split(",")]:
        t0 = time.time()
        load = os.getloadavg()[0]
        try:
            with Cluster(f"bench_scale_{n}", hosts=n, build=build, limit=120 + n * 8 + args.runs * (args.timeout + 60),
                         verbose=False) as c:
                c._bench_prog = prog
                made = time.time() - t0
                print(f"\n{n} hosts: cluster made in {made:.1f}s (load {load:.2f})", flush=True)
                base = None if args.no_baseline else bare_mpirun(c, n, prog, args.timeout)
                if base:
                    print("  bare mpirun: " + ", ".join(f"{k}={v:.3f}" for k, v in base.items()), flush=True)
                runs, failures = [], []
                for i in range(args.runs):
                    # smlaunch --log-level debug train: the DNS wait is a debug line.
                    job(c, prog, n)
                    run = c.start([c.smlaunch, "--log-level", "debug", "train", "--peer-timeout", str(args.timeout)],
                                  label=f"smlaunch{i + 1}")
                    try:
                        runs.append(collect(c, run, n, args.timeout))
                    except AssertionError as e:   # a failed job: counted, reported, the next run goes on
                        failures.append(str(e)[:600])
                        print(f"  run {i + 1}: FAILED: {e}", flush=True)
                        continue
                    print(f"  run {i + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in runs[-1].items()
                                                          if isinstance(v, float)), flush=True)
        except (Exception, Interrupted) as e:  # noqa: BLE001 - report it, go on with the next size
            print(f"{n} hosts: FAILED: {e}", flush=True)
            summary["sizes"][str(n)] = {"error": str(e)[:500]}
            continue
        if not runs:
            summary["sizes"][str(n)] = {"error": f"every run failed: {failures[0]}", "failed_runs": len(failures),
                                        "cluster_make_s": made, **{f"bare_{k}": v for k, v in (base or {}).items()}}
            continue
        med = {k: statistics.median([r[k] for r in runs if r.get(k) is not None])
               for k in runs[0] if any(r.get(k) is not None for r in runs)}
        med["cluster_make_s"] = made
        med["runs"] = len(runs)
        med["failed_runs"] = len(failures)
        med["failures"] = failures
        if base:
            med.update({f"bare_{k}": v for k, v in base.items()})
        summary["sizes"][str(n)] = med
        print(f"  median: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in med.items()), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=1)


def watch_leader(run, peak, stop):
    """Peak thread count and VmHWM of the leader's smlaunch (sampled every 50 ms)."""
    while not stop.is_set():
        pid = run.smlaunch_pid("algo-1")
        try:
            with open(f"/proc/{pid}/status") as fh:
                st = dict(l.split(":", 1) for l in fh.read().splitlines() if ":" in l)
            peak["threads"] = max(peak.get("threads", 0), int(st["Threads"]))
            peak["hwm_kib"] = max(peak.get("hwm_kib", 0), int(st["VmHWM"].split()[0]))
        except (OSError, KeyError, ValueError, TypeError):
            pass
        stop.wait(0.05)


def collect(c, run, n, timeout):
    """The phases of one `smlaunch train` run already started on every host."""
    peak, stop = {}, threading.Event()
    watcher = threading.Thread(target=watch_leader, args=(run, peak, stop), daemon=True)
    watcher.start()
    results = run.wait(timeout + 30)
    stop.set()
    watcher.join()
    leader = results["algo-1"]
    # sshd's own log (smlaunch's sshd writes /run/smlaunch/sshd.log in each
    # host; the hosts' inits still hold it): MaxStartups drops.
    drops = {}
    for h in c.hosts:
        text = h.read("/run/smlaunch/sshd.log") or ""
        k = text.count("past MaxStartups")
        if k:
            drops[h.name] = k
        if h.index == 1 and LOGS:
            with open(os.path.join(LOGS, f"sshd-leader-{n}-{run.label}.log"), "w") as fh:
                fh.write(text)
    print(f"  sshd 'past MaxStartups' drops: {drops or 'none'}", flush=True)
    bad = [r.summary() for r in results.values() if r.exit_code != 0]
    if bad:
        why = {}
        for r in results.values():
            m = re.search(r'ErrorMessage "([^"(]{0,90})', r.stderr)
            if m:
                why[m.group(1)] = why.get(m.group(1), 0) + 1
        if LOGS:   # every failed host's own output, to see why
            for r in results.values():
                if r.exit_code != 0:
                    with open(os.path.join(LOGS, f"failed-{n}-{run.label}-{r.host}.log"), "w") as fh:
                        fh.write(r.stderr)
        raise AssertionError(f"{len(bad)} host(s) failed: {bad[:2]}; why (count): {why}")
    L = log_lines(leader.stderr)
    f = {}
    _, m = first(L, r"All \d+ host names resolve \(([0-9.]+) s\)")
    f["dns_s"] = float(m.group(1)) if m else None
    t_up, m = first(L, r"All \d+ workers reachable \(([0-9.]+) s\)")
    f["reach_phase_s"] = float(m.group(1)) if m else None
    t_leader_sshd, _ = first(L, r"SSH daemon ready on port")
    worker_ready, worker_found = [], []
    for name, r in results.items():
        if name == "algo-1":
            continue
        W = log_lines(r.stderr)
        tr, _ = first(W, r"SSH daemon ready on port")
        tf, _ = first(W, r"status file found")
        worker_ready += [tr] if tr else []
        worker_found += [tf] if tf else []
    f["leader_sshd_to_last_worker_sshd_s"] = (max(worker_ready) - t_leader_sshd) if (worker_ready and t_leader_sshd) else None
    f["sshd_ready_to_all_up_s"] = (t_up - max(worker_ready)) if (t_up and worker_ready) else None
    t_login, m = first(L, r"SSH login to every worker works \(([0-9.]+) s\)")
    f["login_check_s"] = float(m.group(1)) if m else None
    starts, ends = stamps(leader.stdout, "START"), stamps(leader.stdout, "END")
    if len(starts) != n or len(ends) != n:
        raise AssertionError(f"{len(starts)} start / {len(ends)} end stamps, expected {n}:\n{leader.stderr[-2000:]}")
    f["mpirun_launch_s"] = (min(starts) - t_login) if t_login else None
    f["rank_spread_s"] = max(starts) - min(starts)
    t_write, _ = first(L, r"Writing the job's outcome")
    _, m = first(L, r"Outcome delivered \(([0-9.]+) s\)")
    f["outcome_leader_s"] = float(m.group(1)) if m else None
    f["outcome_all_workers_s"] = (max(worker_found) - t_write) if (t_write and worker_found) else None
    _, m = first(L, r"All workers left \(([0-9.]+) s\)")
    f["workers_left_s"] = float(m.group(1)) if m else None
    f["tail_s"] = max(r.ended for r in results.values()) - max(ends)
    f["start_s"] = min(starts) - run.all_started
    f["total_s"] = max(r.ended for r in results.values()) - run.all_started
    f["leader_threads_peak"] = float(peak.get("threads", 0))
    f["leader_rss_mib"] = peak.get("hwm_kib", 0) / 1024
    f["maxstartups_drops"] = float(sum(drops.values()))
    # The leader's heartbeat rounds in which no worker answered (this
    # machine too loaded to tell; not counted against the workers).
    _, m = first(L, r"No worker answered the heartbeat in \d+ rounds \(up to ([0-9.]+) s in a row\)")
    f["heartbeat_blind_s"] = float(m.group(1)) if m else 0.0
    if LOGS:
        with open(os.path.join(LOGS, f"leader-{n}-{run.label}.log"), "w") as fh:
            fh.write(leader.stderr)
    return f


if __name__ == "__main__":
    main()
