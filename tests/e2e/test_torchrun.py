"""torchrun on 2 hosts (sagemaker_torch_distributed_enabled): every host runs
its own torchrun with its node rank and master address algo-1; the workers
(Debian's python3-torch, gloo, CPU) all_reduce and check the world size.
Every host exits 0 with /opt/ml/output/success."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402


def hyperparameters(**extra):
    return {"sagemaker_program": "train.py", "sagemaker_submit_directory": "/opt/ml/code",
            "sagemaker_torch_distributed_enabled": True, **extra}


# Debian 12's torch 1.13.1 cannot start torchrun under Python 3.11: the
# default `--redirects 0` / `--tee 0` parse to None (Std.from_str iterates the
# IntFlag, and Python 3.11 skips its zero member), and torchrun dies with
# "AttributeError: 'NoneType' object has no attribute 'get'". A setting for a
# local rank that does not exist parses fine and behaves like the default.
# Real training images ship their own torch.
TORCH_FIX = {"PET_REDIRECTS": "9:1", "PET_TEE": "9:1"}


def test(args):
    with scenario.cluster(args, hosts=2) as c:
        c.write_job(hyperparameters(), code={"train.py": scenario.program("torch_check.py")})
        plan = json.loads(c.host(1).run([c.smlaunch, "plan", "--json"]).stdout)
        size = plan["num_processes"]
        print(f"  plan: runner {plan['runner']}, {plan['processes_per_host']} per host, world size {size}; "
              f"argv {' '.join(plan['argv'])}", flush=True)
        c.write_job(hyperparameters(**{"expect-size": size}), code={"train.py": scenario.program("torch_check.py")})
        results = c.train(["--peer-timeout", "60"], env=TORCH_FIX).wait(200)
        scenario.show(results)
        scenario.expect_success(results)
        out = "".join(r.stdout for r in results.values())
        ranks = {int(m.group(1)): m.group(2) for m in re.finditer(rf"rank (\d+) of {size} node (\d+) ", out)}
        expect(sorted(ranks) == list(range(size)), f"ranks {sorted(ranks)}, expected 0..{size - 1}:\n{out[-3000:]}")
        expect(sorted(set(ranks.values())) == ["0", "1"], f"node ranks {ranks}, expected nodes 0 and 1")


if __name__ == "__main__":
    scenario.main(test)
