// Fuzzes planning from hyperparameters.json, the file users write, against
// well-formed cluster descriptions, so that the runners' own decisions (MPI
// options, counts, smddp, torchrun, xla) are reached on most inputs.
// Input: two bytes of set-up, then hyperparameters.json.
//   byte 0: bits 0-1 the resourceconfig.json below, bits 2-4 --runner
//           (0 none, 1-5 a runner, 6-7 none), bit 5 Open MPI 5, bit 6
//           --mpi CMD, bit 7 a package (setup.py);
//   byte 1: bits 0-1 GPUs (0, 1, 8, 0 with 32 Neuron cores), bit 2 smddprun
//           on PATH, bit 3 the entry point is missing, bit 4 the code dir is
//           empty, bit 5 torchrun found, bit 6 credentials in the
//           environment, bit 7 --base-dir.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

constexpr std::array<std::string_view, 4> kResourceConfigs = {
    R"({"current_host":"algo-1","hosts":["algo-1"],"network_interface_name":"eth0"})",
    R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"network_interface_name":"ethw3"})",
    R"({"current_host":"algo-2","hosts":["algo-1","algo-2","algo-3"],"network_interface_name":"ethw3"})",
    R"({"current_host":"algo-2","current_instance_type":"ml.p4d.24xlarge","current_group_name":"train",)"
    R"("hosts":["algo-1","algo-2","algo-3"],"instance_groups":[{"instance_group_name":"train",)"
    R"("instance_type":"ml.p4d.24xlarge","hosts":["algo-1","algo-2"]},{"instance_group_name":"data",)"
    R"("instance_type":"ml.c5.xlarge","hosts":["algo-3"]}],"network_interface_name":"eth0"})",
};
constexpr std::array<smlaunch::plan::RunnerKind, 5> kRunners = {
    smlaunch::plan::RunnerKind::Mpi, smlaunch::plan::RunnerKind::Smddp, smlaunch::plan::RunnerKind::Torchrun,
    smlaunch::plan::RunnerKind::Xla, smlaunch::plan::RunnerKind::Process};
constexpr std::size_t kSetupBytes = 2;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kSetupBytes) return 0;
  const unsigned a = data[0];
  const unsigned b = data[1];
  smlaunch::fuzz::Documents documents;
  documents.resource_config = kResourceConfigs[a & 3U];
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libFuzzer's bytes as text
  documents.hyperparameters = std::string_view(reinterpret_cast<const char*>(data + kSetupBytes), size - kSetupBytes);
  documents.input_data_config = R"({"train":{"TrainingInputMode":"File","S3DistributionType":"FullyReplicated"}})";

  smlaunch::fuzz::Setup setup;
  auto& inputs = setup.inputs;
  inputs.tools.python = "/usr/bin/python3";
  inputs.tools.hostname_shim = "/usr/lib/smlaunch/libsmlaunch_hostname.so";
  if (const unsigned runner = (a >> 2) & 7U; runner >= 1 && runner <= kRunners.size()) {
    inputs.forced_runner = kRunners[runner - 1];
  }
  if ((a & 0x20U) != 0) inputs.tools.openmpi_version = smlaunch::mpi::OpenMpiVersion::V5;
  if ((a & 0x40U) != 0) {
    inputs.user_command = std::vector<std::string>{"/usr/bin/env", "--", "printenv"};
    if (!inputs.forced_runner) inputs.forced_runner = smlaunch::plan::RunnerKind::Mpi;  // as load() does
  }
  inputs.code.has_setup_py = (a & 0x80U) != 0;
  switch (b & 3U) {
    case 0: break;
    case 1: setup.facts.hardware.gpus = 1; break;
    case 2: setup.facts.hardware.gpus = 8; break;
    default: setup.facts.hardware.neuron_cores = 32; break;
  }
  setup.facts.smddprun_on_path = (b & 0x04U) != 0;
  setup.facts.smddpmprun_on_path = (b & 0x04U) != 0;
  inputs.code.entry_point_exists = (b & 0x08U) == 0;
  inputs.code.populated = (b & 0x10U) == 0;
  if ((b & 0x20U) != 0) inputs.tools.torchrun = "/usr/local/bin/torchrun";
  if ((b & 0x40U) != 0) {
    setup.environ["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE";
    setup.environ["AWS_SECRET_ACCESS_KEY"] = "secret";
    setup.environ["AWS_REGION"] = "us-west-2";
  }
  if ((b & 0x80U) != 0) inputs.export_base_dir = "/tmp/base";
  (void)smlaunch::fuzz::run(documents, setup);
  return 0;
}
