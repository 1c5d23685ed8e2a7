"""A worker host (algo-2 of 3) killed crash-style mid-job: the leader fails
within 10 s, exit 3, its failure file naming algo-2; algo-3 exits non-zero."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402


def test(args):
    with scenario.cluster(args, hosts=3) as c:
        scenario.mpi4py_job(c, expect_size=6, sleep=120)
        run = c.train(["--peer-timeout", "60"])
        scenario.wait_for_ranks(run, "algo-1", 6)
        c.kill_host(2)
        t_kill = time.time()
        results = run.wait(60)
        scenario.show(results)
        scenario.expect_nonzero(results, ["algo-1", "algo-3"])
        scenario.expect_exit_within(results, ["algo-1"], t_kill, 10, "algo-2 was killed")
        scenario.expect_exit_within(results, ["algo-3"], t_kill, 20, "algo-2 was killed")
        expect(results["algo-1"].exit_code == 3, f"the leader exited {results['algo-1'].exit_code}, expected 3")
        scenario.expect_failure_file(results["algo-1"], "algo-2")
        scenario.expect_failure_file(results["algo-3"])


if __name__ == "__main__":
    scenario.main(test)
