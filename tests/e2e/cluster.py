"""A simulated multi-host cluster on one machine, for smlaunch's end-to-end tests.

Python 3 standard library only; run as root by /usr/bin/python3. README.md in
this directory explains the design; /work/shared/CLUSTER-TESTING.md lists what
a host must look like on this machine.

    with Cluster("mpi4py_2hosts", hosts=2, build="/work/main/build") as c:
        c.write_job({"sagemaker_program": "train.py", "sagemaker_mpi_enabled": True,
                     "sagemaker_mpi_num_of_processes_per_host": 2},
                    code={"train.py": source})
        run = c.train(["--peer-timeout", "60"])          # smlaunch train on every host at once
        results = run.wait(timeout=120)                  # {"algo-1": HostResult, ...}
        assert all(r.exit_code == 0 for r in results.values())

A host (class Host) is a PID-1 init (hostinit.py) in its own network, mount,
UTS, IPC and PID namespaces; commands enter it with nsenter. The namespaces
are held only by processes (no `ip netns` names, no bind mounts of namespace
files), so killing the inits frees everything, and the inits die with the
harness even if it is SIGKILLed (PR_SET_PDEATHSIG on `unshare`, and
`unshare --kill-child`).
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTINIT = os.path.join(HERE, "hostinit.py")
PROGRAMS = os.path.join(HERE, "programs")
PYTHON = "/usr/bin/python3"          # Debian's: python3-mpi4py and python3-torch are for it
SUBNET = "10.77.0"                   # algo-K is SUBNET.K/24 on its eth0
BRIDGE = "br0"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    """preexec_fn: SIGKILL this child when the harness (its parent) dies."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class HarnessError(RuntimeError):
    """The harness could not build or enter the cluster (not a test failure of smlaunch)."""


class Interrupted(BaseException):
    """SIGINT, SIGTERM, SIGHUP or the cluster's own time limit (SIGALRM)."""

    def __init__(self, signum):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


# ---------------------------------------------------------------- processes

def _ns(pid, kind):
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def _read(path, limit=None):
    try:
        with open(path, "rb") as f:
            data = f.read() if limit is None else f.read(limit)
        return data.decode("utf-8", "replace")
    except OSError:
        return None


def describe_process(pid):
    """'pid 1234 (in host: 17) orted --hnp-topo-sig ...' or None if it is gone."""
    status = _read(f"/proc/{pid}/status")
    cmdline = _read(f"/proc/{pid}/cmdline")
    if status is None or cmdline is None:
        return None
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    inner = fields.get("NSpid", "").split()[-1:] or ["?"]
    name = fields.get("Name", "?").strip()
    args = cmdline.replace("\0", " ").strip() or f"[{name}]"
    return f"pid {pid} (in host: {inner[0]}) {name}: {args[:300]}"


