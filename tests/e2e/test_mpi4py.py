"""mpi4py on N hosts x 2 processes per host through `smlaunch train`.

Every rank allreduces, checks the world size (2N) and that
socket.gethostname() is its algo-K; every host exits 0 with
/opt/ml/output/success. Prints the end-of-job tail (last rank exits -> every
host has exited; target <= 1 s) and the start overhead against a bare mpirun
over the same ready hosts, measured in the same run (target: within 1 s).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402


def test(args):
    n = args.hosts
    with scenario.cluster(args, hosts=n) as c:
        names = [h.name for h in c.hosts]
        options = ["--expect-size", str(2 * n), "--expect-hosts", ",".join(names)]
        scenario.mpi4py_job(c, expect_size=2 * n, expect_hosts=",".join(names))
        bare = None
        if n > 1:
            _, bare = scenario.bare_mpirun(c, list(range(1, n + 1)), 2, options)
            print(f"  bare mpirun: all started -> first rank output {bare:.3f}s", flush=True)
        run = c.train(["--peer-timeout", "60"])
        results = run.wait(150)
        scenario.show(results)
        scenario.expect_success(results)
        out = results["algo-1"].stdout
        expect("E2E_CHECK_FAILED" not in out + results["algo-1"].stderr, f"a rank's check failed:\n{out[-3000:]}")
        for rank in range(2 * n):
            expect(f"rank {rank} of {2 * n} on algo-" in out, f"no line from rank {rank} in the leader's output:\n{out[-3000:]}")
        for name in names:
            expect(out.count(f" on {name} sum=") == 2, f"{name} does not have 2 ranks:\n{out[-3000:]}")
        ends, starts = scenario.stamps(out, "END"), scenario.stamps(out, "START")
        expect(len(ends) == 2 * n, f"{len(ends)} ranks printed E2E_END, expected {2 * n}")
        tail = max(r.ended for r in results.values()) - max(ends.values())
        scenario.report_timing(f"end-of-job tail, {n} host(s) (last rank exits -> every host exited)", tail, 1.0)
        start = min(starts.values()) - run.all_started
        print(f"TIMING smlaunch start, {n} host(s) (all started -> first rank output): {start:.3f}s", flush=True)
        if bare is not None:
            scenario.report_timing(f"start overhead vs bare mpirun, {n} hosts ({start:.3f}s - {bare:.3f}s)",
                                   start - bare, 1.0)


if __name__ == "__main__":
    scenario.main(test, add_arguments=lambda p: p.add_argument("--hosts", type=int, default=2))
