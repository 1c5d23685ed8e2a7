"""Hyperparameters {"evil": "$(touch /tmp/pwned)", "spaced": "a b"} reach every
rank on 2 hosts as one argument each (each rank writes its argv as JSON to
/tmp/argv.<rank>.json on its host), and /tmp/pwned exists on no host."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402

EVIL = "$(touch /tmp/pwned)"


def test(args):
    outside = os.path.exists("/tmp/pwned")   # this machine's own /tmp, for comparison
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c, expect_size=4, argv_dir="/tmp", evil=EVIL, spaced="a b")
        results = c.train(["--peer-timeout", "60"]).wait(120)
        scenario.show(results)
        scenario.expect_success(results)
        seen = 0
        for h in c.hosts:
            expect(not h.exists("/tmp/pwned"), f"/tmp/pwned exists on {h.name}: a hyperparameter was executed")
            for name in sorted(os.listdir(h.path("/tmp"))):
                if name.startswith("argv.") and name.endswith(".json"):
                    argv = json.loads(h.read("/tmp/" + name))
                    seen += 1
                    pairs = list(zip(argv, argv[1:]))
                    expect(("--evil", EVIL) in pairs, f"{h.name} {name}: --evil not one verbatim argument: {argv}")
                    expect(("--spaced", "a b") in pairs, f"{h.name} {name}: --spaced not one argument: {argv}")
                    print(f"  {h.name} {name}: {argv[1:]}", flush=True)
        expect(seen == 4, f"{seen} ranks wrote their argv, expected 4")
    expect(outside or not os.path.exists("/tmp/pwned"), "/tmp/pwned appeared on this machine")


if __name__ == "__main__":
    scenario.main(test)
