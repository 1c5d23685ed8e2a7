// Hardware facts that decide processes per host: GPUs, Neuron cores, CPUs.
//
// Detection goes through the interfaces the real devices expose, in order of
// cost and precision: NVML (libnvidia-ml.so.1, loaded at run time when
// present), else `nvidia-smi --list-gpus`; `neuron-ls -j`; the CPU affinity
// mask and the cgroup v2 CPU quota. Tests put fake `nvidia-smi` / `neuron-ls`
// executables on PATH or point at a fake NVML library: no flag skips a probe.
// A probe that cannot run means "none of those devices" (with a note), and a
// broken output is a warning, never a crash.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smlaunch::hardware {

/// Everything a probe reads from the outside, so callers (and tests) decide.
struct ProbeInputs {
  std::string path_env;                             // $PATH used to find the tools
  std::optional<std::string> cuda_visible_devices;  // $CUDA_VISIBLE_DEVICES
  std::string instance_type;                        // resourceconfig current_instance_type
  std::string nvml_library = "libnvidia-ml.so.1";   // dlopen() name or path
  std::string cgroup_root = "/sys/fs/cgroup";       // where cpu.max lives
};

struct Facts {
  int gpus = 0;
  int neuron_cores = 0;
  int cpus = 1;
  std::string gpu_source;             // "nvml", "nvidia-smi" or "none"
  std::vector<std::string> notes;     // informational ("No GPUs detected ...")
  std::vector<std::string> warnings;  // something was present but broken
};

/// Runs every probe. Never throws for a missing or broken device tool.
[[nodiscard]] Facts probe(const ProbeInputs& inputs);

// The pieces, exposed for tests and for callers that need only one.

/// GPUs seen by NVML, or nullopt when the library cannot be loaded/initialised.
[[nodiscard]] std::optional<int> count_gpus_nvml(const std::string& library);
/// Lines of `nvidia-smi --list-gpus` output that start with "GPU " (B35).
[[nodiscard]] int count_gpu_lines(std::string_view nvidia_smi_output);
/// Applies CUDA_VISIBLE_DEVICES to `available` GPUs, as the CUDA runtime does:
/// unset -> all; "" -> 0; a comma list of indices/UUIDs counted up to the first
/// invalid entry, never more than `available`.
[[nodiscard]] int apply_cuda_visible_devices(int available,
                                             const std::optional<std::string>& value);
/// Sum of `nc_count` over the array printed by `neuron-ls -j` (B36); nullopt
/// with `error` set when the output is not such an array.
[[nodiscard]] std::optional<int> sum_neuron_cores(std::string_view neuron_ls_json,
                                                  std::string* error);
/// Neuron cores of instance types whose count is known without a probe
/// (trn2.48xlarge = 64, B36), else nullopt.
[[nodiscard]] std::optional<int> known_neuron_cores(std::string_view instance_type);
/// CPUs allowed by a cgroup v2 `cpu.max` line ("max 100000" -> nullopt,
/// "250000 100000" -> 3: the quota rounded up), nullopt when unlimited/bad.
[[nodiscard]] std::optional<int> cpus_from_cgroup_cpu_max(std::string_view cpu_max);

}  // namespace smlaunch::hardware
