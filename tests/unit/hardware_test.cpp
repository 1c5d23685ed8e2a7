// Hardware probes against the fake tools in tests/fakes (real processes found
// through ProbeInputs::path_env, steered with FAKE_* environment variables), a
// fake NVML library compiled by the fixture, and cgroup files in a temp dir.
#include "smlaunch/hardware.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "platform/subprocess.hpp"

namespace smlaunch::hardware {
namespace {

constexpr const char* kFakesDir = SMLAUNCH_TEST_FAKES_DIR;
constexpr std::string_view kNoGpusNote = "No GPUs detected (normal if no gpus installed)";
constexpr std::string_view kNoNeuronsNote = "No Neurons detected (normal if no neurons installed)";
constexpr std::chrono::milliseconds kCompileTimeout{120'000};

// Every variable the fakes read; unset after each test.
constexpr std::array<const char*, 13> kFakeVariables = {
    "FAKE_NVIDIA_SMI_GPUS", "FAKE_NVIDIA_SMI_MODEL", "FAKE_NVIDIA_SMI_MIG",    "FAKE_NVIDIA_SMI_EXIT",
    "FAKE_NVIDIA_SMI_MODE", "FAKE_NEURON_LS_JSON",   "FAKE_NEURON_LS_DEVICES", "FAKE_NEURON_LS_CORES",
    "FAKE_NEURON_LS_EXIT",  "FAKE_NEURON_LS_ERROR",  "FAKE_NEURON_LS_MODE",    "FAKE_NVML_GPUS",
    "FAKE_NVML_FAIL"};

using smlaunch::test::TempDir;

bool contains(const std::vector<std::string>& lines, std::string_view text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

bool contains_exactly(const std::vector<std::string>& lines, std::string_view text) {
  return std::find(lines.begin(), lines.end(), text) != lines.end();
}

/// Base fixture: inputs that find only the fakes, no NVML, an empty cgroup
/// root; the FAKE_* variables are unset again after each test.
class FakeToolsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* name : kFakeVariables) ::unsetenv(name);
  }

  static void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

  [[nodiscard]] ProbeInputs fake_inputs() const {
    ProbeInputs inputs;
    inputs.path_env = kFakesDir;
    inputs.nvml_library = empty_dir_.path() + "/libnvidia-ml.so.1";  // not there
    inputs.cgroup_root = empty_dir_.path();
    return inputs;
  }

  /// Inputs whose PATH holds no tool at all.
  [[nodiscard]] ProbeInputs no_tool_inputs() const {
    ProbeInputs inputs = fake_inputs();
    inputs.path_env = empty_dir_.path();
    return inputs;
  }

  TempDir empty_dir_;
};

class GpuProbe : public FakeToolsTest {};
class NeuronProbe : public FakeToolsTest {};
class CpuProbe : public FakeToolsTest {};
class HardwareProbe : public FakeToolsTest {};

/// Compiles tests/fakes/fake_nvml.c into a libnvidia-ml.so.1 once per run.
class GpuProbeNvml : public FakeToolsTest {
 protected:
  static void SetUpTestSuite() {
    library_dir_ = new TempDir();
    library_ = library_dir_->path() + "/libnvidia-ml.so.1";
    const char* path = std::getenv("PATH");
    compile_ = platform::run_capture(
        {"cc", "-shared", "-fPIC", "-o", library_, std::string(kFakesDir) + "/fake_nvml.c"},
        path != nullptr ? path : "/usr/bin:/bin", kCompileTimeout);
  }
  static void TearDownTestSuite() {
    delete library_dir_;
    library_dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(compile_.ok()) << "cannot build the fake NVML with `cc -shared -fPIC`: "
                               << (compile_.started ? compile_.err : compile_.start_error);
  }

  [[nodiscard]] ProbeInputs nvml_inputs() const {
    ProbeInputs inputs = fake_inputs();
    inputs.nvml_library = library_;
    return inputs;
  }

  static inline TempDir* library_dir_ = nullptr;
  static inline std::string library_;
  static inline platform::CaptureResult compile_;
};

// ---- GPUs --------------------------------------------------------------------

TEST_F(GpuProbe, B35_CountsGpuLinesOfNvidiaSmi) {
  set("FAKE_NVIDIA_SMI_GPUS", "8");
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.gpus, 8);
  EXPECT_EQ(facts.gpu_source, "nvidia-smi");
  EXPECT_FALSE(contains(facts.notes, "GPU"));
  EXPECT_TRUE(facts.warnings.empty());
}

