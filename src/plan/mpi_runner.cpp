// The MPI runner (B88-B101): on the leader, one mpirun across the
// distribution hosts; on the other hosts nothing to run (they serve sshd and
// wait for the leader's outcome).
#include <fmt/format.h>

#include "config/validate.hpp"
#include "plan/openmpi_dialect.hpp"
#include "plan/runner.hpp"

namespace smlaunch::plan {
namespace {

constexpr std::string_view kCustomOptionsKey = "sagemaker_mpi_custom_mpi_options";
constexpr std::string_view kNumProcessesKey = "sagemaker_mpi_num_processes";
constexpr std::string_view kDefaultNcclDebug = "INFO";

std::int64_t num_processes(PlanContext& ctx, std::int64_t slots) {
  const py::Value* v = ctx.env.additional_framework_parameters.find(kNumProcessesKey);
  if (v == nullptr || v->is_none()) return slots;  // B90
  const auto n = v->to_int64();
  if (!n || *n < 1 || *n > slots) {
    ctx.diagnostics.add(std::string(config::kHyperparametersFile), std::string(kNumProcessesKey),
                        config::found_value(*v),
                        fmt::format("an integer from 1 to {} (processes per host x hosts)", slots));
    return slots;
  }
  return *n;
}

// B99-B100: model parallelism, decided from $SM_HP_MP_PARAMETERS as the
// ranks will see it (the hyperparameter mp_parameters, else the launcher's).
void append_model_parallel(PlanContext& ctx, const LaunchPlan& plan, std::vector<std::string>& argv) {
  std::optional<std::string> mp;
  const std::string* from_hp = plan.env.find("SM_HP_MP_PARAMETERS");
  if (from_hp != nullptr) {
    mp = *from_hp;
  } else {
    mp = config::lookup(ctx.environ, "SM_HP_MP_PARAMETERS");
  }
  if (!mp || mp->empty() || *mp == "{}") return;

  if (const auto torch = config::lookup(ctx.environ, "SM_DLC_TORCH_VERSION")) {
    argv.insert(argv.end(), {"-x", "NCCL_PROTO=simple"});
    int major = 0;
    const auto dot = torch->find('.');
    const std::string head = torch->substr(0, dot);
    const bool numeric = !head.empty() && head.find_first_not_of("0123456789") == std::string::npos;
    if (numeric && head.size() < 6) major = std::stoi(head);
    if (major > 1) argv.insert(argv.end(), {"-x", "NCCL_ALGO=ring"});
  }
  auto decoded = py::loads(*mp);
  const py::Value* params = std::get_if<py::Value>(&decoded);
  if (params == nullptr || !params->is_dict()) {
    ctx.diagnostics.add(from_hp != nullptr ? std::string(config::kHyperparametersFile) : "environment",
                        from_hp != nullptr ? "mp_parameters" : "SM_HP_MP_PARAMETERS",
                        "got " + describe_for_message(*mp), "a JSON object");
    return;
  }
  const py::Value* backend = params->as_dict().find("ddp_dist_backend");
  const bool automatic = backend == nullptr || (backend->is_str() && backend->as_str() == "auto");
  if (automatic && ctx.env.is_smddpmprun_installed) {
    argv.insert(argv.end(), {ctx.inputs.tools.smddpmprun, "-i", ctx.env.current_instance_type,
                             "--allow-bypass"});
  }
}

class MpiRunner final : public Runner {
 public:
  void plan(PlanContext& ctx, LaunchPlan& plan) const override {
    assign_hosts_and_role(ctx, plan, "mpi", Launch::FromLeader);
    plan.processes_per_host = processes_per_host(ctx);
    const std::int64_t slots = plan.processes_per_host * static_cast<std::int64_t>(plan.hosts.size());
    plan.num_processes = num_processes(ctx, slots);
    const mpi::CustomOptions custom = custom_mpi_options(ctx, kCustomOptionsKey);
    if (plan.role == Role::Worker) return;

    const std::string& iface = ctx.env.network_interface_name;
    auto& argv = plan.argv;
    argv = {ctx.inputs.tools.mpirun, "--host",
            host_list(plan.hosts, plan.processes_per_host, plan.processes_per_host == 1), "-np",
            std::to_string(plan.num_processes)};
    mpi::append_launch_options(argv, plan.openmpi_version,
                               mpi::DialectOptions{.interface_name = iface,
                                                   .shape = mpi::CommandShape::Mpi});
    argv.insert(argv.end(),
                {"-x", "NCCL_MIN_NRINGS=4", "-x", "NCCL_SOCKET_IFNAME=" + iface, "-x",
                 "NCCL_DEBUG=" + custom.nccl_debug.value_or(std::string(kDefaultNcclDebug)), "-x",
                 "LD_LIBRARY_PATH", "-x", "PATH", "-x", "LD_PRELOAD=" + ld_preload_value(ctx)});
    argv.insert(argv.end(), custom.passthrough.begin(), custom.passthrough.end());  // B92
    const std::string& type = ctx.env.current_instance_type;                           // B93
    if (is_efa_nccl_instance(type)) argv.insert(argv.end(), {"-x", "FI_PROVIDER=efa", "-x", "NCCL_PROTO=simple"});
    if (is_efa_rdma_instance(type)) argv.insert(argv.end(), {"-x", "FI_EFA_USE_DEVICE_RDMA=1"});
    append_credential_names(ctx, argv);  // B95
    bound_mpirun_ssh(ctx, plan);
    for (const auto& name : ctx.forwarded_names) argv.insert(argv.end(), {"-x", name});  // B96
    append_model_parallel(ctx, plan, argv);                                               // B97
    const auto program = ctx.mpi_program();
    argv.insert(argv.end(), program.begin(), program.end());
  }
};

}  // namespace

std::unique_ptr<Runner> make_mpi_runner() { return std::make_unique<MpiRunner>(); }

}  // namespace smlaunch::plan
