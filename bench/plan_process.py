#!/usr/bin/env python3
"""Times the whole `smlaunch plan --json` process, as a user pays for it.

Makes two config trees in a temporary directory (a 4-host ml.p4d.24xlarge MPI
job and a 512-host one), runs the binary N times on each, and prints the
median and 90th percentile wall time and the peak RSS (ru_maxrss), measured
by a small C helper (bench/spawn_measure.c). Usage: bench/plan_process.py [--runs N] [--build DIR]
"""
import argparse
import json
import os
import platform
import tempfile
import subprocess


def make_tree(root, hosts):
    names = [f"algo-{i}" for i in range(1, hosts + 1)]
    cfg = os.path.join(root, "input", "config")
    os.makedirs(cfg)
    os.makedirs(os.path.join(root, "code"))
    open(os.path.join(root, "code", "train.py"), "w").close()
    rc = {"current_host": "algo-1", "current_instance_type": "ml.p4d.24xlarge",
          "current_group_name": "homogeneousCluster", "hosts": names,
          "instance_groups": [{"instance_group_name": "homogeneousCluster",
                               "instance_type": "ml.p4d.24xlarge", "hosts": names}],
          "network_interface_name": "eth0"}
    hps = {"sagemaker_program": '"train.py"', "sagemaker_mpi_enabled": "true",
           "sagemaker_mpi_num_of_processes_per_host": "8",
           "sagemaker_mpi_custom_mpi_options": '"--NCCL_DEBUG WARN"',
           "sagemaker_region": '"us-west-2"', "epochs": "10", "lr": "0.00001",
           "batch-size": "256", "model": '"resnet50"'}
    idc = {"train": {"TrainingInputMode": "File"}, "test": {"TrainingInputMode": "File"}}
    for name, doc in (("resourceconfig.json", rc), ("hyperparameters.json", hps),
                      ("inputdataconfig.json", idc)):
        with open(os.path.join(cfg, name), "w") as f:
            json.dump(doc, f)


def measure(helper, binary, base, env, runs):
    """(median ms, p90 ms, median CPU ms, peak RSS MiB) from the C helper (spawn_measure.c)."""
    out = subprocess.run([helper, str(runs), binary, "--base-dir", base, "plan", "--json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    return tuple(float(x) for x in out.split())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--build", default="build")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = {}
    binary = os.path.abspath(os.path.join(args.build, "bin", "smlaunch"))
    helper = os.path.abspath(os.path.join(args.build, "bin", "smlaunch_spawn_measure"))
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "SMLAUNCH_PYTHON": "/usr/bin/python3"}
    print(f"machine: {platform.node()} {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"{'config':<22}{'runs':>6}{'wall median ms':>16}{'wall p90 ms':>13}{'CPU median ms':>15}"
          f"{'peak RSS MiB':>14}")
    load = os.getloadavg()[0]
    print(f"load average (1 min) at start: {load:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        # Baselines in the same run: the cost of starting any process at all.
        baselines = {"empty C program": ("c", "int main(void) { return 0; }\n"),
                     "C++ hello (libstdc++)": ("c++", "#include <iostream>\nint main() { std::cout << \"{}\" << std::endl; }\n")}
        for name, (compiler, source) in baselines.items():
            src = os.path.join(tmp, "baseline." + ("c" if compiler == "c" else "cpp"))
            exe = os.path.join(tmp, "baseline")
            with open(src, "w") as f:
                f.write(source)
            subprocess.run(["cc" if compiler == "c" else "c++", "-O2", src, "-o", exe], check=True)
            out = subprocess.run([helper, str(args.runs), exe], check=True, capture_output=True,
                                 text=True).stdout
            median, p90, cpu, rss = (float(x) for x in out.split())
            print(f"{name:<22}{args.runs:>6}{median:>16.2f}{p90:>13.2f}{cpu:>15.2f}{rss:>14.1f}")
            figures[name] = {"wall_ms": median, "p90_ms": p90, "cpu_ms": cpu, "rss_mib": rss}
        for hosts in (4, 512):
            base = os.path.join(tmp, f"h{hosts}", "opt", "ml")
            make_tree(base, hosts)
            measure(helper, binary, base, env, 3)  # warm the page cache
            median, p90, cpu, rss = measure(helper, binary, base, env, args.runs)
            print(f"{f'{hosts} hosts p4d mpi':<22}{args.runs:>6}{median:>16.2f}{p90:>13.2f}{cpu:>15.2f}"
                  f"{rss:>14.1f}")
            figures[f"{hosts} hosts"] = {"wall_ms": median, "p90_ms": p90, "cpu_ms": cpu, "rss_mib": rss}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