TEST_F(GpuProbe, B35_DoesNotCountMigDevicesOrOtherLines) {
  set("FAKE_NVIDIA_SMI_GPUS", "2");
  set("FAKE_NVIDIA_SMI_MIG", "3");
  EXPECT_EQ(probe(fake_inputs()).gpus, 2);

  EXPECT_EQ(count_gpu_lines("GPU 0: A\nGPU 1: B"), 2);
  EXPECT_EQ(count_gpu_lines("GPU0: A\n GPU 1: B\n  MIG 1g.5gb Device 0:\ngpu 2\nGPU 3\n\n"), 1);
  EXPECT_EQ(count_gpu_lines(""), 0);
}

TEST_F(GpuProbe, B35_FailingNvidiaSmiMeansNoGpusWithANote) {
  set("FAKE_NVIDIA_SMI_EXIT", "9");
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.gpus, 0);
  EXPECT_EQ(facts.gpu_source, "none");
  EXPECT_TRUE(contains_exactly(facts.notes, kNoGpusNote));
  EXPECT_TRUE(facts.warnings.empty());
}

TEST_F(GpuProbe, B35_NoDevicesFoundMeansNoGpusWithANote) {
  set("FAKE_NVIDIA_SMI_GPUS", "0");  // "No devices were found", exit 6
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.gpus, 0);
  EXPECT_TRUE(contains_exactly(facts.notes, kNoGpusNote));
}

TEST_F(GpuProbe, B35_MissingNvidiaSmiMeansNoGpusWithANote) {
  const Facts facts = probe(no_tool_inputs());
  EXPECT_EQ(facts.gpus, 0);
  EXPECT_EQ(facts.gpu_source, "none");
  EXPECT_TRUE(contains_exactly(facts.notes, kNoGpusNote));
}

TEST_F(GpuProbe, GarbageFromNvidiaSmiCountsNoGpus) {
  set("FAKE_NVIDIA_SMI_MODE", "garbage");
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.gpus, 0);
  EXPECT_EQ(facts.gpu_source, "nvidia-smi");
}

TEST_F(GpuProbe, RespectsCudaVisibleDevices) {
  set("FAKE_NVIDIA_SMI_GPUS", "8");
  const std::vector<std::pair<std::optional<std::string>, int>> cases = {
      {std::nullopt, 8}, {"", 0},       {"0,1", 2}, {"0,1,7,9", 3}, {"GPU-abc", 1},
      {"-1", 0},         {"0,-1,2", 1}, {"7", 1},   {"8", 0},       {"3,2,1,0", 4}};
  for (const auto& [value, expected] : cases) {
    ProbeInputs inputs = fake_inputs();
    inputs.cuda_visible_devices = value;
    const Facts facts = probe(inputs);
    EXPECT_EQ(facts.gpus, expected) << "CUDA_VISIBLE_DEVICES=" << value.value_or("(unset)");
    EXPECT_EQ(facts.gpu_source, "nvidia-smi");
  }
}

TEST_F(GpuProbe, CudaVisibleDevicesFollowsTheCudaRuntimeRules) {
  const auto visible = [](const char* value) { return apply_cuda_visible_devices(8, std::string(value)); };
  EXPECT_EQ(apply_cuda_visible_devices(8, std::nullopt), 8);
  EXPECT_EQ(apply_cuda_visible_devices(0, std::nullopt), 0);
  EXPECT_EQ(visible(""), 0);
  EXPECT_EQ(visible("0, 1 ,2"), 3);                 // blanks around entries are fine
  EXPECT_EQ(visible("0,,1"), 1);                    // an empty entry stops the list
  EXPECT_EQ(visible("abc"), 0);                     // garbage first: nothing
  EXPECT_EQ(visible("1,abc,2"), 1);                 // garbage stops the enumeration
  EXPECT_EQ(visible("1gpu,2"), 2);                  // read like strtoul
  EXPECT_EQ(visible("0,0"), 0);                     // a repeated index invalidates the list
  EXPECT_EQ(visible("99999999999999999999,0"), 0);  // out of range
  EXPECT_EQ(visible("GPU-a,GPU-b"), 2);
  EXPECT_EQ(visible("MIG-a,MIG-b,MIG-c"), 3);
  EXPECT_EQ(visible("GPU-a,0,GPU-b"), 1);  // UUID mode stops at a non-UUID
  EXPECT_EQ(visible("0,GPU-a,1"), 1);      // index mode stops at a UUID
  EXPECT_EQ(visible("GPU-a,MIG-b"), 1);    // the first entry chose GPU- UUIDs
  EXPECT_EQ(visible("GPU-a,GPU-a"), 0);
  EXPECT_EQ(apply_cuda_visible_devices(2, std::string("GPU-a,GPU-b,GPU-c")), 2);  // never more than there are
  EXPECT_EQ(apply_cuda_visible_devices(0, std::string("0")), 0);
}

