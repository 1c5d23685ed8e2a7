"""A torchrun worker for the e2e tests: gloo all_reduce on CPU, checks the
world size. Prints E2E_START/E2E_END like mpi_check.py.
Options: --expect-size N."""
import argparse
import os
import sys
import time

print(f"E2E_START rank={os.environ.get('RANK', '?')} t={time.time():.6f}", flush=True)
parser = argparse.ArgumentParser()
parser.add_argument("--expect-size", type=int)
opts, _ = parser.parse_known_args()

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

dist.init_process_group("gloo")
rank, size = dist.get_rank(), dist.get_world_size()
t = torch.tensor([float(rank)])
dist.all_reduce(t)
errors = []
if opts.expect_size is not None and size != opts.expect_size:
    errors.append(f"world size {size}, expected {opts.expect_size}")
if size != int(os.environ["WORLD_SIZE"]):
    errors.append(f"world size {size}, WORLD_SIZE {os.environ['WORLD_SIZE']}")
if int(t.item()) != size * (size - 1) // 2:
    errors.append(f"all_reduce sum {t.item()}, expected {size * (size - 1) // 2}")
print(f"rank {rank} of {size} node {os.environ.get('GROUP_RANK')} on {os.environ.get('SM_CURRENT_HOST')} "
      f"sum={int(t.item())}", flush=True)
dist.barrier()
dist.destroy_process_group()
if errors:
    print(f"E2E_CHECK_FAILED rank {rank}: " + "; ".join(errors), file=sys.stderr, flush=True)
    sys.exit(5)
print(f"E2E_END rank={rank} t={time.time():.6f}", flush=True)
