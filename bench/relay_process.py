#!/usr/bin/env python3
"""The output relay through a real pipe, against `cat` on the same pipe.

Writes ~100 MB of Open MPI tagged output from 64 ranks (`[1,R]<stdout>:`
lines of mixed, realistic lengths, some `<stderr>` ones, no error names) to a
temporary file, then, side by side in every round, pipes it with `cat FILE |`
into:

  cat            `cat > /dev/null`: the physical limit of the pipe;
  relay chain    bench/relay_pipe.cpp: LineSplitter -> RankTagSink ->
                 Tee(OutputWriter(1), ErrorCapture), the chain app/run.cpp
                 builds for an mpi job, 64 KiB reads, a flush per chunk;
  smlaunch train the real binary with a process-runner job whose entry point
                 is `exec cat FILE`: the supervisor, the relay and the
                 capture, but no rank-tag rewrite (only mpi jobs get one),
                 plus the start and the end of the whole train command.

Each reader runs under bench/rusage_exec.c, which reports its wall time and
peak RSS (wait4's ru_maxrss). A second stream has a Python traceback in its
first lines, so the capture runs its after-the-error path (hash, de-dup,
bounded tail) for every later line. Then the error path in process, from
smlaunch_relay_bench's BM_ErrorPath/N: one error, then N lines.

Figures are medians over the rounds, with the spread (min-max); MB = 10^6
bytes. The machine and its load are printed: on a busy machine the ratio to
cat, measured in the same round, is the figure to trust.

Usage: bench/relay_process.py [--build DIR] [--runs N] [--megabytes M]
"""
import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RANKS = 64
TARGET_MB_S = 1000.0
TARGET_RATIO = 0.20
TARGET_RSS_MIB = 10.0
TARGET_ERROR_PATH_S = 0.1


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} CPUs, {model}, Linux {platform.release()}"


def tagged_stream(path, megabytes, seed=20240611, error_first=False):
    """Writes the stream to `path`; returns its size in bytes."""
    rng = random.Random(seed)
    target = megabytes * 1_000_000
    out = []
    size = 0
    step = 0
    if error_first:
        for rank in range(RANKS):
            for text in ("Traceback (most recent call last):",
                         '  File "/opt/ml/code/train.py", line 88, in <module>',
                         "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1269, unhandled system error"):
                line = f"[1,{rank}]<stderr>:{text}\n"
                out.append(line)
                size += len(line)
    while size < target:
        rank = rng.randrange(RANKS)
        kind = rng.random()
        if kind < 0.70:  # a training step
            step += 1
            text = (f"step {step} epoch {step // 5000} loss {rng.random():.4f} lr 3.0e-04 "
                    f"grad_norm {rng.uniform(0.1, 9):.3f} throughput {rng.uniform(700, 900):.1f} samples/s")
            stream = "stdout"
        elif kind < 0.82:  # NCCL's chatter
            text = (f"algo-{rank // 8 + 1}:{1000 + rank}:{1200 + rank} [{rank % 8}] NCCL INFO Channel "
                    f"{rng.randrange(32):02d}/32 : {rank}[{rank % 8}] -> {(rank + 1) % RANKS}[{(rank + 1) % 8}] "
                    f"via P2P/IPC/read")
            stream = "stdout"
        elif kind < 0.92:  # warnings on stderr
            text = ("/opt/conda/lib/python3.10/site-packages/torch/nn/modules/module.py:1501: UserWarning: "
                    "The given NumPy array is not writable, and PyTorch does not support non-writable tensors.")
            stream = "stderr"
        elif kind < 0.97:  # a progress bar
            done = rng.randrange(101)
            text = f"train: {done:3d}%|{'#' * (done // 2)}{' ' * (50 - done // 2)}| {step}/100000 [12:34<56:07, 27.91it/s]"
            stream = "stderr"
        elif kind < 0.995:  # blank, indented, non-ASCII
            text = rng.choice(["", "    metrics = {'acc': 0.91, 'f1': 0.88}", "chargement des données: ok ✓"])
            stream = "stdout"
        else:  # a long line: a printed config or tensor, 2-16 KB
            text = "config: " + ", ".join(f"key_{i}={rng.random():.6f}" for i in range(rng.randrange(100, 800)))
            stream = "stdout"
        line = f"[1,{rank}]<{stream}>:{text}\n"
        out.append(line)
        size += len(line.encode())
        if len(out) >= 10000:
            write_lines(path, out)
            out = []
    write_lines(path, out)
    return os.path.getsize(path)


def write_lines(path, lines):
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(lines))