TEST_F(GpuProbe, MissingNvmlLibraryGivesNothing) {
  EXPECT_EQ(count_gpus_nvml(empty_dir_.path() + "/libnvidia-ml.so.1"), std::nullopt);
  EXPECT_EQ(count_gpus_nvml(std::string(kFakesDir) + "/nvidia-smi"), std::nullopt);  // not a library
}

TEST_F(GpuProbeNvml, UsesNvmlBeforeNvidiaSmi) {
  set("FAKE_NVML_GPUS", "4");
  set("FAKE_NVIDIA_SMI_GPUS", "8");
  EXPECT_EQ(count_gpus_nvml(library_), 4);
  const Facts facts = probe(nvml_inputs());
  EXPECT_EQ(facts.gpus, 4);
  EXPECT_EQ(facts.gpu_source, "nvml");
  EXPECT_FALSE(contains(facts.notes, "GPU"));
}

TEST_F(GpuProbeNvml, NvmlCountOfZeroIsAnAnswer) {
  set("FAKE_NVML_GPUS", "0");
  const Facts facts = probe(nvml_inputs());
  EXPECT_EQ(facts.gpus, 0);
  EXPECT_EQ(facts.gpu_source, "nvml");
}

TEST_F(GpuProbeNvml, FallsBackToNvidiaSmiWhenNvmlFails) {
  set("FAKE_NVML_GPUS", "4");
  set("FAKE_NVML_FAIL", "1");
  set("FAKE_NVIDIA_SMI_GPUS", "8");
  EXPECT_EQ(count_gpus_nvml(library_), std::nullopt);
  const Facts facts = probe(nvml_inputs());
  EXPECT_EQ(facts.gpus, 8);
  EXPECT_EQ(facts.gpu_source, "nvidia-smi");
}

TEST_F(GpuProbeNvml, AppliesCudaVisibleDevicesToTheNvmlCount) {
  set("FAKE_NVML_GPUS", "4");
  ProbeInputs inputs = nvml_inputs();
  inputs.cuda_visible_devices = "0,1,2,3,4";  // 4 is out of range for 4 GPUs
  const Facts facts = probe(inputs);
  EXPECT_EQ(facts.gpus, 4);
  EXPECT_EQ(facts.gpu_source, "nvml");
}

// ---- Neuron cores --------------------------------------------------------------

TEST_F(NeuronProbe, B36_SumsNcCountOverTheNeuronLsDevices) {
  EXPECT_EQ(probe(fake_inputs()).neuron_cores, 32);  // trn1.32xlarge: 16 devices x 2

  set("FAKE_NEURON_LS_DEVICES", "12");  // inf2.48xlarge
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.neuron_cores, 24);
  EXPECT_FALSE(contains(facts.notes, "Neuron"));
  EXPECT_TRUE(facts.warnings.empty());
}

TEST_F(NeuronProbe, B36_MissingNcCountCountsZero) {
  set("FAKE_NEURON_LS_JSON", R"([{"nc_count": 2}, {"neuron_device": 1}, {"nc_count": 8}])");
  EXPECT_EQ(probe(fake_inputs()).neuron_cores, 10);
  set("FAKE_NEURON_LS_JSON", "[]");
  EXPECT_EQ(probe(fake_inputs()).neuron_cores, 0);
}

TEST_F(NeuronProbe, B36_Trn2_48xlargeHas64CoresWithoutRunningNeuronLs) {
  ProbeInputs inputs = no_tool_inputs();
  inputs.instance_type = "ml.trn2.48xlarge";
  Facts facts = probe(inputs);
  EXPECT_EQ(facts.neuron_cores, 64);
  EXPECT_FALSE(contains(facts.notes, "Neuron"));

  // neuron-ls present but failing: it is not run, so no note either.
  set("FAKE_NEURON_LS_EXIT", "1");
  inputs.path_env = kFakesDir;
  facts = probe(inputs);
  EXPECT_EQ(facts.neuron_cores, 64);
  EXPECT_FALSE(contains(facts.notes, "Neuron"));

  EXPECT_EQ(known_neuron_cores("trn2.48xlarge"), 64);
  EXPECT_EQ(known_neuron_cores("ml.trn1.32xlarge"), std::nullopt);
  EXPECT_EQ(known_neuron_cores(""), std::nullopt);
}

