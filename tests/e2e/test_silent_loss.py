"""Silent loss (link down on the bridge, then every process killed) mid-job.
--lost worker: the leader stops the job within 15 s, exit 3, naming algo-2.
--lost leader: the worker exits 3 within 15 s, naming algo-1.
(The Python toolkit, mpirun and NCCL hang for ever in both cases.)"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402


def test(args):
    lost, survivor = ("algo-2", "algo-1") if args.lost == "worker" else ("algo-1", "algo-2")
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c, expect_size=4, sleep=120)
        run = c.train(["--peer-timeout", "60"])
        scenario.wait_for_ranks(run, "algo-1", 4)
        c.silence_host(lost)
        t_lost = time.time()
        results = run.wait(60)
        scenario.show(results)
        scenario.expect_nonzero(results, [survivor])
        scenario.expect_exit_within(results, [survivor], t_lost, 15, f"{lost} went silent")
        expect(results[survivor].exit_code == 3, f"{survivor} exited {results[survivor].exit_code}, expected 3")
        scenario.expect_failure_file(results[survivor], lost)


if __name__ == "__main__":
    scenario.main(test, add_arguments=lambda p: p.add_argument("--lost", choices=["worker", "leader"], required=True))
