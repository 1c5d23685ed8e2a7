"""A rank (rank 3, on algo-2) exits 3: every host exits non-zero within 10 s;
the leader exits 1 and its failure file has the error class, `ExitCode 3`
and the rank's error line in its first 1024 characters; the worker's failure
file reports the leader's outcome."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402


def test(args):
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c, expect_size=4, exit_rank=3, exit_code=3)
        run = c.train(["--peer-timeout", "60"])
        results = run.wait(120)
        scenario.show(results)
        fails = scenario.stamps(results["algo-1"].stdout, "FAIL")
        leader = results["algo-1"]
        expect(3 in fails, f"rank 3 did not report its exit (the leader exited {leader.exit_code}; "
                           f"its failure file: {(leader.failure or '-')[:600]}):\n{leader.stdout[-3000:]}")
        scenario.expect_nonzero(results)
        scenario.expect_exit_within(results, ["algo-1", "algo-2"], fails[3], 10, "rank 3 exited 3")
        expect(leader.exit_code == 1, f"the leader exited {leader.exit_code}, expected 1 (the job failed)")
        scenario.expect_failure_file(leader, "ExitCode 3", "RuntimeError: rank 3 fails on purpose with exit code 3")
        expect(re.match(r"\w*Error\b", leader.failure), f"the leader's failure file does not start with an error "
                                                        f"class:\n{leader.failure[:300]}")
        scenario.expect_failure_file(results["algo-2"], any_of=("ExitCode 3", "algo-1", "leader"))


if __name__ == "__main__":
    scenario.main(test)
