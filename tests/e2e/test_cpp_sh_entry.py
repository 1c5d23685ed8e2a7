"""A C++ MPI program through a .sh entry point, on 2 hosts x 2 processes.

sagemaker_program=train.sh, which execs build/bin/smlaunch_mpi_allreduce
"$@"; the hyperparameter expect-size=4 reaches it as --expect-size 4. The
program prints "rank R of N on HOST sum=S" and exits non-zero on a mismatch.
Every host exits 0 with /opt/ml/output/success; every rank reports its algo-K.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402


def test(args):
    prog = args.program or os.path.join(args.build, "bin", "smlaunch_mpi_allreduce")
    expect(os.path.exists(prog), f"{prog} is not built (target smlaunch_mpi_allreduce)")
    with scenario.cluster(args, hosts=2) as c:
        c.write_job(scenario.mpi_hyperparameters(2, program_name="train.sh", **{"expect-size": 4}),
                    code={"train.sh": f'#!/bin/sh\nexec {prog} "$@"\n'})
        results = c.train(["--peer-timeout", "60"]).wait(120)
        scenario.show(results)
        scenario.expect_success(results)
        out = results["algo-1"].stdout
        seen = {int(m.group(1)): m.group(2) for m in re.finditer(r"rank (\d+) of 4 on (\S+) sum=6\b", out)}
        expect(sorted(seen) == [0, 1, 2, 3], f"rank lines for {sorted(seen)}, expected 0..3:\n{out[-3000:]}")
        for name in ("algo-1", "algo-2"):
            expect(list(seen.values()).count(name) == 2, f"ranks per host {seen}, expected 2 on {name}")


if __name__ == "__main__":
    scenario.main(test, add_arguments=lambda p: p.add_argument("--program", help="smlaunch_mpi_allreduce"))
