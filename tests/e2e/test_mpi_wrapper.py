"""`smlaunch --mpi -- /usr/bin/python3 /opt/ml/code/train.py ARGS` on 2 hosts
(the wrapper framework images call on every host): 4 ranks over the hosts of
the config files, allreduce, world size, gethostname() == algo-K; every host
exits 0."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from cluster import PYTHON  # noqa: E402
from scenario import expect  # noqa: E402


def test(args):
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c)
        run = c.start([c.smlaunch, "--peer-timeout", "60", "--mpi", "--", PYTHON, "/opt/ml/code/train.py",
                       "--expect-size", "4", "--expect-hosts", "algo-1,algo-2"], label="mpi-wrapper")
        results = run.wait(120)
        scenario.show(results)
        for r in results.values():
            expect(r.exit_code == 0, f"{r.host} exited {r.exit_code}; stderr tail:\n{r.stderr[-1500:]}")
        out = results["algo-1"].stdout
        expect("E2E_CHECK_FAILED" not in out + results["algo-1"].stderr, f"a rank's check failed:\n{out[-3000:]}")
        for rank in range(4):
            expect(f"rank {rank} of 4 on algo-" in out, f"no line from rank {rank}:\n{out[-3000:]}")
        expect(out.count(" on algo-2 sum=6") == 2, f"algo-2 does not have 2 ranks:\n{out[-3000:]}")


if __name__ == "__main__":
    scenario.main(test)