TEST_F(NeuronProbe, MissingNeuronLsMeansNoCoresWithANote) {
  const Facts facts = probe(no_tool_inputs());
  EXPECT_EQ(facts.neuron_cores, 0);
  EXPECT_TRUE(contains_exactly(facts.notes, kNoNeuronsNote));
  EXPECT_TRUE(facts.warnings.empty());
}

TEST_F(NeuronProbe, D26_GarbageOutputIsAWarningAndNoCores) {
  set("FAKE_NEURON_LS_MODE", "garbage");
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.neuron_cores, 0);
  ASSERT_EQ(facts.warnings.size(), 1U);
  EXPECT_NE(facts.warnings[0].find("neuron-ls"), std::string::npos) << facts.warnings[0];
  EXPECT_NE(facts.warnings[0].find("not JSON"), std::string::npos) << facts.warnings[0];
}

TEST_F(NeuronProbe, D26_NonArrayOrNonIntegerJsonIsAWarningAndNoCores) {
  for (const char* json : {R"({"nc_count": 2})", R"([{"nc_count": "2"}])", R"([{"nc_count": 1.5}])",
                           R"([{"nc_count": -2}])", R"([{"nc_count": true}])", R"([2, 3])", "null"}) {
    set("FAKE_NEURON_LS_JSON", json);
    const Facts facts = probe(fake_inputs());
    EXPECT_EQ(facts.neuron_cores, 0) << json;
    EXPECT_TRUE(contains(facts.warnings, "neuron-ls -j: ")) << json;
  }
}

TEST_F(NeuronProbe, D26_SumNeuronCoresExplainsWhatIsWrong) {
  std::string error;
  EXPECT_EQ(sum_neuron_cores(R"([{"nc_count": 4}, {"nc_count": 4}])", &error), 8);
  EXPECT_EQ(sum_neuron_cores("", &error), std::nullopt);
  EXPECT_NE(error.find("not JSON"), std::string::npos) << error;
  EXPECT_EQ(sum_neuron_cores(R"({"a": 1})", &error), std::nullopt);
  EXPECT_NE(error.find("not an array"), std::string::npos) << error;
  EXPECT_EQ(sum_neuron_cores(R"([{"nc_count": "4"}])", &error), std::nullopt);
  EXPECT_NE(error.find("not an integer"), std::string::npos) << error;
  EXPECT_EQ(sum_neuron_cores(R"([{"nc_count": 2147483647}, {"nc_count": 1}])", &error), std::nullopt);
  EXPECT_EQ(sum_neuron_cores(R"([{"nc_count": 18446744073709551615}])", &error), std::nullopt);
  EXPECT_EQ(sum_neuron_cores("[1", nullptr), std::nullopt);  // error is optional
}

TEST_F(NeuronProbe, FailingNeuronLsNoteIncludesTheErrorText) {
  set("FAKE_NEURON_LS_EXIT", "1");
  set("FAKE_NEURON_LS_ERROR", "the neuron driver is not loaded");
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.neuron_cores, 0);
  EXPECT_TRUE(contains_exactly(facts.notes, std::string(kNoNeuronsNote) +
                                                ". If neuron installed then the neuron driver is not loaded"))
      << ::testing::PrintToString(facts.notes);
  EXPECT_TRUE(facts.warnings.empty());
}

TEST_F(NeuronProbe, FailingNeuronLsWithoutErrorTextGivesThePlainNote) {
  set("FAKE_NEURON_LS_EXIT", "2");
  set("FAKE_NEURON_LS_ERROR", "");
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.neuron_cores, 0);
  EXPECT_TRUE(contains_exactly(facts.notes, kNoNeuronsNote)) << ::testing::PrintToString(facts.notes);
}

// ---- CPUs ----------------------------------------------------------------------

/// CPUs in this thread's affinity mask (the oracle for the probe).
int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  return CPU_COUNT(&set);
}

