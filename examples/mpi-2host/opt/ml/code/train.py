"""Prints each rank's view of the job (run under python -m mpi4py)."""
from mpi4py import MPI
import os
comm = MPI.COMM_WORLD
print(f"rank {comm.Get_rank()}/{comm.Get_size()} on {os.environ.get('SM_CURRENT_HOST')}")
