"""The leader host (algo-1) killed crash-style mid-job: the worker exits 3
within 15 s with a failure file naming algo-1."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402


def test(args):
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c, expect_size=4, sleep=120)
        run = c.train(["--peer-timeout", "60"])
        scenario.wait_for_ranks(run, "algo-1", 4)
        c.kill_host(1)
        t_kill = time.time()
        results = run.wait(60)
        scenario.show(results)
        scenario.expect_nonzero(results, ["algo-2"])
        scenario.expect_exit_within(results, ["algo-2"], t_kill, 15, "algo-1 was killed")
        expect(results["algo-2"].exit_code == 3, f"the worker exited {results['algo-2'].exit_code}, expected 3")
        scenario.expect_failure_file(results["algo-2"], "algo-1")


if __name__ == "__main__":
    scenario.main(test)