TEST_F(CpuProbe, ReadsTheCgroupCpuMaxLine) {
  EXPECT_EQ(cpus_from_cgroup_cpu_max("max 100000\n"), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("150000 100000\n"), 2);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("50000 100000"), 1);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("250000 100000"), 3);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("200000 100000"), 2);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("1 100000"), 1);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("garbage"), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max(""), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("100000"), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("100000 0"), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("0 100000"), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("-5 100000"), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("1x 100000"), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("100000 100000 7"), std::nullopt);
  EXPECT_EQ(cpus_from_cgroup_cpu_max("18446744073709551615 1"), 2147483647);
}

TEST_F(CpuProbe, CountsTheAffinityMaskWithoutACgroupLimit) {
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.cpus, affinity_cpus());
  EXPECT_GE(facts.cpus, 1);
}

TEST_F(CpuProbe, CgroupQuotaCapsTheCpuCount) {
  const TempDir root;
  const int mask = affinity_cpus();
  const std::vector<std::pair<std::string, int>> cases = {
      {"max 100000\n", mask}, {"150000 100000\n", std::min(mask, 2)}, {"50000 100000\n", 1}};
  for (const auto& [cpu_max, expected] : cases) {
    root.write("cpu.max", cpu_max);
    ProbeInputs inputs = fake_inputs();
    inputs.cgroup_root = root.path();
    const Facts facts = probe(inputs);
    EXPECT_EQ(facts.cpus, expected) << cpu_max;
    EXPECT_TRUE(facts.warnings.empty()) << cpu_max;
  }
}

TEST_F(CpuProbe, GarbageCpuMaxIsIgnoredWithAWarning) {
  const TempDir root;
  root.write("cpu.max", "not a quota\n");
  ProbeInputs inputs = fake_inputs();
  inputs.cgroup_root = root.path();
  const Facts facts = probe(inputs);
  EXPECT_EQ(facts.cpus, affinity_cpus());
  EXPECT_TRUE(contains(facts.warnings, "cpu.max")) << ::testing::PrintToString(facts.warnings);
}

TEST_F(CpuProbe, ReadsTheProcessOwnCgroup) {
  // Our cgroup v2 path, as the probe reads it; "/" when there is none.
  std::string own = "/";
  std::ifstream table("/proc/self/cgroup");
  for (std::string line; std::getline(table, line);) {
    if (line.starts_with("0::/")) own = line.substr(3);
  }
  const TempDir root;
  root.write(own.substr(1) + (own == "/" ? "" : "/") + "cpu.max", "50000 100000\n");
  ProbeInputs inputs = fake_inputs();
  inputs.cgroup_root = root.path();
  EXPECT_EQ(probe(inputs).cpus, 1) << "own cgroup " << own;
}

TEST_F(CpuProbe, CountsOnlyCpusInTheAffinityMask) {
  // The probe reads the calling thread's mask: pin a fresh thread to one CPU.
  int cpus = 0;
  std::thread pinned([&] {
    cpu_set_t current;
    CPU_ZERO(&current);
    ASSERT_EQ(::sched_getaffinity(0, sizeof current, &current), 0);
    int first = 0;
    while (!CPU_ISSET(first, &current)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
    cpus = probe(fake_inputs()).cpus;
  });
  pinned.join();
  EXPECT_EQ(cpus, 1);
}

// ---- Everything ------------------------------------------------------------------

TEST_F(HardwareProbe, FillsEveryFactFromTheFakes) {
  const Facts facts = probe(fake_inputs());
  EXPECT_EQ(facts.gpus, 8);
  EXPECT_EQ(facts.gpu_source, "nvidia-smi");
  EXPECT_EQ(facts.neuron_cores, 32);
  EXPECT_GE(facts.cpus, 1);
  EXPECT_TRUE(facts.notes.empty()) << ::testing::PrintToString(facts.notes);
  EXPECT_TRUE(facts.warnings.empty()) << ::testing::PrintToString(facts.warnings);
}

TEST_F(HardwareProbe, HostWithoutDeviceToolsHasOnlyCpus) {
  const Facts facts = probe(no_tool_inputs());
  EXPECT_EQ(facts.gpus, 0);
  EXPECT_EQ(facts.neuron_cores, 0);
  EXPECT_EQ(facts.gpu_source, "none");
  EXPECT_GE(facts.cpus, 1);
  EXPECT_EQ(facts.notes.size(), 2U);
  EXPECT_TRUE(facts.warnings.empty());
}

}  // namespace
}  // namespace smlaunch::hardware