def processes_in_pid_namespace(pidns, exclude=()):
    """Root-namespace PIDs of the live (non-zombie) processes whose PID namespace is pidns."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in exclude or _ns(pid, "pid") != pidns:
            continue
        stat = _read(f"/proc/{pid}/stat")
        if stat is None or stat[stat.rfind(")") + 2:].startswith("Z"):
            continue
        pids.append(pid)
    return pids


# ---------------------------------------------------------------- results

class HostResult:
    """What one host's command did. exit_code is the process's exit status,
    or -N when it was killed by signal N (e.g. by kill_host), or None if it
    did not end before the deadline (it was then killed)."""

    def __init__(self, host):
        self.host = host
        self.exit_code = None
        self.stdout = ""
        self.stderr = ""
        self.started = None      # time.time() when started
        self.ended = None        # time.time() when its process was seen to end
        self.timed_out = False
        self.outputs = {}        # /opt/ml/output/<name> -> text (files only, first 64 KiB)
        self.orphans = []        # what was left in the host when the command ended (killed then)

    @property
    def elapsed(self):
        return None if self.ended is None or self.started is None else self.ended - self.started

    @property
    def failure(self):
        return self.outputs.get("failure")

    @property
    def success(self):
        return "success" in self.outputs

    def summary(self):
        el = "?" if self.elapsed is None else f"{self.elapsed:.2f}s"
        files = ",".join(sorted(self.outputs)) or "-"
        return f"{self.host}: exit={self.exit_code} after {el} output=[{files}] orphans={len(self.orphans)}"


class Run:
    """One command started at once on several hosts (see Cluster.start)."""

    def __init__(self, cluster, hosts, argv, env, teardown, label):
        self.cluster, self.hosts, self.argv, self.label = cluster, hosts, argv, label
        self.teardown = teardown
        self.results = {h.name: HostResult(h.name) for h in hosts}
        self.procs = {}
        self._threads = []
        self._lock = threading.Lock()
        cluster.log(f"{label}: starting on {', '.join(h.name for h in hosts)}: {' '.join(argv)}")
        for h in hosts:
            os.makedirs(os.path.dirname(self.log_path(h, "stdout")), exist_ok=True)
            out = open(self.log_path(h, "stdout"), "wb")
            err = open(self.log_path(h, "stderr"), "wb")
            self.procs[h.name] = h.popen(argv, env, stdout=out, stderr=err)
            self.results[h.name].started = time.time()
            out.close()
            err.close()
        self.all_started = time.time()
        for h in hosts:
            t = threading.Thread(target=self._watch, args=(h,), daemon=True)
            t.start()
            self._threads.append(t)

    def log_path(self, host, stream):
        return os.path.join(self.cluster.logs_dir, host.name, f"{self.label}.{stream}")

    def _watch(self, host):
        proc = self.procs[host.name]
        code = proc.wait()
        r = self.results[host.name]
        r.ended = time.time()
        r.exit_code = code
        if self.teardown:
            # Container teardown: when the entrypoint exits, nothing else survives.
            r.orphans = host.kill_all()
            if r.orphans:
                self.cluster.log(f"{self.label}: {host.name} left {len(r.orphans)} process(es) behind, killed:\n  "
                                 + "\n  ".join(r.orphans))
        self.cluster.log(f"{self.label}: {host.name} exited {code} after {r.ended - r.started:.2f}s")

    def smlaunch_pid(self, host_name):
        """Root-namespace PID of the command (nsenter's only child), or None."""
        proc = self.procs[host_name]
        children = _read(f"/proc/{proc.pid}/task/{proc.pid}/children")
        return int(children.split()[0]) if children and children.split() else None

    def signal(self, sig, hosts=None):
        """Send sig to the command (not to nsenter) on the given host names (default: all)."""
        for name in hosts or list(self.procs):
            pid = self.smlaunch_pid(name)
            self.cluster.log(f"{self.label}: {signal.Signals(sig).name} to {name} (pid {pid})")
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)

    def stdout_of(self, host_name):
        return _read(self.log_path(self.cluster.host(host_name), "stdout")) or ""

    def wait_for_output(self, host_name, text, count=1, timeout=60):
        """Wait until host's stdout contains text at least count times; returns the stdout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.stdout_of(host_name)
            if out.count(text) >= count:
                return out
            if self.procs[host_name].poll() is not None:
                break
            time.sleep(0.05)
        proc = self.procs[host_name]
        why = f"its command exited {proc.returncode}" if proc.poll() is not None else f"not within {timeout}s"
        failure = _read(os.path.join(self.cluster.host(host_name).opt_ml, "output", "failure"), 600)
        raise AssertionError(f"{host_name}: {text!r} x{count} not seen in stdout ({why}; seen "
                             f"{self.stdout_of(host_name).count(text)})"
                             + (f"; its failure file:\n{failure}" if failure else ""))

    def done(self, host_name):
        return self.results[host_name].ended is not None

    def wait(self, timeout):
        """Wait for every host's command, at most timeout seconds; a command
        still running then is killed with everything in its host (timed_out)."""
        deadline = time.time() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.time()))
        for h in self.hosts:
            r = self.results[h.name]
            if r.ended is None:
                r.timed_out = True
                self.cluster.log(f"{self.label}: {h.name} still running after {timeout}s: killing its host's processes")
                h.kill_all()
        for t in self._threads:
            t.join(10)
        for h in self.hosts:
            r = self.results[h.name]
            r.stdout = _read(self.log_path(h, "stdout")) or ""
            r.stderr = _read(self.log_path(h, "stderr")) or ""
            r.outputs = h.output_files()
            self.cluster.log(f"{self.label}: {r.summary()}")
        return self.results


# ---------------------------------------------------------------- hosts

class Host:
    """algo-K: an init process (hostinit.py) holding its namespaces."""

    def __init__(self, cluster, index):
        self.cluster = cluster
        self.index = index
        self.name = f"algo-{index}"
        self.ip = f"{SUBNET}.{index}"
        self.hostname = f"ip-{SUBNET.replace('.', '-')}-{index}"   # opaque, like a real container's
        self.dir = os.path.join(cluster.work_dir, self.name)
        self.opt_ml = os.path.join(self.dir, "opt_ml")        # /opt/ml inside the host
        self.root_home = os.path.join(self.dir, "root")       # /root inside the host
        self.veth = f"veth{index}"                            # the bridge side of its eth0
        self.init_pid = None
        self.pidns = None
        self.unshare = None

    # -- creation
    def create(self, etc_hosts, host_keys_dir, keep_under_tmp):
        private = os.path.join(self.dir, "private")
        for d in (private, self.opt_ml, os.path.join(self.opt_ml, "input", "config"),
                  os.path.join(self.opt_ml, "code"), self.root_home):
            os.makedirs(d, exist_ok=True)
        self.cluster.make_home(self.root_home)
        spec = {"private_dir": private, "opt_ml": self.opt_ml, "root_home": self.root_home,
                "hostname": self.hostname, "etc_hosts": etc_hosts.replace("@SELF@", f"{self.ip}\t{self.hostname}"),
                "host_keys_dir": host_keys_dir, "keep_under_tmp": keep_under_tmp}
        self.unshare = subprocess.Popen(
            ["/usr/bin/unshare", "--net", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child",
             "--propagation", "private", PYTHON, HOSTINIT, json.dumps(spec)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent, cwd="/")
        lines = []
        for raw in self.unshare.stdout:
            line = raw.decode(errors="replace").strip()
            lines.append(line)
            if line.startswith("pid "):
                self.init_pid = int(line.split()[1])
                self.pidns = _ns(self.init_pid, "pid")
            if line == "ready" or line.startswith("error"):
                break
        if lines[-1:] != ["ready"] or not self.init_pid:
            raise HarnessError(f"{self.name}: init failed: {' | '.join(lines)}")
        self.unshare.stdout.close()

    def configure_network(self, bridge_pid):
        br = ["/usr/bin/nsenter", f"--net=/proc/{bridge_pid}/ns/net", "--"]
        me = ["/usr/bin/nsenter", f"--net=/proc/{self.init_pid}/ns/net", "--"]
        self.cluster.check(br + ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0",
                                 "netns", str(self.init_pid)])
        self.cluster.check(br + ["ip", "link", "set", self.veth, "master", BRIDGE, "up"])
        # IPv6 off on eth0 before it comes up (no link-local address, no DAD).
        # /proc/sys/net follows the netns of the writing process.
        self.cluster.check(me + ["/bin/sh", "-ec",
                                 "echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6; "
                                 "ip link set lo up; "
                                 f"ip addr add {self.ip}/24 dev eth0; ip link set eth0 up"])

    # -- entering
    def nsenter(self):
        return ["/usr/bin/nsenter", f"--target={self.init_pid}", "--mount", "--uts", "--ipc", "--net", "--pid",
                "--root", "--wd"]

    def command(self, argv, env=None):
        """The argv that runs argv inside this host with exactly env (env -i)."""
        full_env = dict(self.cluster.base_env)
        full_env.update(env or {})
        return self.nsenter() + ["--", "/usr/bin/env", "-i"] + [f"{k}={v}" for k, v in full_env.items()] + list(argv)

    def popen(self, argv, env=None, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.command(argv, env), **kw)

    def run(self, argv, env=None, timeout=30, check=True):
        """Run a short command in the host; returns CompletedProcess (text)."""
        p = subprocess.run(self.command(argv, env), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise HarnessError(f"{self.name}: {' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
        return p

    # -- files and processes
    def path(self, path):
        """A path of this host as seen from the harness (through the init's root)."""
        return f"/proc/{self.init_pid}/root{path}"

    def read(self, path):
        return _read(self.path(path))

    def exists(self, path):
        return os.path.lexists(self.path(path))

    def output_files(self):
        out = {}
        d = os.path.join(self.opt_ml, "output")
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                p = os.path.join(d, name)
                if os.path.isfile(p):
                    out[name] = _read(p, 65536) or ""
        return out

    def processes(self):
        """Root-namespace PIDs of every process in this host except its init."""
        if not self.pidns:
            return []
        return processes_in_pid_namespace(self.pidns, exclude={self.init_pid})

    def kill_all(self, timeout=5.0):
        """SIGKILL every process of the host but its init (crash-style loss,
        container teardown). Returns the descriptions of what was killed."""
        killed = {}
        deadline = time.time() + timeout
        while True:
            pids = self.processes()
            if not pids:
                return list(killed.values())
            for pid in pids:
                if pid not in killed:
                    killed[pid] = describe_process(pid) or f"pid {pid}"
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.time() > deadline:
                raise HarnessError(f"{self.name}: processes survive SIGKILL: {pids}")
            time.sleep(0.02)

    def link(self, up):
        self.cluster.check(["/usr/bin/nsenter", f"--net=/proc/{self.cluster.bridge_pid}/ns/net", "--",
                            "ip", "link", "set", self.veth, "up" if up else "down"])


# ---------------------------------------------------------------- cluster

_ssh_material = {}   # made once per harness process: {"user": dir, "host": dir}


class Cluster:
    """Context manager: hosts algo-1..algo-N on a private bridge.

    name    test name: logs go to <build>/e2e-logs/<name>/ (kept on failure)
    hosts   number of hosts
    build   the build tree (its bin/smlaunch and lib/smlaunch/libsmlaunch_hostname.so)
    limit   seconds after which the whole test is interrupted (SIGALRM) and cleaned up
    """

    def __init__(self, name, hosts=2, build=None, limit=300, verbose=True):
        self.name = name
        self.n = hosts
        self.build = os.path.abspath(build or os.environ.get("SMLAUNCH_BUILD_DIR", "build"))
        self.limit = limit
        self.verbose = verbose
        self.smlaunch = os.path.join(self.build, "bin", "smlaunch")
        self.shim = os.path.join(self.build, "lib", "smlaunch", "libsmlaunch_hostname.so")
        self.logs_dir = os.path.join(self.build, "e2e-logs", name)
        self.work_dir = os.path.join(self.build, "e2e-work", name)
        self.base_env = {"PATH": f"{self.build}/bin:{SYSTEM_PATH}", "HOME": "/root",
                         "SMLAUNCH_PYTHON": PYTHON, "LANG": "C.UTF-8"}
        self.hosts = []
        self.bridge = None
        self.bridge_pid = None
        self.failed = False          # set by a test to keep the logs without raising
        self.runs = []
        self._t0 = time.time()
        self._cleaning = False
        self._old_handlers = {}
        self._log_file = None
        self._mounts_before = None
        self._namespaces = set()
        # An fd on each of our namespaces keeps it from being freed, so its
        # inode number cannot be reused by someone else's new namespace (a
        # concurrent test's unshare) while _destroy looks for leftovers.
        self._namespace_fds = []

    # -- logging
    def log(self, msg):
        line = f"[e2e {time.time() - self._t0:7.2f}s] {msg}"
        if self.verbose:
            print(line, file=sys.stderr, flush=True)
        if self._log_file:
            self._log_file.write(line + "\n")
            self._log_file.flush()

    def check(self, argv, timeout=30):
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise HarnessError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    # -- lifecycle
    def __enter__(self):
        self._install_signal_handlers()
        try:
            self._create()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self._cleaning = True
        failed = self.failed or exc_type is not None
        if exc_type is not None and self._log_file:
            self.log("test failed: " + "".join(traceback.format_exception_only(exc_type, exc)).strip())
        try:
            if failed:
                self._collect_logs()
        except Exception as e:  # noqa: BLE001 - never let log collection prevent cleanup
            self.log(f"could not collect every log: {e!r}")
        leftovers = self._destroy()
        self._restore_signal_handlers()
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        if failed or leftovers:
            print(f"e2e: logs of {self.name} kept in {self.logs_dir}", file=sys.stderr, flush=True)
        else:
            shutil.rmtree(self.logs_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(self.logs_dir))   # e2e-logs, when empty
        if leftovers and exc_type is None:
            raise HarnessError("cleanup left things behind: " + "; ".join(leftovers))
        return False

    def _install_signal_handlers(self):
        def handler(signum, frame):
            if not self._cleaning:
                raise Interrupted(signum)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
            self._old_handlers[sig] = signal.signal(sig, handler)
        signal.alarm(self.limit)

    def _restore_signal_handlers(self):
        signal.alarm(0)
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)

    def _create(self):
        if os.geteuid() != 0:
            raise HarnessError("the e2e harness needs root")
        for exe in (self.smlaunch, self.shim):
            if not os.path.exists(exe):
                raise HarnessError(f"{exe} is missing: build smlaunch_cli and smlaunch_hostname first")
        shutil.rmtree(self.logs_dir, ignore_errors=True)
        shutil.rmtree(self.work_dir, ignore_errors=True)
        os.makedirs(self.logs_dir)
        os.makedirs(self.work_dir)
        self._log_file = open(os.path.join(self.logs_dir, "harness.log"), "w")
        self._mounts_before = set(_read("/proc/self/mounts").splitlines())
        self.log(f"creating {self.n} host(s) for {self.name} (build {self.build})")

        # The bridge lives in a namespace of its own, held by `sleep`.
        self.bridge = subprocess.Popen(["/usr/bin/unshare", "--net", "--", "/bin/sleep", "infinity"],
                                       stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.bridge_pid = self.bridge.pid
        deadline = time.time() + 5
        while _ns(self.bridge_pid, "net") == _ns(os.getpid(), "net"):   # until unshare has exec'd sleep
            if time.time() > deadline:
                raise HarnessError("the bridge namespace did not appear")
            time.sleep(0.01)
        self._hold_namespace(self.bridge_pid, "net")
        br = ["/usr/bin/nsenter", f"--net=/proc/{self.bridge_pid}/ns/net", "--"]
        self.check(br + ["ip", "link", "add", BRIDGE, "type", "bridge"])
        self.check(br + ["ip", "link", "set", BRIDGE, "up"])

        ssh = self._ssh_material()
        etc_hosts = "127.0.0.1\tlocalhost\n@SELF@\n" + "".join(
            f"{SUBNET}.{k}\talgo-{k}\n" for k in range(1, self.n + 1))
        keep = [self.build] if self.build.startswith("/tmp/") else []
        for k in range(1, self.n + 1):
            h = Host(self, k)
            self.hosts.append(h)
            h.create(etc_hosts, ssh["host"], keep)
            for kind in ("net", "mnt", "pid", "uts", "ipc"):
                self._hold_namespace(h.init_pid, kind)
            h.configure_network(self.bridge_pid)
        self.check_reachability()
        self.log(f"cluster up: {', '.join(f'{h.name}={h.ip} (uts {h.hostname}, init {h.init_pid})' for h in self.hosts)}")

    def make_home(self, home):
        """A clean /root: skeleton dot files and .ssh with the shared test key."""
        for name in (".bashrc", ".profile", ".bash_logout"):
            if os.path.exists(os.path.join("/etc/skel", name)):
                shutil.copyfile(os.path.join("/etc/skel", name), os.path.join(home, name))
        os.chmod(home, 0o700)
        ssh_dir = os.path.join(home, ".ssh")
        os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
        user = self._ssh_material()["user"]
        for name in ("id_ed25519", "id_ed25519.pub"):
            shutil.copyfile(os.path.join(user, name), os.path.join(ssh_dir, name))
        shutil.copyfile(os.path.join(user, "id_ed25519.pub"), os.path.join(ssh_dir, "authorized_keys"))
        with open(os.path.join(ssh_dir, "config"), "w") as f:
            f.write("Host *\n    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n")
        for name in os.listdir(ssh_dir):
            os.chmod(os.path.join(ssh_dir, name), 0o644 if name.endswith(".pub") or name == "config" else 0o600)

    def _ssh_material(self):
        """The user key pair and the sshd host keys, made once per harness process."""
        if not _ssh_material:
            parent = os.path.join(self.build, "e2e-work")
            for stale in os.listdir(parent) if os.path.isdir(parent) else []:
                if stale.startswith(".ssh-") and not os.path.exists(f"/proc/{stale[5:]}"):
                    shutil.rmtree(os.path.join(parent, stale), ignore_errors=True)   # of a killed harness
            base = os.path.join(parent, f".ssh-{os.getpid()}")
            shutil.rmtree(base, ignore_errors=True)
            user, host = os.path.join(base, "user"), os.path.join(base, "host")
            os.makedirs(user)
            os.makedirs(host)
            self.check(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "smlaunch-e2e",
                        "-f", os.path.join(user, "id_ed25519")])
            for kind in ("rsa", "ecdsa", "ed25519"):
                self.check(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "smlaunch-e2e-host",
                            "-f", os.path.join(host, f"ssh_host_{kind}_key")])
            _ssh_material.update(user=user, host=host, base=base)
            import atexit

            def remove():
                shutil.rmtree(base, ignore_errors=True)
                with contextlib.suppress(OSError):
                    os.rmdir(parent)
            atexit.register(remove)
        return _ssh_material

    def check_reachability(self, timeout=10):
        """Every host reaches every other: a TCP connect to port 9 that is
        refused (RST) or accepted proves the path; a timeout does not."""
        probe = ("import socket, sys, time\n"
                 "deadline = time.time() + float(sys.argv[1])\n"
                 "for ip in sys.argv[2:]:\n"
                 "    while True:\n"
                 "        s = socket.socket(); s.settimeout(1)\n"
                 "        try:\n"
                 "            s.connect((ip, 9)); break\n"
                 "        except ConnectionRefusedError: break\n"
                 "        except OSError as e:\n"
                 "            if time.time() > deadline: sys.exit(f'{ip} unreachable: {e}')\n"
                 "            time.sleep(0.1)\n"
                 "        finally: s.close()\n")
        for h in self.hosts:
            peers = [p.name for p in self.hosts if p is not h]   # by name: /etc/hosts is checked too
            if peers:
                h.run([PYTHON, "-c", probe, str(timeout)] + peers, timeout=timeout + 10)

    def _destroy(self):
        """Kill every process of every host, the inits and the bridge; wait
        until no process is left in any namespace of ours; remove the work
        tree. Returns a list of what could not be cleaned (empty when clean)."""
        problems = []
        for h in self.hosts:
            if h.init_pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(h.init_pid, signal.SIGKILL)   # the kernel kills the rest of its PID namespace
        for p in [h.unshare for h in self.hosts if h.unshare] + ([self.bridge] if self.bridge else []):
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                problems.append(f"pid {p.pid} did not exit")
        for run in self.runs:
            for name, proc in run.procs.items():
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    problems.append(f"nsenter for {name} (pid {proc.pid}) did not exit")
        deadline = time.time() + 10
        while True:
            left = self.processes_in_our_namespaces()
            if not left or time.time() > deadline:
                break
            time.sleep(0.05)
        problems += [f"left: {describe_process(p) or p}" for p in left]
        for fd in self._namespace_fds:
            os.close(fd)
        self._namespace_fds = []
        mounts_after = set(_read("/proc/self/mounts").splitlines()) if self._mounts_before is not None else set()
        new = [m for m in mounts_after - (self._mounts_before or set()) if self.work_dir in m or "e2e-" in m]
        problems += [f"mount left in the root namespace: {m}" for m in new]
        shutil.rmtree(self.work_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self.work_dir))   # e2e-work, when empty
        self.log("cleaned up" if not problems else "cleanup problems: " + "; ".join(problems))
        return problems

    def _hold_namespace(self, pid, kind):
        fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        self._namespace_fds.append(fd)
        self._namespaces.add(f"{kind}:[{os.fstat(fd).st_ino}]")   # as readlink shows it

    def processes_in_our_namespaces(self):
        ours = self._namespaces - {None}
        left = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                pid = int(entry)
                if any(_ns(pid, kind) in ours for kind in ("net", "mnt", "pid", "uts", "ipc")):
                    left.append(pid)
        return left

    def _collect_logs(self):
        """Per host: /opt/ml/output, the job config, files in its /tmp (sshd
        logs, outcome files) and what is still running; plus each run's
        stdout/stderr, which are already written under logs_dir/<host>/."""
        for h in self.hosts:
            dst = os.path.join(self.logs_dir, h.name)
            os.makedirs(dst, exist_ok=True)
            for sub in ("output", "input/config"):
                src = os.path.join(h.opt_ml, sub)
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(dst, "opt_ml", sub), dirs_exist_ok=True)
            if h.init_pid and os.path.isdir(h.path("/tmp")):
                for name in os.listdir(h.path("/tmp")):
                    p = h.path("/tmp/" + name)
                    if os.path.isfile(p) and os.path.getsize(p) < (4 << 20):
                        os.makedirs(os.path.join(dst, "tmp"), exist_ok=True)
                        shutil.copyfile(p, os.path.join(dst, "tmp", name))
            running = [describe_process(p) for p in h.processes()]
            with open(os.path.join(dst, "processes-at-end.txt"), "w") as f:
                f.write("\n".join(x for x in running if x) + "\n")
            for run in self.runs:
                r = run.results.get(h.name)
                if r:
                    with open(os.path.join(dst, f"{run.label}.result"), "w") as f:
                        f.write(r.summary() + "\n" + "\n".join(r.orphans) + "\n")

    # -- API
    def host(self, which):
        """A Host by index (1-based) or name."""
        if isinstance(which, Host):
            return which
        if isinstance(which, int):
            return self.hosts[which - 1]
        return next(h for h in self.hosts if h.name == which)

    def _select(self, hosts):
        return list(self.hosts) if hosts is None else [self.host(h) for h in hosts]

    def write_job(self, hyperparameters, code=None, hosts=None, job_hosts=None, files=None):
        """Write /opt/ml on each host (default all): resourceconfig.json
        (current_host, hosts, network_interface_name eth0),
        hyperparameters.json (each value JSON-encoded, as SageMaker does:
        pass Python values), inputdataconfig.json {}; code: {name: text} into
        /opt/ml/code (".sh" files made 0755); files: {path under /opt/ml: text}.
        job_hosts: the hosts of the job (default: all of the cluster).
        Clears /opt/ml/output."""
        names = [self.host(h).name for h in (job_hosts or self.hosts)]
        for h in self._select(hosts):
            cfg = os.path.join(h.opt_ml, "input", "config")
            os.makedirs(cfg, exist_ok=True)
            resource = {"current_host": h.name, "hosts": names, "current_instance_type": "ml.c5.xlarge",
                        "current_group_name": "homogeneousCluster",
                        "instance_groups": [{"instance_group_name": "homogeneousCluster",
                                             "instance_type": "ml.c5.xlarge", "hosts": names}],
                        "network_interface_name": "eth0"}
            _write(os.path.join(cfg, "resourceconfig.json"), json.dumps(resource))
            _write(os.path.join(cfg, "hyperparameters.json"),
                   json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()}))
            _write(os.path.join(cfg, "inputdataconfig.json"), "{}")
            shutil.rmtree(os.path.join(h.opt_ml, "output"), ignore_errors=True)
            for name, text in (code or {}).items():
                _write(os.path.join(h.opt_ml, "code", name), text, 0o755 if name.endswith(".sh") else 0o644)
            for rel, text in (files or {}).items():
                p = os.path.join(h.opt_ml, rel)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                _write(p, text)

    def start(self, argv, hosts=None, env=None, teardown=True, label=None):
        """Start argv on the given hosts (default all) at once; returns a Run.
        teardown: when a host's command exits, kill what is left in that host
        and record it in HostResult.orphans (container teardown)."""
        label = label or f"run{len(self.runs) + 1}"
        run = Run(self, self._select(hosts), argv, env or {}, teardown, label)
        self.runs.append(run)
        return run

    def train(self, args=(), hosts=None, env=None, label=None):
        """`smlaunch train ARGS` on the given hosts (default all) at once."""
        label = label or f"smlaunch{len(self.runs) + 1}"
        return self.start([self.smlaunch, "train", *args], hosts=hosts, env=env, label=label)

    def kill_host(self, which):
        """Crash-style loss: SIGKILL every process of the host (its address
        still answers, with resets). Returns what was killed."""
        h = self.host(which)
        self.log(f"kill_host: {h.name}")
        return h.kill_all()

    def silence_host(self, which):
        """Silent loss: its link goes down on the bridge side first (nothing
        answers any more), then its processes are killed."""
        h = self.host(which)
        self.log(f"silence_host: {h.name}: link down, then kill")
        h.link(False)
        return h.kill_all()

    def sigterm_smlaunch(self, run, which=None):
        """SIGTERM to the command of run on host which (index/name) or on all."""
        names = None if which is None else [self.host(which).name]
        run.signal(signal.SIGTERM, names)

    def start_sshd(self, hosts=None, timeout=10):
        """The harness's own sshd (`sshd -D -e`) on each host, for the
        baseline; waits until port 22 accepts on every one. Returns the Run."""
        run = self.start(["/usr/sbin/sshd", "-D", "-e"], hosts=hosts, teardown=False, label="sshd")
        wait = ("import socket, sys, time\nd = time.time() + float(sys.argv[1])\n"
                "while True:\n    try:\n        socket.create_connection(('127.0.0.1', 22), 1).close(); break\n"
                "    except OSError:\n        time.sleep(0.05)\n        assert time.time() < d, 'sshd not up'\n")
        for h in run.hosts:
            h.run([PYTHON, "-c", wait, str(timeout)], timeout=timeout + 10)
        return run


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
