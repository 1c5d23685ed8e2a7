"""Secrets never leave the user program (SPEC "Logging hygiene", D30, D39).

Unique secret values are planted on both hosts of a 2-host MPI job: AWS
credentials in smlaunch's environment (AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_ACCESS_KEY_ID), another secret-named variable
(HF_TOKEN), hyperparameters named like secrets (db_password, api_key), and
a secret-named variable set by the custom mpirun options
(`-x MPI_OPTION_TOKEN=...`).
Every rank checks that it received each of them (by SHA-256: the program
never prints or writes a secret). Then, after one job that fails (rank 3
exits 3, so failure files and the failure outcome are written) and one that
succeeds, plus `smlaunch plan` and `smlaunch doctor` on the leader, every
artefact is searched for the secret bytes: the harness's logs
(<build>/e2e-logs/<name>/: each run's stdout and stderr, harness.log, the
collected copies), every file under each host's /opt/ml/output, /tmp (the
outcome /tmp/done.algo-1 and the readiness files) and /run/smlaunch (sshd's
log), and each host's /etc/environment. None may contain any secret.
"""
import hashlib
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402

# The user program: checks what it got against the hashes, prints one line
# per rank, fails on request. It prints and writes no secret.
PROGRAM = r'''
import argparse, hashlib, json, os, sys
from mpi4py import MPI
rank = MPI.COMM_WORLD.Get_rank()
parser = argparse.ArgumentParser()
parser.add_argument("--expect-hashes")
parser.add_argument("--fail-rank", type=int, default=-1)
parser.add_argument("--db_password")
parser.add_argument("--api_key")
opts, _ = parser.parse_known_args()
want = json.loads(opts.expect_hashes)
got = {name: os.environ.get(name, "") for name in want if not name.startswith("--")}
got["--db_password"] = opts.db_password or ""
got["--api_key"] = opts.api_key or ""
got["SM_HP_DB_PASSWORD"] = os.environ.get("SM_HP_DB_PASSWORD", "")
missing = sorted(n for n, h in want.items() if hashlib.sha256(got.get(n, "").encode()).hexdigest() != h)
print(f"E2E_SECRETS rank={rank} " + ("all seen" if not missing else "missing " + ",".join(missing)), flush=True)
MPI.COMM_WORLD.Barrier()
if rank == opts.fail_rank:
    print(f"RuntimeError: rank {rank} fails on purpose with exit code 3", file=sys.stderr, flush=True)
    os._exit(3)
MPI.COMM_WORLD.Barrier()
'''


def secret(kind):
    return f"E2E-{kind}-{uuid.uuid4().hex}"


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def files_under(top):
    """Every regular file below top (not following symlinks)."""
    if os.path.isfile(top):
        yield top
        return
    for root, dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


def leaks(artefacts, secrets):
    """["SECRET in WHERE (LINES)"] for every artefact holding a secret's
    bytes; artefacts are (label, path) pairs. For short files the first
    word of each line with the secret is named (the variable, in
    /etc/environment)."""
    found = []
    for label, path in artefacts:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for name, value in secrets.items():
            if value.encode() not in data:
                continue
            words = [line.split(b"=", 1)[0].split()[-1].decode(errors="replace")
                     for line in data.splitlines() if value.encode() in line and b"=" in line]
            detail = f" ({', '.join(sorted(set(words))[:5])})" if path.endswith("environment") and words else ""
            found.append(f"{name} in {label}{detail}")
    return found


def unseen(which, stdout):
    """Problems: ranks that did not receive every secret (they must: the
    ranks need them, D39 says through `mpirun -x`)."""
    lines = [line for line in stdout.splitlines() if "E2E_SECRETS rank=" in line]
    if len(lines) != 4:
        return [f"{which}: {len(lines)} ranks reported what they received, expected 4"]
    return [f"{which}: {line.split('E2E_SECRETS ', 1)[1]}" for line in lines if not line.endswith("all seen")]


