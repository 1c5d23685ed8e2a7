#!/usr/bin/python3
"""The launcher's own footprint during a job: CPU time and RSS of smlaunch.

Two simulated hosts (tests/e2e harness, root only), an MPI job with one rank
per host; each rank prints tagged-looking training lines at half the total
rate (default 10 MB/s in all) for --seconds (default 60). Every rank's output
goes through mpirun into the leader's smlaunch (the relay: rank tags, the
error capture, its own stdout), so the leader's smlaunch relays all of it.

Sampled every 0.25 s from /proc: utime+stime of smlaunch itself (not its
children) and VmHWM (peak RSS), on the leader and on a worker; the same for
mpirun (leader) and orted (worker), which carry the same bytes, as the
side-by-side reference. CPU share = CPU seconds / wall seconds over the
steady part (from the first rank output to the last sample while printing).
Targets: < 2% of one core and <= 10 MiB. Also PSS and private memory: RSS
counts every shared library page mapped (the leader's libcrypto, shared with
sshd) in full. With --runs N the jobs run one after another on the same
cluster and every figure is the median of the N.

Usage: bench/footprint.py [--build DIR] [--seconds 60] [--rate-mb 10] [--runs N] [--json FILE]
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
from cluster import processes_in_pid_namespace  # noqa: E402
from bench_cluster import BenchCluster as Cluster  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")

PRINTER = r'''
import os, sys, time
args = sys.argv[1:]
rate = float(args[args.index("--rate") + 1]) * 1e6   # bytes per second for this rank
seconds = float(args[args.index("--seconds") + 1])
rank = os.environ.get("OMPI_COMM_WORLD_RANK", "0")
print(f"E2E_START rank={rank} t={time.time()}", flush=True)
line = (f"step {{}} loss 0.{rank}1234 lr 3.0e-04 grad_norm 1.234 throughput 812.3 samples/s "
        "epoch 1 [" + "=" * 20 + "]\n")
out = sys.stdout.buffer
t0 = time.time()
sent = 0
step = 0
while True:
    now = time.time()
    if now - t0 >= seconds:
        break
    due = rate * (now - t0)
    chunk = []
    size = 0
    while sent + size < due:
        step += 1
        s = line.format(step).encode()
        chunk.append(s)
        size += len(s)
    if chunk:
        out.write(b"".join(chunk))
        out.flush()
        sent += size
    time.sleep(0.01)
print(f"E2E_END rank={rank} t={time.time()} bytes={sent}", flush=True)
'''


def sample(pid, children=False):
    """(cpu seconds, VmHWM KiB, VmRSS KiB, user seconds, PSS KiB, private
    KiB) of one process (with children: plus the CPU of its children it has
    reaped), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status") as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    cpu = sum(int(x) for x in fields[11:15 if children else 13]) / TICK
    hwm = int(status.get("VmHWM", "0 kB").split()[0])
    rss = int(status.get("VmRSS", "0 kB").split()[0])
    user = (int(fields[11]) + (int(fields[13]) if children else 0)) / TICK
    # RSS counts every resident page mapped, shared library pages included
    # (libcrypto's, shared with sshd); PSS divides shared pages among their
    # users, and private pages are this process's alone.
    pss = private = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "Pss":
                    pss = int(value.split()[0])
                elif key in ("Private_Clean", "Private_Dirty"):
                    private += int(value.split()[0])
    except (OSError, ValueError):
        pass
    return cpu, hwm, rss, user, pss, private


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return int(stat[stat.rfind(")") + 2:].split()[1])
    except (OSError, ValueError):
        return None


def measure_once(c, args):
    """One job on the cluster `c`: every process's figures (and the job's)."""
    run = c.train(["--peer-timeout", "120"])
    pids = {}
    series = {}   # role -> [(t, cpu, hwm, rss, user, pss, private)]
    first_output = None
    first_sample = last_sample = time.time()
    deadline = time.time() + args.seconds + 180
    while time.time() < deadline and not all(run.done(h.name) for h in c.hosts):
        now = time.time()
        for h in c.hosts:
            sp = run.smlaunch_pid(h.name)
            if sp:
                pids[f"smlaunch {'leader' if h.index == 1 else 'worker'}"] = sp
            for p in processes_in_pid_namespace(h.pidns, exclude={h.init_pid}) if h.pidns else []:
                name = comm(p)
                if h.index == 1 and name == "mpirun":
                    pids["mpirun (leader)"] = p
                if h.index == 2 and name == "orted":
                    pids["orted (worker)"] = p
                if h.index == 1 and name == "sshd" and sp and ppid(p) == sp:
                    pids["sshd (leader)"] = p
        for role, p in pids.items():
            s = sample(p, children=role.startswith("sshd"))
            if s:
                series.setdefault(role, []).append((now,) + s)
        if first_output is None and "E2E_START" in run.stdout_of("algo-1"):
            first_output = now
        last_sample = now
        time.sleep(0.25)
    results = run.wait(60)
    out = results["algo-1"].stdout
    bad = [r.summary() for r in results.values() if r.exit_code != 0]
    if bad:
        sys.exit(f"footprint job failed: {bad}\n{results['algo-1'].stderr[-2000:]}")
    ends = [float(x.split("t=")[1].split()[0]) for x in out.splitlines() if "E2E_END" in x]
    starts = [float(x.split("t=")[1].split()[0]) for x in out.splitlines() if "E2E_START" in x]
    sent = sum(int(x.split("bytes=")[1]) for x in out.splitlines() if "E2E_END" in x)
    relayed = len(out.encode())
    job_end = max(ends) if ends else time.time()
    print(f"ranks printed from {min(starts) - first_sample:.2f}s to {job_end - first_sample:.2f}s after the first "
          f"sample; output first seen at {(first_output or 0) - first_sample:.2f}s; last sample at "
          f"{last_sample - first_sample:.2f}s")
    achieved = sent / 1e6 / max(job_end - min(starts), 1e-9)
    print(f"job: {args.rate_mb} MB/s for {args.seconds:.0f}s, {sent / 1e6:.1f} MB printed, "
          f"{relayed / 1e6:.1f} MB reached the leader's stdout; achieved {achieved:.1f} MB/s")
    figures = {"bytes_printed": sent, "bytes_relayed_to_leader_stdout": relayed, "achieved_mb_s": achieved,
               "roles": {}}
    for role, pts in series.items():
        steady = [p for p in pts if first_output and first_output <= p[0] <= job_end]
        if len(steady) < 2:
            steady = pts
        cpu = steady[-1][1] - steady[0][1]
        wall = max(steady[-1][0] - steady[0][0], 1e-9)
        # Per MB printed, scaled to the target rate: the figure that does not
        # depend on whether this (loaded) machine sustained the rate.
        at_rate = 100 * cpu / max(sent / 1e6, 1e-9) * args.rate_mb
        figures["roles"][role] = {"cpu_steady_s": cpu, "wall_steady_s": wall, "core_pct": 100 * cpu / wall,
                                  "core_pct_at_rate": at_rate, "cpu_life_s": pts[-1][1],
                                  "peak_rss_mib": max(p[2] for p in pts) / 1024,
                                  "user_s": steady[-1][4] - steady[0][4],
                                  "peak_pss_mib": max(p[5] for p in pts) / 1024,
                                  "peak_private_mib": max(p[6] for p in pts) / 1024}
    print_roles(figures["roles"])
    return figures


