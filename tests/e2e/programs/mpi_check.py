"""An mpi4py rank for the e2e tests (also run by a bare mpirun in the baseline).

Prints "E2E_START rank=R t=T" before MPI starts and "E2E_END rank=R t=T"
after MPI_Finalize (T = time.time(), the clock the harness also uses), so the
harness can measure start overhead and the end-of-job tail. In between it
allreduces, checks the world size and that socket.gethostname() is this
host's algo-K (current_host of /opt/ml/input/config/resourceconfig.json,
i.e. the LD_PRELOAD shim works: the UTS name is ip-10-77-0-K).

Options (unknown ones are ignored; hyperparameters arrive as --name value):
  --expect-size N        world size expected (default: not checked)
  --expect-hosts A,B     rank 0 checks every host has the same number of ranks
  --sleep S              sleep S seconds after the allreduce (a job to interrupt)
  --exit-rank R --exit-code C   rank R prints an error line and exits C
  --argv-dir DIR         write sys.argv as JSON to DIR/argv.<rank>.json
"""
import argparse
import json
import os
import socket
import sys
import time

rank_env = os.environ.get("OMPI_COMM_WORLD_RANK", "?")
print(f"E2E_START rank={rank_env} t={time.time():.6f}", flush=True)

parser = argparse.ArgumentParser()
parser.add_argument("--expect-size", type=int)
parser.add_argument("--expect-hosts")
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--exit-rank", type=int, default=-1)
parser.add_argument("--exit-code", type=int, default=0)
parser.add_argument("--argv-dir")
opts, _ = parser.parse_known_args()

from mpi4py import MPI  # noqa: E402

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
if opts.argv_dir:
    with open(os.path.join(opts.argv_dir, f"argv.{rank}.json"), "w") as f:
        json.dump(sys.argv, f)

errors = []
with open("/opt/ml/input/config/resourceconfig.json") as f:
    current_host = json.load(f)["current_host"]
name = socket.gethostname()
if name != current_host:
    errors.append(f"gethostname() is {name!r}, expected {current_host!r} (uts name {os.uname().nodename!r})")
if opts.expect_size is not None and size != opts.expect_size:
    errors.append(f"world size {size}, expected {opts.expect_size}")
total = comm.allreduce(rank, op=MPI.SUM)
if total != size * (size - 1) // 2:
    errors.append(f"allreduce sum {total}, expected {size * (size - 1) // 2}")
names = comm.gather(name, root=0)
if rank == 0 and opts.expect_hosts:
    want = opts.expect_hosts.split(",")
    counts = {h: names.count(h) for h in want}
    if sorted(set(names)) != sorted(want) or len(set(counts.values())) != 1:
        errors.append(f"ranks per host {counts} (all: {names}), expected every one of {want} equally")
print(f"rank {rank} of {size} on {name} sum={total}", flush=True)

if errors:
    print(f"E2E_CHECK_FAILED rank {rank}: " + "; ".join(errors), file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(5)

deadline = time.time() + opts.sleep
while time.time() < deadline:
    time.sleep(min(0.2, max(0.0, deadline - time.time())))

if rank == opts.exit_rank:
    print(f"E2E_FAIL rank={rank} t={time.time():.6f}", flush=True)
    print(f"RuntimeError: rank {rank} fails on purpose with exit code {opts.exit_code}", file=sys.stderr, flush=True)
    os._exit(opts.exit_code)

comm.Barrier()
MPI.Finalize()
print(f"E2E_END rank={rank} t={time.time():.6f}", flush=True)