def run_piped(measure, data, command, env=None):
    """`cat data | measure command > /dev/null` (without `data`, `measure
    command < /dev/null > /dev/null`): (wall s, peak RSS MiB, reader's stderr)."""
    started = time.perf_counter()
    writer = subprocess.Popen(["cat", data], stdout=subprocess.PIPE) if data else None
    reader = subprocess.Popen([measure] + command, stdin=writer.stdout if writer else subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    if writer:
        writer.stdout.close()  # the reader holds the only read end
    _, err = reader.communicate()
    if writer:
        writer.wait()
    wall = time.perf_counter() - started
    if reader.returncode != 0 or (writer and writer.returncode != 0):
        sys.exit(f"{command[0]} failed ({reader.returncode}):\n{err[-2000:]}")
    report = [l for l in err.splitlines() if l.startswith("rusage_exec:")][-1]
    fields = dict(kv.split("=") for kv in report.split()[1:])
    return wall, int(fields["maxrss_kib"]) / 1024.0, err


def make_train_tree(root, data):
    base = os.path.join(root, "opt", "ml")
    config = os.path.join(base, "input", "config")
    os.makedirs(config)
    os.makedirs(os.path.join(base, "code"))
    os.makedirs(os.path.join(base, "input", "data", "train"))
    host = {"current_host": "algo-1", "hosts": ["algo-1"], "current_instance_type": "ml.c5.xlarge",
            "current_group_name": "homogeneousCluster",
            "instance_groups": [{"instance_group_name": "homogeneousCluster",
                                 "instance_type": "ml.c5.xlarge", "hosts": ["algo-1"]}],
            "network_interface_name": "eth0"}
    docs = {"resourceconfig.json": host,
            "inputdataconfig.json": {"train": {"TrainingInputMode": "File"}},
            "hyperparameters.json": {"sagemaker_program": '"job.sh"'}}
    for name, doc in docs.items():
        with open(os.path.join(config, name), "w") as f:
            json.dump(doc, f)
    with open(os.path.join(base, "code", "job.sh"), "w") as f:
        f.write(f"#!/bin/sh\nexec cat '{data}'\n")
    return base


def spread(values, fmt):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def relay_rows(args, tmp, bins, data, size, label):
    rows = {"cat": [], "relay chain": [], "smlaunch train": []}
    base = make_train_tree(os.path.join(tmp, "train-" + label.replace(" ", "-")), data)
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "SMLAUNCH_PYTHON": "/usr/bin/python3"}
    # The train job cats the file itself, into the pipe smlaunch reads.
    commands = {"cat": ([shutil.which("cat")], data, None),
                "relay chain": ([bins["relay_pipe"]], data, None),
                "smlaunch train": ([bins["smlaunch"], "--base-dir", base, "train"], None, env)}
    for command, stdin_data, command_env in commands.values():  # warm-up: page cache, binaries
        run_piped(bins["measure"], stdin_data, command, command_env)
    triggered = None
    for _ in range(args.runs):
        for name, (command, stdin_data, command_env) in commands.items():
            wall, rss, err = run_piped(bins["measure"], stdin_data, command, command_env)
            rows[name].append((wall, rss))
            if name == "relay chain":
                triggered = "capture triggered: yes" in err
    cat_walls = [w for w, _ in rows["cat"]]
    print(f"\n{label}: {size / 1e6:.1f} MB, {args.runs} rounds, capture triggered: "
          f"{'yes' if triggered else 'no'}")
    print(f"{'reader':<16}{'MB/s median (min-max)':>26}{'ratio to cat':>22}{'peak RSS MiB':>15}")
    for name, samples in rows.items():
        rates = [size / 1e6 / w for w, _ in samples]
        ratios = [c / w for (w, _), c in zip(samples, cat_walls)]  # same round
        rss = max(r for _, r in samples)
        print(f"{name:<16}{spread(rates, '{:.0f}'):>26}{spread(ratios, '{:.2f}'):>22}{rss:>15.1f}")
    return {name: {"mb_s": statistics.median([size / 1e6 / w for w, _ in samples]),
                   "ratio_to_cat": statistics.median([c / w for (w, _), c in zip(samples, cat_walls)]),
                   "rss_mib": max(r for _, r in samples), "triggered": triggered}
            for name, samples in rows.items()}


def error_path(args, bins):
    out = subprocess.run([bins["relay_bench"], "--benchmark_filter=BM_ErrorPath/",
                          f"--benchmark_repetitions={args.runs}", "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    runs = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        n = int(b["name"].split("/")[1])
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        runs.setdefault(n, []).append(b["real_time"] * unit)
    print(f"\nerror path in process (smlaunch_relay_bench BM_ErrorPath/N, {args.runs} repetitions):")
    print(f"{'lines after the error':<24}{'ms median (min-max)':>26}{'ns per line':>14}{'vs 10k, per line':>18}")
    first = None
    for n in sorted(runs):
        ms = [t * 1e3 for t in runs[n]]
        per_line = statistics.median(runs[n]) / n * 1e9
        first = first or per_line
        print(f"{n:<24}{spread(ms, '{:.1f}'):>26}{per_line:>14.0f}{per_line / first:>18.2f}")
    return {str(n): {"ms": statistics.median(runs[n]) * 1e3, "ns_per_line": statistics.median(runs[n]) / n * 1e9}
            for n in sorted(runs)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = {}
    bindir = os.path.abspath(os.path.join(args.build, "bin"))
    bins = {"smlaunch": os.path.join(bindir, "smlaunch"),
            "relay_pipe": os.path.join(bindir, "smlaunch_relay_pipe"),
            "relay_bench": os.path.join(bindir, "smlaunch_relay_bench"),
            "measure": os.path.join(bindir, "smlaunch_rusage_exec")}
    for path in bins.values():
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is not built (configure with -DSMLAUNCH_BUILD_BENCHMARKS=ON)")
    print(f"machine: {machine()}")
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f}")
    print(f"targets: >= {TARGET_MB_S:.0f} MB/s, >= {TARGET_RATIO:.0%} of cat, <= {TARGET_RSS_MIB:.0f} MiB; "
          f"error path 80k lines < {TARGET_ERROR_PATH_S} s, linear")
    with tempfile.TemporaryDirectory(prefix="smlaunch-relay-") as tmp:
        healthy = os.path.join(tmp, "healthy.log")
        size = tagged_stream(healthy, args.megabytes)
        figures["healthy"] = relay_rows(args, tmp, bins, healthy, size, "healthy job")
        figures["megabytes"] = size / 1e6
        os.remove(healthy)
        failed = os.path.join(tmp, "failed.log")
        size = tagged_stream(failed, args.megabytes, error_first=True)
        figures["after_error"] = relay_rows(args, tmp, bins, failed, size, "after an early error")
    figures["error_path"] = error_path(args, bins)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    print(f"\nload average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
