"""The harness's own test: it needs nothing of smlaunch's cluster code.

With 3 hosts, the harness starts `sshd -D -e` on each and runs a bare
mpirun (6 ranks of programs/mpi_check.py, LD_PRELOAD hostname shim) from
algo-1: allreduce, world size 6, gethostname() == algo-K on every rank. That
proves the network, the names, the ssh keys, PATH/pyenv hygiene, the overlays
and the shim. The start time of the bare mpirun (all started -> first rank
output, median of 3) is printed: the reference for smlaunch's start overhead.

Then faults while a job runs: a crash-style kill of algo-2 (mpirun must
notice), and a silent loss of algo-3 (mpirun hangs for ever: the harness's
deadline must stop it). After the cluster is gone: no namespace, mount or
process of it is left (`ip netns`, /proc/mounts, a process scan). Last, a
harness interrupted by SIGTERM and one killed by SIGKILL also leave nothing.
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from cluster import HERE, _ns  # noqa: E402
from scenario import expect  # noqa: E402

HOSTS = ["algo-1", "algo-2", "algo-3"]


def root_state():
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    with open("/proc/self/mounts") as f:
        mounts = set(f.read().splitlines())
    return ns, mounts


def expect_nothing_left(before, namespaces, cluster_name, what):
    """No process in any of the namespaces, no host init of the cluster still
    running, no new `ip netns` name, no new mount. (Another cluster on the
    machine, a benchmark say, is not ours to judge: its host inits name its
    own work directory.)"""
    deadline = time.time() + 10
    while True:
        left = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                if any(_ns(pid, k) in namespaces for k in ("net", "mnt", "pid", "uts", "ipc"))]
        if not left or time.time() > deadline:
            break
        time.sleep(0.05)
    expect(not left, f"{what}: processes left in the cluster's namespaces: {left}")
    ns, mounts = root_state()
    expect(ns == before[0], f"{what}: `ip netns` changed: {before[0]!r} -> {ns!r}")
    new = mounts - before[1]
    expect(not new, f"{what}: new mounts in the root namespace: {sorted(new)}")
    stray = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    work_dir = f"/e2e-work/{cluster_name}/"
    ours = [line for line in stray.splitlines() if "hostinit.py" in line and work_dir in line]
    expect(not ours, f"{what}: harness processes still running: {ours}")
    print(f"  {what}: nothing left (no process in its {len(namespaces)} namespaces, `ip netns` "
          f"unchanged, no new mount)", flush=True)


def job_program_args(sleep=0):
    return ["--expect-size", "6", "--expect-hosts", ",".join(HOSTS)] + (["--sleep", str(sleep)] if sleep else [])


def test(args):
    before = root_state()
    with scenario.cluster(args, hosts=3) as c:
        namespaces = set(c._namespaces) - {None}
        scenario.mpi4py_job(c)
        # 1. bare mpirun across the 3 hosts, three times: correctness and start time.
        times = []
        for i in range(3):
            r, start = scenario.bare_mpirun(c, [1, 2, 3], 2, job_program_args())
            expect("E2E_CHECK_FAILED" not in r.stdout + r.stderr, f"a rank's check failed:\n{r.stdout}\n{r.stderr}")
            for rank in range(6):
                expect(f"rank {rank} of 6 on algo-" in r.stdout, f"no line from rank {rank}:\n{r.stdout}")
            for h in HOSTS:
                expect(r.stdout.count(f" on {h} sum=15") == 2, f"{h} does not have 2 ranks:\n{r.stdout}")
            expect(len(scenario.stamps(r.stdout, "END")) == 6, f"not every rank ended:\n{r.stdout}")
            times.append(start)
            print(f"  bare mpirun {i + 1}: all started -> first rank output {start:.3f}s", flush=True)
        print(f"TIMING bare mpirun start (all started -> first rank output), 3 hosts x 2, median of 3: "
              f"{statistics.median(times):.3f}s (runs: {', '.join(f'{t:.3f}' for t in times)})", flush=True)

        # 2. a crash-style loss of algo-2 while a job runs: mpirun notices (resets).
        sshd = c.start_sshd()
        run = c.start(["mpirun", "--allow-run-as-root", "--host", "algo-1:2,algo-2:2,algo-3:2", "-np", "6",
                       "-mca", "btl_tcp_if_include", "eth0", "-mca", "oob_tcp_if_include", "eth0",
                       "-mca", "plm_rsh_no_tree_spawn", "1", "-x", f"LD_PRELOAD={c.shim}",
                       "/usr/bin/python3", "/opt/ml/code/train.py", *job_program_args(sleep=60)],
                      hosts=[1], teardown=False, label="mpirun-crash")
        scenario.wait_for_ranks(run, "algo-1", 6)
        killed = c.kill_host(2)
        t_kill = time.time()
        names = [k.split(") ", 1)[1].split(":", 1)[0] if ") " in k else k for k in killed]
        print(f"  killed algo-2: {len(killed)} processes ({', '.join(names)})", flush=True)
        expect(not c.host(2).processes(), "algo-2 still has processes after kill_host")
        res = run.wait(30)["algo-1"]
        expect(not res.timed_out and res.exit_code != 0, f"mpirun after a crash: exit {res.exit_code}, "
                                                         f"timed out {res.timed_out}")
        print(f"  crash-style loss: mpirun exited {res.exit_code} {res.ended - t_kill:.2f}s after the kill", flush=True)
        for h in c.hosts:
            h.kill_all()
        sshd.wait(10)

        # 3. a silent loss of algo-3 while a job runs: mpirun hangs; the deadline stops it.
        sshd = c.start_sshd()
        run = c.start(["mpirun", "--allow-run-as-root", "--host", "algo-1:2,algo-2:2,algo-3:2", "-np", "6",
                       "-mca", "btl_tcp_if_include", "eth0", "-mca", "oob_tcp_if_include", "eth0",
                       "-mca", "plm_rsh_no_tree_spawn", "1", "-x", f"LD_PRELOAD={c.shim}",
                       "/usr/bin/python3", "/opt/ml/code/train.py", *job_program_args(sleep=2)],
                      hosts=[1], teardown=True, label="mpirun-silent")
        scenario.wait_for_ranks(run, "algo-1", 6)
        c.silence_host(3)
        t_silence = time.time()
        reach = c.host(1).run(["/usr/bin/python3", "-c",
                               "import socket\ntry:\n socket.create_connection(('algo-3', 22), 2)\n print('answers')\n"
                               "except ConnectionRefusedError:\n print('refused')\nexcept OSError as e:\n print('silent', e)"],
                              check=False).stdout.strip()
        expect(reach.startswith("silent"), f"algo-3 after silence_host: {reach}")
        res = run.wait(8)["algo-1"]
        print(f"  silent loss: mpirun {'still hung' if res.timed_out else f'exited {res.exit_code}'} "
              f"{time.time() - t_silence:.1f}s after; the harness's deadline stopped it", flush=True)
        expect(not c.host(1).processes() and not c.host(3).processes(), "processes left after the deadline")
        for h in c.hosts:
            h.kill_all()
        sshd.wait(10)
    expect_nothing_left(before, namespaces, c.name, "cluster after the test")

    # 4. a harness interrupted by SIGTERM, and one killed by SIGKILL, leave nothing.
    for sig in ("TERM", "KILL"):
        child = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
sys.path.insert(0, {HERE!r})
from cluster import Cluster
with Cluster("baseline-interrupted-{sig}", hosts=2, build={args.build!r}, verbose=False) as c:
    c.start_sshd()
    c.start(["/bin/sleep", "600"], label="sleeper")
    print(" ".join(n for n in c._namespaces if n), flush=True)
    time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
        line = child.stdout.readline().split()
        expect(line, f"SIG{sig}: the child harness did not come up")
        namespaces = set(line)
        os.kill(child.pid, getattr(__import__("signal"), f"SIG{sig}"))
        code = child.wait(30)
        print(f"  harness got SIG{sig}: exited {code}", flush=True)
        expect_nothing_left(before, namespaces, f"baseline-interrupted-{sig}", f"harness after SIG{sig}")
    import shutil
    for sig in ("TERM", "KILL"):    # the logs of the interrupted runs (kept as failures)
        shutil.rmtree(os.path.join(args.build, "e2e-logs", f"baseline-interrupted-{sig}"), ignore_errors=True)
        shutil.rmtree(os.path.join(args.build, "e2e-work", f"baseline-interrupted-{sig}"), ignore_errors=True)


if __name__ == "__main__":
    scenario.main(test, name="harness_baseline")
