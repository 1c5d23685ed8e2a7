"""PID 1 of one simulated host (see README.md, "How a host is made").

cluster.py starts this program as

    unshare --net --mount --uts --ipc --pid --fork --kill-child \
            --propagation private /usr/bin/python3 hostinit.py SPEC_JSON

so it runs as PID 1 of a fresh PID namespace, inside fresh network, mount,
UTS and IPC namespaces. It

1. prints "pid <N>": its PID as seen from the root PID namespace (read from
   the root /proc before /proc is remounted), which is what `nsenter --target`
   and the harness's process scans use;
2. builds the host's file system view (private /tmp, /run, /dev/shm, fresh
   /proc and /sys, an overlay on /etc and /opt, /opt/ml and /root bound from
   the harness's per-host directory, paths under /tmp re-bound read-only),
   writes /etc/hosts, /etc/resolv.conf and the shared sshd host keys, and sets
   the host name;
3. prints "ready" and then only reaps children, for ever. It ignores every
   signal it can; the harness ends the host with SIGKILL from the root PID
   namespace, and the kernel then kills every process of the namespace and
   frees the namespaces with their mounts.

The network (eth0, addresses) is set up from outside by the harness once
"ready" has been printed: the veth peer must be created in the bridge's
namespace and moved here by PID.

Any error before "ready" is printed as "error: ..." and the program exits 1.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys


def sh(*argv):
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)


def mount(*args):
    sh("/usr/bin/mount", *args)


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def setup(spec):
    private = spec["private_dir"]  # an empty directory of the harness; a tmpfs here, in this namespace only
    mount("-t", "tmpfs", "-o", "mode=0700", "e2e-private", private)

    # Paths under /tmp (a build tree, say) stay visible, read-only, at the
    # same path: bind them aside before /tmp is covered. The aside must not be
    # under /tmp itself (the harness's own directories may be: a clean clone
    # in /tmp), so it is a tmpfs on /mnt, in this mount namespace only.
    kept = []
    keep_under_tmp = spec.get("keep_under_tmp", [])
    if keep_under_tmp:
        stash = next(d for d in ("/mnt", "/media", "/srv") if os.path.isdir(d))
        mount("-t", "tmpfs", "-o", "mode=0700", "e2e-keep", stash)
    for i, path in enumerate(keep_under_tmp):
        aside = os.path.join(stash, str(i))
        os.makedirs(aside)
        mount("--bind", path, aside)
        kept.append((aside, path))

    # /etc and /opt as overlays: writes (/etc/environment, /etc/hosts, sshd
    # keys, a new /opt/ml mount point) stay in this host and vanish with it.
    for top in ("/etc", "/opt"):
        name = top.strip("/")
        upper, work = os.path.join(private, name + "-upper"), os.path.join(private, name + "-work")
        os.makedirs(upper)
        os.makedirs(work)
        mount("-t", "overlay", "e2e-" + name, "-o", f"lowerdir={top},upperdir={upper},workdir={work}", top)

    os.makedirs("/opt/ml", exist_ok=True)
    mount("--bind", spec["opt_ml"], "/opt/ml")
    mount("--bind", spec["root_home"], "/root")

    write("/etc/hosts", spec["etc_hosts"])
    if os.path.islink("/etc/resolv.conf") or os.path.exists("/etc/resolv.conf"):
        os.remove("/etc/resolv.conf")
    write("/etc/resolv.conf", "nameserver 127.0.0.1\n")
    write("/etc/hostname", spec["hostname"] + "\n")
    for name in os.listdir("/etc/ssh"):
        if name.startswith("ssh_host_"):
            os.remove(os.path.join("/etc/ssh", name))  # this machine's own host keys
    for name in os.listdir(spec["host_keys_dir"]):
        src, dst = os.path.join(spec["host_keys_dir"], name), os.path.join("/etc/ssh", name)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o644 if name.endswith(".pub") else 0o600)
    socket.sethostname(spec["hostname"])

    # Last, the private file systems: they cover /tmp, where the harness's
    # directories (bound above) may live.
    mount("-t", "proc", "proc", "/proc")
    mount("-t", "sysfs", "sysfs", "/sys")
    mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/tmp")
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")
    mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/dev/shm")
    os.makedirs("/run/sshd", mode=0o755)
    os.makedirs("/run/lock", mode=0o1777)

    for aside, path in kept:
        os.makedirs(path, exist_ok=True)
        mount("--bind", aside, path)
        mount("-o", "remount,bind,ro", path)



def main():
    spec = json.loads(sys.argv[1])
    # Before /proc is remounted, /proc/self is this process in the root PID namespace.
    print("pid", os.readlink("/proc/self"), flush=True)
    try:
        if os.getpid() != 1:
            raise RuntimeError(f"expected to be PID 1 of a new PID namespace, am {os.getpid()}")
        setup(spec)
    except Exception as e:  # noqa: BLE001 - reported to the harness verbatim
        print("error:", repr(e), flush=True)
        sys.exit(1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    os.chdir("/")
    print("ready", flush=True)
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    # Reap orphans for ever. SIGCHLD is blocked and waited for with a
    # timeout, so a child that ends between two checks is never missed.
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        signal.sigtimedwait([signal.SIGCHLD], 1.0)

if __name__ == "__main__":
    main()
