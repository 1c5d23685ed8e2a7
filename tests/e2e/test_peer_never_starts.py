"""A peer that never starts, with --peer-timeout 5.
--missing worker: smlaunch runs on algo-1 only; it exits 3 naming algo-2.
--missing leader: smlaunch runs on algo-2 only; it exits 3 naming algo-1."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402

PEER_TIMEOUT = 5


def test(args):
    started, missing = ("algo-1", "algo-2") if args.missing == "worker" else ("algo-2", "algo-1")
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c, expect_size=4)
        run = c.train(["--peer-timeout", str(PEER_TIMEOUT)], hosts=[started])
        results = run.wait(PEER_TIMEOUT + 30)
        scenario.show(results)
        r = results[started]
        expect(not r.timed_out, f"{started} still waiting {PEER_TIMEOUT + 30}s later")
        expect(r.exit_code == 3, f"{started} exited {r.exit_code}, expected 3")
        print(f"  {started} exited after {r.elapsed:.2f}s (--peer-timeout {PEER_TIMEOUT})", flush=True)
        expect(r.elapsed >= PEER_TIMEOUT - 0.5, f"{started} gave up after {r.elapsed:.2f}s, before --peer-timeout")
        expect(r.elapsed <= PEER_TIMEOUT + 5, f"{started} gave up after {r.elapsed:.2f}s, well after --peer-timeout")
        scenario.expect_failure_file(r, missing)


if __name__ == "__main__":
    scenario.main(test, add_arguments=lambda p: p.add_argument("--missing", choices=["worker", "leader"], required=True))
