// The process runner (B64-B70): this host runs the entry point once, with no
// cluster formation.
#include "plan/runner.hpp"

namespace smlaunch::plan {
namespace {

class ProcessRunner final : public Runner {
 public:
  void plan(PlanContext& ctx, LaunchPlan& plan) const override {
    plan.role = Role::Single;
    plan.hosts = ctx.env.hosts;
    plan.leader = ctx.env.master_hostname;
    plan.processes_per_host = 1;
    plan.num_processes = static_cast<std::int64_t>(plan.hosts.size());
    if (ctx.inputs.user_command) {
      plan.argv = *ctx.inputs.user_command;
      return;
    }
    const bool needs_python = ctx.entry.type != EntryPointType::Command;
    plan.argv = entry_command(ctx.entry, needs_python ? require_python(ctx) : std::string(), ctx.args,
                              /*under_mpi4py=*/false);
  }
};

}  // namespace

std::unique_ptr<Runner> make_process_runner() { return std::make_unique<ProcessRunner>(); }

}  // namespace smlaunch::plan
