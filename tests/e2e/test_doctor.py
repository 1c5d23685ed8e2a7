"""`smlaunch doctor` on a 2-host cluster: healthy, then broken one way at a time.

Healthy: with the harness's own sshd up on both hosts (as the baseline starts
it), doctor on each host prints no FAIL line, logs in to the other host over
SSH and exits 0. Before any sshd is up, the other host is only a WARN (exit 0)
and doctor still finishes within a few seconds.

Broken, each restored before the next: algo-2's authorized_keys emptied (FAIL
ssh algo-2 on algo-1, FAIL authorized_keys on algo-2), invalid
hyperparameters.json, a network_interface_name that does not exist, a host
name that does not resolve, this host missing from the host list, no key
pair, no `StrictHostKeyChecking no` for mpirun's ssh, a Python without
mpi4py for an MPI job (each FAIL, exit 1), a small /dev/shm (WARN, exit 0),
and last a silent peer (link down: WARN within the time bound). No run
prints the secret hyperparameter's value, and every run ends within 8 s.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402
from scenario import expect  # noqa: E402

SECRET = "s3cr3t-doctor-value"
DOCTOR_LIMIT = 8.0          # seconds: "the whole doctor under a few seconds", with slack for a loaded machine


def doctor(c, host, env=None, label=""):
    """Runs `smlaunch doctor` in host; returns (exit code, stdout lines). Checks the line format."""
    h = c.host(host)
    t0 = time.time()
    p = h.run([c.smlaunch, "doctor"], env=env, timeout=60, check=False)
    took = time.time() - t0
    print(f"--- doctor on {h.name}{' (' + label + ')' if label else ''}: exit {p.returncode} in {took:.2f}s",
          flush=True)
    print(p.stdout.rstrip(), flush=True)
    if p.stderr.strip():
        print("stderr: " + p.stderr.strip(), flush=True)
    lines = p.stdout.splitlines()
    expect(lines and lines[-1].startswith("smlaunch doctor: "), f"no summary line:\n{p.stdout}")
    for line in lines[:-1]:
        expect(line[:5] in ("OK   ", "WARN ", "FAIL "), f"a line without OK/WARN/FAIL: {line!r}")
        if not line.startswith("OK"):
            expect(" -- fix: " in line, f"a WARN/FAIL line without a fix: {line!r}")
    expect(SECRET not in p.stdout + p.stderr, "doctor printed the secret hyperparameter's value")
    expect(took < DOCTOR_LIMIT, f"doctor took {took:.1f}s (limit {DOCTOR_LIMIT}s)")
    fails = [line for line in lines if line.startswith("FAIL")]
    expect(p.returncode == (1 if fails else 0), f"exit {p.returncode} with {len(fails)} FAIL line(s)")
    return p.returncode, lines


def has(lines, prefix):
    return any(line.startswith(prefix) for line in lines)


def expect_line(lines, prefix, what):
    expect(has(lines, prefix), f"{what}: no line starting with {prefix!r}:\n" + "\n".join(lines))


def expect_fail(c, host, prefix, what, env=None):
    code, lines = doctor(c, host, env=env, label=what)
    expect(code == 1, f"{what}: doctor exited {code}, expected 1")
    expect_line(lines, prefix, what)
    return lines


def write_config(c, host, name, text):
    with open(os.path.join(c.host(host).opt_ml, "input", "config", name), "w") as f:
        f.write(text)


def resource_config(c, host):
    with open(os.path.join(c.host(host).opt_ml, "input", "config", "resourceconfig.json")) as f:
        return json.load(f)


def test(args):
    with scenario.cluster(args, hosts=2) as c:
        scenario.mpi4py_job(c, api_token=SECRET)
        hyperparameters = c.host(1).read("/opt/ml/input/config/hyperparameters.json")
        good_rc = resource_config(c, 1)

        # 1. Before the peers' sshd is up: WARN, not FAIL, and quick.
        code, lines = doctor(c, 1, label="no sshd anywhere")
        expect(code == 0, f"doctor exited {code} with the peer's sshd down, expected 0")
        expect_line(lines, "WARN ssh algo-2: ", "peer down")

        # 2. Healthy: sshd on both hosts.
        c.start_sshd()
        for k, peer in ((1, "algo-2"), (2, "algo-1")):
            code, lines = doctor(c, k, label="healthy")
            expect(code == 0 and not has(lines, "FAIL"), f"algo-{k}: doctor failed on a healthy cluster")
            for prefix in ("OK   resourceconfig.json: ", "OK   hyperparameters.json: ", "OK   inputdataconfig.json: ",
                           f"OK   host: algo-{k} is host {k} of 2", "OK   interface eth0: up, 10.77.0.",
                           "OK   resolve: all 2 host names resolve", "OK   sshd: ", "OK   sshd host keys: ",
                           "OK   ssh key: /root/.ssh/id_ed25519", "OK   authorized_keys: ",
                           "OK   ssh client: ", f"OK   ssh {peer}: {peer}:22: SSH handshake and public-key login",
                           "OK   mpirun: ", "OK   python: /usr/bin/python3", "OK   mpi4py: ",
                           "OK   gpus: ", "OK   efa: ", "OK   free space /tmp: "):
                expect_line(lines, prefix, f"healthy algo-{k}")

        # 3. A key algo-2 refuses.
        authorized = os.path.join(c.host(2).root_home, ".ssh", "authorized_keys")
        with open(authorized) as f:
            saved = f.read()
        with open(authorized, "w"):
            pass
        expect_fail(c, 1, "FAIL ssh algo-2: ", "algo-2's authorized_keys emptied")
        expect_fail(c, 2, "FAIL authorized_keys: /root/.ssh/authorized_keys does not hold the public key",
                    "its own authorized_keys emptied")
        with open(authorized, "w") as f:
            f.write(saved)

        # 4. Invalid hyperparameters.json: a FAIL naming the file and the field.
        write_config(c, 1, "hyperparameters.json", '{"sagemaker_program": ')
        lines = expect_fail(c, 1, "FAIL hyperparameters.json: document: invalid JSON", "bad hyperparameters.json")
        expect_line(lines, "OK   ssh algo-2: ", "bad hyperparameters.json (the other checks still run)")
        write_config(c, 1, "hyperparameters.json", hyperparameters)

        # 5. A network interface that does not exist.
        write_config(c, 1, "resourceconfig.json", json.dumps(dict(good_rc, network_interface_name="eth9")))
        expect_fail(c, 1, "FAIL interface eth9: no interface eth9 on this host", "wrong interface name")

        # 6. A host name that does not resolve (it is not tried over SSH either).
        three = ["algo-1", "algo-2", "algo-9"]
        groups = [dict(good_rc["instance_groups"][0], hosts=three)]
        write_config(c, 1, "resourceconfig.json", json.dumps(dict(good_rc, hosts=three, instance_groups=groups)))
        lines = expect_fail(c, 1, "FAIL resolve algo-9: algo-9 does not resolve", "unresolvable host")
        expect_line(lines, "WARN ssh algo-9: not tried", "unresolvable host")

        # 7. This host missing from the host list.
        write_config(c, 1, "resourceconfig.json", json.dumps(dict(good_rc, hosts=["algo-2"])))
        expect_fail(c, 1, "FAIL host: algo-1 is not in hosts [algo-2]", "host not in the list")
        write_config(c, 1, "resourceconfig.json", json.dumps(good_rc))

        # 8. No key pair on algo-1.
        key = os.path.join(c.host(1).root_home, ".ssh", "id_ed25519")
        os.rename(key, key + ".away")
        expect_fail(c, 1, "FAIL ssh key: no private key in /root/.ssh", "no key pair")
        os.rename(key + ".away", key)

        # 9. mpirun's ssh would ask about the unknown host key.
        config = os.path.join(c.host(1).root_home, ".ssh", "config")
        os.rename(config, config + ".away")
        expect_fail(c, 1, "FAIL ssh client: ", "no StrictHostKeyChecking no")
        os.rename(config + ".away", config)

        # 10. A Python without mpi4py for an MPI job with a .py entry point
        # (-S: no site-packages, where Debian's mpi4py lives).
        code_dir = os.path.join(c.host(1).opt_ml, "code")
        with open(os.path.join(code_dir, "python-no-site"), "w") as f:
            f.write('#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n')
        os.chmod(os.path.join(code_dir, "python-no-site"), 0o755)
        expect_fail(c, 1, "FAIL mpi4py: import mpi4py failed", "no mpi4py",
                    env={"SMLAUNCH_PYTHON": "/opt/ml/code/python-no-site"})

        # 11. A small /dev/shm: a warning (NCCL needs it), not a failure.
        c.host(1).run(["/usr/bin/mount", "-t", "tmpfs", "-o", "size=64m", "doctor-shm", "/dev/shm"])
        code, lines = doctor(c, 1, label="64 MiB /dev/shm")
        expect(code == 0, f"a small /dev/shm: doctor exited {code}, expected 0 (a WARN)")
        expect_line(lines, "WARN free space /dev/shm: 64 MiB free of 64 MiB (under 1 GiB) -- fix: ", "small /dev/shm")
        c.host(1).run(["/usr/bin/umount", "/dev/shm"])

        # Healthy again after every repair.
        code, lines = doctor(c, 1, label="repaired")
        expect(code == 0, f"doctor exited {code} after every repair")

        # 12. A peer that answers nothing (link down): a WARN after one short
        # handshake timeout, not a hang.
        c.silence_host(2)
        code, lines = doctor(c, 1, label="algo-2 silent")
        expect(code == 0, f"a silent peer: doctor exited {code}, expected 0 (a WARN)")
        expect_line(lines, "WARN ssh algo-2: ", "silent peer")


if __name__ == "__main__":
    scenario.main(test)
