"""SIGTERM to every host's smlaunch mid-job, with --term-grace 2: every host
exits 143 within grace + 1 s (when the entrypoint exits a container's
processes are gone; what smlaunch itself left is printed as orphans), and the
failure files say "stopped by signal 15"."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402

GRACE = 2


def test(args):
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c, expect_size=4, sleep=120)
        run = c.train(["--peer-timeout", "60", "--term-grace", str(GRACE)])
        scenario.wait_for_ranks(run, "algo-1", 4)
        t_term = time.time()
        c.sigterm_smlaunch(run)
        results = run.wait(30)
        scenario.show(results)
        scenario.expect_exit_within(results, ["algo-1", "algo-2"], t_term, GRACE + 1, "SIGTERM")
        for r in results.values():
            expect(r.exit_code == 143, f"{r.host} exited {r.exit_code}, expected 143")
            scenario.expect_failure_file(r, "stopped by signal 15")
            if r.orphans:
                print(f"  WARNING {r.host}: smlaunch left {len(r.orphans)} process(es) (killed by the teardown):\n    "
                      + "\n    ".join(r.orphans), flush=True)
            expect(not c.host(r.host).processes(), f"{r.host} still has processes")


if __name__ == "__main__":
    scenario.main(test)