def test(args):
    env_secrets = {"AWS_SECRET_ACCESS_KEY": secret("aws-secret"), "AWS_SESSION_TOKEN": secret("aws-token"),
                   "AWS_ACCESS_KEY_ID": "AKIA" + uuid.uuid4().hex[:16].upper(), "HF_TOKEN": secret("hf-token")}
    hp_secrets = {"db_password": secret("db-password"), "api_key": secret("api-key")}
    # A variable set for every rank by the custom mpirun options.
    option_secret = secret("mpi-option-token")
    options = {"sagemaker_mpi_custom_mpi_options": f"-x MPI_OPTION_TOKEN={option_secret}"}
    secrets = {**env_secrets, **hp_secrets, "MPI_OPTION_TOKEN": option_secret}
    hashes = {name: sha(value) for name, value in env_secrets.items()}
    hashes.update({"--db_password": sha(hp_secrets["db_password"]), "--api_key": sha(hp_secrets["api_key"]),
                   "SM_HP_DB_PASSWORD": sha(hp_secrets["db_password"]), "MPI_OPTION_TOKEN": sha(option_secret)})
    problems = []
    with scenario.cluster(args, hosts=2) as c:
        def job(**extra):
            hp = scenario.mpi_hyperparameters(2, **{"expect-hashes": json.dumps(hashes), **hp_secrets, **options,
                                                    **extra})
            c.write_job(hp, code={"train.py": PROGRAM})

        # 1. A job that fails: rank 3 (on algo-2) exits 3.
        job(**{"fail-rank": 3})
        failed = c.train(["--peer-timeout", "60"], env=env_secrets, label="failing").wait(120)
        scenario.show(failed)
        leader = failed["algo-1"]
        expect(leader.exit_code == 1, f"the failing job: the leader exited {leader.exit_code}, expected 1")
        scenario.expect_failure_file(leader, "ExitCode 3", "RuntimeError: rank 3 fails on purpose")
        scenario.expect_nonzero(failed)
        problems += unseen("the failing job", leader.stdout)
        # The failure files are overwritten by the next job: keep a copy.
        for h in c.hosts:
            for path in files_under(os.path.join(h.opt_ml, "output")):
                kept = os.path.join(c.logs_dir, h.name, "failing-output", os.path.relpath(path, h.opt_ml))
                os.makedirs(os.path.dirname(kept), exist_ok=True)
                with open(path, "rb") as src, open(kept, "wb") as dst:
                    dst.write(src.read())

        # 2. A job that succeeds.
        job()
        succeeded = c.train(["--peer-timeout", "60"], env=env_secrets, label="succeeding").wait(120)
        scenario.show(succeeded)
        scenario.expect_success(succeeded)
        problems += unseen("the succeeding job", succeeded["algo-1"].stdout)

        # 3. What people look at: the plan (masked) and doctor.
        plan = c.start([c.smlaunch, "plan"], hosts=["algo-1"], env=env_secrets, label="plan").wait(30)
        expect(plan["algo-1"].exit_code == 0, f"smlaunch plan exited {plan['algo-1'].exit_code}: "
                                               f"{plan['algo-1'].stderr[-500:]}")
        expect("****" in plan["algo-1"].stdout, "smlaunch plan masks nothing:\n" + plan["algo-1"].stdout[-1500:])
        c.start([c.smlaunch, "doctor"], hosts=["algo-1"], env=env_secrets, label="doctor").wait(90)

        # 4. Every artefact.
        c._collect_logs()   # /opt/ml/output, input/config, /tmp of each host into the logs
        artefacts = [(os.path.relpath(p, c.build), p) for p in files_under(c.logs_dir)]
        for h in c.hosts:
            for top in ("/opt/ml/output", "/tmp", "/run/smlaunch", "/etc/environment"):
                real = os.path.join(h.opt_ml, "output") if top == "/opt/ml/output" else h.path(top)
                if os.path.exists(real):
                    artefacts += [(f"{h.name}:{top}{p[len(real):]}", p) for p in files_under(real)]
            environment = h.read("/etc/environment") or ""
            expect("SM_CURRENT_HOST" in environment or h.name == "algo-1",
                   f"{h.name}: no smlaunch block in /etc/environment: the check below would prove nothing")
        # hyperparameters.json holds the hyperparameters by definition (the
        # platform writes it, not smlaunch): the collected copies are skipped.
        artefacts = [(l, p) for l, p in artefacts if not p.endswith("input/config/hyperparameters.json")]
        expect(any(l == "algo-2:/tmp/done.algo-1" for l, _ in artefacts), "no /tmp/done.algo-1 among the artefacts")
        expect(any(l == "algo-2:/etc/environment" for l, _ in artefacts), "no /etc/environment among the artefacts")
        expect(any(p.endswith(".stderr") for _, p in artefacts), "no run stderr among the artefacts")
        print(f"  searched {len(artefacts)} files for {len(secrets)} secrets", flush=True)
        problems += leaks(artefacts, secrets)
        if problems:
            c.failed = True   # keep the logs
        expect(not problems, "\n  ".join(["secrets leaked or lost:"] + problems))


if __name__ == "__main__":
    scenario.main(test)
