"""User code on 2 hosts: sagemaker_submit_directory is a local tarball
(/opt/ml/sourcedir.tar.gz on each host) holding train.py (mpi_check.py, which
imports a package) and a requirements.txt naming that package, installed by
pip from a wheel directory on each host (no index; each run gets its own
virtual environment through SMLAUNCH_PYTHON).

Run 1: both hosts have the wheel: every host installs before the leader
launches, and every rank imports the package.
Run 2: the --failing host (worker or leader) has no wheel: its install fails.
The job must fail at once on both hosts (well before --peer-timeout), the
failing host's failure file has InstallRequirementsError with pip's text, the
other host's names the failing host, and no rank is started.

--launcher torchrun: the same run 2 for a torchrun job (every host runs its
own torchrun; the hosts wait for each other's readiness on smlaunch's
heartbeat port). Run 1 is left to test_torchrun.py (torch is slow to start)."""
import io
import os
import re
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from cluster import PYTHON  # noqa: E402
from scenario import expect  # noqa: E402

PACKAGE = "smlaunch_e2edep"
PEER_TIMEOUT = 300       # a failure that waited for it would take minutes
FAST = 45                # seconds from start to every host's exit, generous for a loaded 2-core machine

WHEEL_MAKER = f"""
import sys, zipfile
name, version = '{PACKAGE}', '1.0'
info = f'{{name}}-{{version}}.dist-info'
files = {{
    f'{{name}}/__init__.py': 'VALUE = 42\\n',
    f'{{info}}/METADATA': f'Metadata-Version: 2.1\\nName: {{name}}\\nVersion: {{version}}\\n',
    f'{{info}}/WHEEL': 'Wheel-Version: 1.0\\nGenerator: smlaunch-e2e\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}}
files[f'{{info}}/RECORD'] = ''.join(f'{{p}},,\\n' for p in files) + f'{{info}}/RECORD,,\\n'
with zipfile.ZipFile(f'{{sys.argv[1]}}/{{name}}-{{version}}-py3-none-any.whl', 'w') as z:
    for path, text in files.items():
        z.writestr(path, text)
"""


def tarball(files):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            info.mode = 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(raw))
    return data.getvalue()


def prepare(c, run, wheel_on, launcher="mpi"):
    """/opt/ml on every host for one run: the job, the tarball, an empty
    /opt/ml/code, a fresh venv /opt/ml/venv-<run>, and the wheel only on the
    hosts in wheel_on."""
    program = "mpi_check.py" if launcher == "mpi" else "torch_check.py"
    train = f"import {PACKAGE}\nassert {PACKAGE}.VALUE == 42\n" + scenario.program(program)
    source = tarball({"train.py": train, "requirements.txt": f"{PACKAGE}==1.0\n"})
    if launcher == "mpi":
        hp = scenario.mpi_hyperparameters(2, **{"expect-size": 4})
    else:
        hp = {"sagemaker_program": "train.py", "sagemaker_torch_distributed_enabled": True}
    hp["sagemaker_submit_directory"] = "/opt/ml/sourcedir.tar.gz"
    c.write_job(hp)
    for h in c.hosts:
        code = h.path("/opt/ml/code")
        for name in os.listdir(code):
            os.remove(os.path.join(code, name))
        with open(h.path("/opt/ml/sourcedir.tar.gz"), "wb") as f:
            f.write(source)
        wheels = f"/opt/ml/wheels-{run}"
        os.makedirs(h.path(wheels), exist_ok=True)
        if h.name in wheel_on:
            h.run([PYTHON, "-c", WHEEL_MAKER, wheels], timeout=60)
        venv = f"/opt/ml/venv-{run}"
        h.run([PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", venv], timeout=120)
    return {"SMLAUNCH_PYTHON": f"/opt/ml/venv-{run}/bin/python", "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": f"/opt/ml/wheels-{run}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test(args):
    with scenario.cluster(args, hosts=2) as c:
        leader, worker = c.hosts[0].name, c.hosts[1].name
        failing = worker if args.failing == "worker" else leader
        other = leader if failing == worker else worker

        if args.launcher == "mpi":
            run_both_install(c, leader)
        print(f"run 2: the install fails on {failing} ({args.failing}, {args.launcher})", flush=True)
        env = prepare(c, 2, wheel_on={other}, launcher=args.launcher)
        if args.launcher == "torchrun":
            env.update({"PET_REDIRECTS": "9:1", "PET_TEE": "9:1"})   # see test_torchrun.py
        run = c.train(["--peer-timeout", str(PEER_TIMEOUT)], env=env)
        results = run.wait(PEER_TIMEOUT + 60)
        scenario.show(results)
        scenario.expect_nonzero(results)
        scenario.expect_exit_within(results, [leader, worker], run.all_started, FAST, "the start")
        scenario.expect_failure_file(results[failing], "InstallRequirementsError", PACKAGE)
        scenario.expect_failure_file(results[other], "InstallRequirementsError", failing)
        for name in (leader, worker):
            expect(results[name].exit_code == 1, f"{name} exited {results[name].exit_code}, expected 1 (pip failed)")
            out = results[name].stdout
            expect("E2E_START" not in out and not re.search(r"rank \d+ of \d+", out),
                   f"{name}: a rank started although {failing}'s code was not ready:\n{out[-1500:]}")
        # Who decides not to start: the leader (mpi), every host (torchrun).
        deciders = [leader] if args.launcher == "mpi" else [leader, worker]
        for name in deciders:
            said = results[name].stderr + results[name].stdout
            expect("Not starting the job" in said, f"{name} did not say it is not starting the job")


def run_both_install(c, leader):
    print("run 1: the code installs on both hosts", flush=True)
    env = prepare(c, 1, wheel_on={h.name for h in c.hosts})
    results = c.train(["--peer-timeout", str(PEER_TIMEOUT)], env=env).wait(240)
    scenario.show(results)
    scenario.expect_success(results)
    for h in c.hosts:
        expect(any(h.exists(f"/opt/ml/venv-1/lib/{d}/site-packages/{PACKAGE}/__init__.py")
                   for d in os.listdir(h.path("/opt/ml/venv-1/lib"))),
               f"{h.name}: {PACKAGE} not installed in its venv")
        expect(h.exists("/opt/ml/code/train.py"), f"{h.name}: the tarball was not unpacked into /opt/ml/code")
    starts = scenario.stamps(results[leader].stdout, "START")
    expect(len(starts) == 4, f"{len(starts)} ranks started in run 1, expected 4")


def add_arguments(parser):
    parser.add_argument("--failing", choices=("worker", "leader"), default="worker",
                        help="the host whose install fails in run 2")
    parser.add_argument("--launcher", choices=("mpi", "torchrun"), default="mpi")


if __name__ == "__main__":
    scenario.main(test, add_arguments)
