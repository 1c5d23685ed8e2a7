// probe(): the part of hardware detection that touches the system — running
// nvidia-smi / neuron-ls with a timeout (platform::run_capture), reading the
// affinity mask and the cgroup files. The parsing lives in gpu.cpp,
// neuron.cpp and cpu.cpp.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <variant>

#include "platform/files.hpp"
#include "platform/subprocess.hpp"
#include "smlaunch/hardware.hpp"

namespace smlaunch::hardware {
namespace {

// nvidia-smi can hang on a broken driver; neither tool is allowed to stall start-up longer.
constexpr std::chrono::milliseconds kProbeTimeout{10'000};
constexpr std::string_view kNoGpusNote = "No GPUs detected (normal if no gpus installed)";
constexpr std::string_view kNoNeuronsNote = "No Neurons detected (normal if no neurons installed)";
constexpr std::size_t kMaxNeuronErrorChars = 500;
constexpr std::size_t kMaxSmallFileBytes = std::size_t{64} * 1024;
// The affinity mask is read with a set of this many CPUs first, doubled while
// the kernel says it is too small (hosts with more than 1024 CPUs).
constexpr std::size_t kInitialCpuSetSize = 1024;
constexpr std::size_t kLargestCpuSetSize = std::size_t{1} << 22;

/// "10 s" for a duration (whole seconds).
std::string seconds_text(std::chrono::milliseconds duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count()) + " s";
}

/// `text` without surrounding blanks and newlines.
std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// ---- GPUs -------------------------------------------------------------------

/// Fills gpus and gpu_source: NVML when it loads, else nvidia-smi; then
/// CUDA_VISIBLE_DEVICES. A tool that cannot run or fails adds the B35 note;
/// one that hangs also a warning.
void probe_gpus(const ProbeInputs& inputs, Facts& facts) {
  int available = 0;
  facts.gpu_source = "none";
  if (const std::optional<int> nvml = count_gpus_nvml(inputs.nvml_library)) {
    available = *nvml;
    facts.gpu_source = "nvml";
  } else {
    const platform::CaptureResult smi =
        platform::run_capture({"nvidia-smi", "--list-gpus"}, inputs.path_env, kProbeTimeout);
    if (smi.ok()) {
      available = count_gpu_lines(smi.out);
      facts.gpu_source = "nvidia-smi";
    } else {
      if (smi.timed_out) {
        facts.warnings.push_back("nvidia-smi --list-gpus did not answer within " +
                                 seconds_text(kProbeTimeout) +
                                 " (a hung driver?) and was killed; counting 0 GPUs");
      }
      facts.notes.emplace_back(kNoGpusNote);
    }
  }
  facts.gpus = apply_cuda_visible_devices(available, inputs.cuda_visible_devices);
}

// ---- Neuron cores -----------------------------------------------------------

/// What a failing neuron-ls printed after "error=" (stdout first, then
/// stderr: the reference read them merged), trimmed; empty when absent.
std::string neuron_ls_error(const platform::CaptureResult& run) {
  constexpr std::string_view kMarker = "error=";
  for (const std::string* text : {&run.out, &run.err}) {
    const std::size_t at = text->find(kMarker);
    if (at == std::string::npos) continue;
    return std::string(trim(std::string_view(*text).substr(at + kMarker.size(), kMaxNeuronErrorChars)));
  }
  return {};
}

/// Fills neuron_cores: known instance types without running anything, else
/// `neuron-ls -j` when it is on PATH (B36/B37). Absent or failing: 0 and the
/// note; unreadable output or a hang: 0 and a warning (D26).
void probe_neurons(const ProbeInputs& inputs, Facts& facts) {
  facts.neuron_cores = 0;
  if (const std::optional<int> known = known_neuron_cores(inputs.instance_type)) {
    facts.neuron_cores = *known;
    return;
  }
  // Not spawning a missing program keeps start-up fast on the common host.
  const std::optional<std::string> tool = platform::find_executable("neuron-ls", inputs.path_env);
  if (!tool) {
    facts.notes.emplace_back(kNoNeuronsNote);
    return;
  }
  const platform::CaptureResult run = platform::run_capture({*tool, "-j"}, inputs.path_env, kProbeTimeout);
  if (!run.started) {
    facts.notes.emplace_back(kNoNeuronsNote);
    return;
  }
  if (run.timed_out) {
    facts.warnings.push_back("neuron-ls -j did not answer within " + seconds_text(kProbeTimeout) +
                             " and was killed; counting 0 Neuron cores");
    return;
  }
  if (!run.ok()) {
    const std::string error = neuron_ls_error(run);
    facts.notes.push_back(error.empty()
                              ? std::string(kNoNeuronsNote)
                              : std::string(kNoNeuronsNote) + ". If neuron installed then " + error);
    return;
  }
  std::string error;
  if (const std::optional<int> cores = sum_neuron_cores(run.out, &error)) {
    facts.neuron_cores = *cores;
  } else {
    facts.warnings.push_back("neuron-ls -j: " + error + "; counting 0 Neuron cores");
  }
}

// ---- CPUs -------------------------------------------------------------------

/// The content of a small file, or nullopt when it is missing, unreadable or
/// larger than 64 KiB.
std::optional<std::string> read_small_file(const std::string& path) {
  std::variant<std::string, platform::ReadError> read = platform::read_file(path, kMaxSmallFileBytes);
  if (std::string* content = std::get_if<std::string>(&read)) return std::move(*content);
  return std::nullopt;
}

struct CpuSetDeleter {
  void operator()(cpu_set_t* set) const noexcept { CPU_FREE(set); }
};

/// CPUs in this thread's affinity mask, or nullopt when it cannot be read.
std::optional<int> affinity_cpu_count() {
  for (std::size_t cpus = kInitialCpuSetSize; cpus <= kLargestCpuSetSize; cpus *= 2) {
    const std::unique_ptr<cpu_set_t, CpuSetDeleter> set(CPU_ALLOC(cpus));
    if (!set) return std::nullopt;
    const std::size_t bytes = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(bytes, set.get());  // the kernel writes only its own mask size
    if (::sched_getaffinity(0, bytes, set.get()) == 0) return CPU_COUNT_S(bytes, set.get());
    if (errno != EINVAL) return std::nullopt;  // EINVAL: our set is too small
  }
  return std::nullopt;
}

/// This process's cgroup v2 path ("/a/b" from the "0::/a/b" line of
/// /proc/self/cgroup); nullopt when there is none or it climbs above the
/// namespace root ("/../..").
std::optional<std::string> own_cgroup_path() {
  const std::optional<std::string> table = read_small_file("/proc/self/cgroup");
  if (!table) return std::nullopt;
  std::string_view rest = *table;
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    const std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    if (!line.starts_with("0::/")) continue;
    const std::string_view path = line.substr(3);
    if (path.ends_with("/..") || path.find("/../") != std::string_view::npos) {
      return std::nullopt;
    }
    return std::string(path);
  }
  return std::nullopt;
}

/// The smallest CPU quota of this process's cgroup and its ancestors up to
/// `cgroup_root` (the kernel enforces every one of them), or nullopt when none
/// sets one. A cpu.max that cannot be read as a quota adds a warning.
std::optional<int> cgroup_cpu_limit(const std::string& cgroup_root, Facts& facts) {
  std::string root = cgroup_root;  // without trailing '/': "" for "/"
  while (!root.empty() && root.back() == '/') root.pop_back();
  std::vector<std::string> dirs;  // own cgroup first, root last
  if (const std::optional<std::string> own = own_cgroup_path()) {
    std::string dir = root + *own;
    while (dir.size() > root.size()) {
      if (dir.back() != '/') dirs.push_back(dir);
      dir.erase(dir.rfind('/'));
    }
  }
  dirs.push_back(root);

  std::optional<int> limit;
  for (const std::string& dir : dirs) {
    const std::string file = dir + "/cpu.max";
    const std::optional<std::string> content = read_small_file(file);
    if (!content) continue;
    if (const std::optional<int> cpus = cpus_from_cgroup_cpu_max(*content)) {
      limit = std::min(limit.value_or(*cpus), *cpus);
    } else if (!trim(*content).starts_with("max")) {
      facts.warnings.push_back(file + ": cannot read a CPU quota from \"" +
                               std::string(trim(*content).substr(0, 40)) + "\"; ignored");
    }
  }
  return limit;
}

/// CPUs this process may use: the affinity mask, capped by the cgroup quota;
/// at least 1.
int probe_cpus(const std::string& cgroup_root, Facts& facts) {
  int cpus = 1;
  if (const std::optional<int> mask = affinity_cpu_count()) {
    cpus = *mask;
  } else {
    cpus = static_cast<int>(std::max(::sysconf(_SC_NPROCESSORS_ONLN), 1L));
  }
  if (const std::optional<int> quota = cgroup_cpu_limit(cgroup_root, facts)) cpus = std::min(cpus, *quota);
  return std::max(cpus, 1);
}

}  // namespace

// Returns every fact; a missing tool is a note, a broken one a warning. Never
// throws for a missing or broken device tool.
Facts probe(const ProbeInputs& inputs) {
  Facts facts;
  probe_gpus(inputs, facts);
  probe_neurons(inputs, facts);
  facts.cpus = probe_cpus(inputs.cgroup_root, facts);
  return facts;
}

}  // namespace smlaunch::hardware