def print_roles(roles):
    print(f"{'process':<20}{'CPU s (steady)':>16}{'user/sys':>10}{'% of a core':>13}{'% at the rate':>16}"
          f"{'CPU s (life)':>14}{'peak RSS MiB':>14}{'PSS/private MiB':>17}")
    for role, x in roles.items():
        cpu, user = x["cpu_steady_s"], x["user_s"]
        split = f"{100 * user / cpu:.0f}/{100 - 100 * user / cpu:.0f}%" if cpu > 0 else "-"
        memory = f"{x['peak_pss_mib']:.1f} / {x['peak_private_mib']:.1f}"
        print(f"{role:<20}{cpu:>16.2f}{split:>10}{x['core_pct']:>12.2f}%{x['core_pct_at_rate']:>15.2f}%"
              f"{x['cpu_life_s']:>14.2f}{x['peak_rss_mib']:>14.1f}{memory:>17}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate-mb", type=float, default=10.0, help="MB/s printed by the whole job")
    parser.add_argument("--runs", type=int, default=1, help="jobs in a row; the figures are their medians")
    parser.add_argument("--json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("footprint: needs root (network namespaces)")
    build = os.path.abspath(args.build)
    per_rank = args.rate_mb / 2
    runs = []
    limit = int((args.seconds + 120) * args.runs) + 120
    with Cluster("bench_footprint", hosts=2, build=build, limit=limit, verbose=False) as c:
        c.write_job({"sagemaker_program": "printer.py", "sagemaker_submit_directory": "/opt/ml/code",
                     "sagemaker_mpi_enabled": True, "sagemaker_mpi_num_of_processes_per_host": 1,
                     "sagemaker_mpi_custom_mpi_options": "", "sagemaker_region": "us-west-2",
                     "rate": per_rank, "seconds": args.seconds},
                    code={"printer.py": PRINTER})
        for i in range(args.runs):
            print(f"-- run {i + 1} of {args.runs}", flush=True)
            runs.append(measure_once(c, args))

    # Medians over the runs, each figure on its own.
    med = statistics.median
    figures = {"seconds": args.seconds, "rate_mb_s": args.rate_mb, "runs": args.runs,
               "achieved_mb_s": med(r["achieved_mb_s"] for r in runs),
               "bytes_printed": med(r["bytes_printed"] for r in runs),
               "bytes_relayed_to_leader_stdout": med(r["bytes_relayed_to_leader_stdout"] for r in runs),
               "roles": {}}
    for role in runs[0]["roles"]:
        per_run = [r["roles"][role] for r in runs if role in r["roles"]]
        figures["roles"][role] = {k: med(x[k] for x in per_run) for k in per_run[0]}
        figures["roles"][role]["core_pct_runs"] = [x["core_pct"] for x in per_run]
    if args.runs > 1:
        print(f"-- medians of {args.runs} runs")
        print_roles(figures["roles"])
    sshd = figures["roles"].get("sshd (leader)")
    if sshd:
        # The only connections to the leader's sshd during the job are the
        # worker's heartbeat probes (one TCP connect per 2 s): each makes sshd
        # fork and re-exec itself.
        probes = sshd["wall_steady_s"] / 2.0
        sshd["ms_per_heartbeat_probe"] = 1000 * sshd["cpu_steady_s"] / max(probes, 1)
        print(f"leader's sshd (with the sessions it reaped): {sshd['ms_per_heartbeat_probe']:.1f} ms CPU per "
              f"heartbeat probe from a worker (~{probes:.0f} probes); at 64 hosts (63 workers, every 2 s): "
              f"{sshd['ms_per_heartbeat_probe'] * 63 / 2 / 10:.1f}% of a core on the leader")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=1)


if __name__ == "__main__":
    main()
