"""A key the worker refuses (algo-2's /root/.ssh/authorized_keys emptied):
the leader exits 3 with a clear error naming algo-2; the worker exits non-zero."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402


def test(args):
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c, expect_size=4)
        with open(os.path.join(c.host(2).root_home, ".ssh", "authorized_keys"), "w"):
            pass
        results = c.train(["--peer-timeout", "20"]).wait(60)
        scenario.show(results)
        scenario.expect_nonzero(results)
        leader = results["algo-1"]
        expect(leader.exit_code == 3, f"the leader exited {leader.exit_code}, expected 3")
        scenario.expect_failure_file(leader, "algo-2")
        head = leader.failure[:scenario.FAILURE_HEAD].lower()
        expect(any(w in head for w in ("key", "auth", "denied", "refused", "permission")),
               f"the leader's failure file does not say the key was refused:\n{leader.failure[:1024]}")
        scenario.expect_failure_file(results["algo-2"])


if __name__ == "__main__":
    scenario.main(test)
