// The PyTorch/XLA runner (B129-B132): every node runs xla_spawn with the XRT
// topology in its environment.
#include <fmt/format.h>

#include "plan/runner.hpp"

namespace smlaunch::plan {
namespace {

constexpr std::string_view kWorkerPort = "43857";
constexpr std::string_view kMeshServicePort = "53957";

class XlaRunner final : public Runner {
 public:
  void plan(PlanContext& ctx, LaunchPlan& plan) const override {
    assign_hosts_and_role(ctx, plan, "xla", Launch::OnEveryNode);
    const int gpus = ctx.env.hardware.gpus;
    plan.processes_per_host = gpus;
    plan.num_processes = static_cast<std::int64_t>(gpus) * static_cast<std::int64_t>(plan.hosts.size());

    if (ctx.inputs.user_command) {
      ctx.diagnostics.add("command line", "--mpi", "a command for the xla runner",
                          "--mpi only with the mpi runner");
      return;
    }
    if (gpus <= 0) {  // B130 check 1
      ctx.diagnostics.add("hardware", "GPUs", "0 GPUs detected",
                          "GPUs: distributed training through PT-XLA is only supported for GPUs");
    }
    if (ctx.entry.type != EntryPointType::PythonProgram) {  // B132
      ctx.diagnostics.add(std::string(config::kHyperparametersFile), "sagemaker_program",
                          fmt::format("a {} entry point ({})", to_string(ctx.entry.type), ctx.entry.name),
                          "a Python script (.py): PT-XLA is only supported for Python scripts");
      return;
    }

    const std::int64_t rank = index_of(plan.hosts, ctx.env.current_host);
    std::string workers;
    for (std::size_t i = 0; i < plan.hosts.size(); ++i) {
      if (i > 0) workers += '|';
      workers += fmt::format("localservice:{};{}:{}", i, plan.hosts[i], kWorkerPort);
    }
    // B131, in the reference's order.
    plan.env.set("NCCL_DEBUG", "info");
    plan.env.set("NCCL_PROTO", "simple");
    plan.env.set("FI_EFA_USE_DEVICE_RDMA", "1");
    plan.env.set("OFI_NCCL_NIC_DUP_CONNS", std::to_string(gpus));
    plan.env.set("XRT_HOST_ORDINAL", std::to_string(rank));
    plan.env.set("XRT_SHARD_WORLD_SIZE", std::to_string(plan.hosts.size()));
    plan.env.set("XRT_WORKERS", workers);
    plan.env.set("GPU_NUM_DEVICES", std::to_string(gpus));
    if (plan.hosts.size() > 1) {
      plan.env.set("XRT_MESH_SERVICE_ADDRESS", fmt::format("{}:{}", plan.leader, kMeshServicePort));
    }
    plan.argv = {require_python(ctx), "-m", "torch_xla.distributed.xla_spawn", "--num_gpus",
                 std::to_string(gpus), ctx.entry.name};
    plan.argv.insert(plan.argv.end(), ctx.args.begin(), ctx.args.end());
  }
};

}  // namespace

std::unique_ptr<Runner> make_xla_runner() { return std::make_unique<XlaRunner>(); }

}  // namespace smlaunch::plan
