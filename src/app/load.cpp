#include "app/load.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "app/log.hpp"
#include "platform/files.hpp"
#include "platform/subprocess.hpp"
#include "platform/tree.hpp"

namespace smlaunch::app {
namespace {

constexpr std::chrono::milliseconds kVersionProbeTimeout{10'000};
constexpr std::string_view kShimRelativePath = "../lib/smlaunch/libsmlaunch_hostname.so";

std::string path_env(const config::Environ& environ) {
  return config::lookup(environ, "PATH").value_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

// SMLAUNCH_PYTHON, else python3, else python, resolved once to a path.
std::optional<std::string> find_python(const config::Environ& environ, const std::string& path) {
  if (const auto forced = config::lookup(environ, "SMLAUNCH_PYTHON"); forced && !forced->empty()) {
    return platform::find_executable(*forced, path);
  }
  if (auto p = platform::find_executable("python3", path)) return p;
  return platform::find_executable("python", path);
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// Linux (since 2.6.23) allows the arguments and environment of an exec a
// quarter of the stack limit, and at most 3/4 of _STK_LIM (8 MiB) whatever
// the limit (fs/exec.c, bprm_stack_limits); sysconf(_SC_ARG_MAX) is the
// quarter (unbounded for an unlimited stack). What mpirun and orted add to
// a rank's environment (OMPI_*, PMIX_* variables) needs room too.
constexpr std::size_t kKernelArgCap = std::size_t{6} << 20;
constexpr std::size_t kLegacyArgMax = 131072;
constexpr std::size_t kLauncherMargin = std::size_t{64} << 10;

plan::ExecLimits exec_limits() {
  const long arg_max = ::sysconf(_SC_ARG_MAX);
  std::size_t total = arg_max > 0 ? static_cast<std::size_t>(arg_max) : kLegacyArgMax;
  total = std::min(total, kKernelArgCap);
  plan::ExecLimits limits;
  limits.max_total_bytes = total > 2 * kLauncherMargin ? total - kLauncherMargin : total / 2;
  return limits;
}

double now_seconds() {
  using std::chrono::duration;
  return duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

config::BaseDirChoice choose_base_dir(const Options& options, const config::Environ& environ) {
  return config::choose_base_dir(options.base_dir, environ, platform::path_exists(std::string(config::kDefaultBaseDir)),
                                 config::lookup(environ, "HOME").value_or("/root"), now_seconds());
}

std::string hostname_shim_path(const config::Environ& environ) {
  if (auto forced = config::lookup(environ, "SMLAUNCH_HOSTNAME_SHIM"); forced && !forced->empty()) {
    return *forced;
  }
  const auto dir = platform::executable_dir().value_or("/usr/bin");
  return std::filesystem::path(dir).append(kShimRelativePath).lexically_normal().string();
}

mpi::OpenMpiVersion detect_openmpi_version(const std::string& path) {
  const auto mpirun = platform::find_executable("mpirun", path);
  if (!mpirun) return mpi::OpenMpiVersion::V4;
  // Cheap first: the daemon installed beside the real mpirun binary.
  std::error_code ec;
  const auto real = std::filesystem::canonical(*mpirun, ec);
  if (!ec) {
    const auto dir = real.parent_path();
    if (platform::path_exists((dir / "prted").string()) || platform::path_exists((dir / "prterun").string())) {
      return mpi::OpenMpiVersion::V5;
    }
    if (platform::path_exists((dir / "orted").string())) return mpi::OpenMpiVersion::V4;
  }
  const auto result = platform::run_capture({*mpirun, "--version"}, path, kVersionProbeTimeout);
  if (result.ok()) {
    if (auto v = mpi::parse_mpirun_version(result.out)) return *v;
  }
  log::warning("could not tell the Open MPI version of {}: assuming 4 (use --openmpi-version)", *mpirun);
  return mpi::OpenMpiVersion::V4;
}

void prepare_directories(const Loaded& l) {
  // Every directory made here is 0755 whatever the umask (D30): the job's
  // tree must not become writable by other users of the host.
  if (l.base.local_mode) {
    log::info("Directory /opt/ml does not exist.");
    log::info("Setting environment variable SAGEMAKER_BASE_DIR as {} .", l.paths.base);
    for (const auto* dir : {&l.paths.model, &l.paths.input_config, &l.paths.output_data}) {
      (void)platform::create_directories(*dir);  // a failure shows when the files are written
    }
    const auto files = config::local_mode_files(l.env.current_host);
    const std::pair<const std::string*, const py::Value*> documents[] = {
        {&l.paths.hyperparameters_file, &files.hyperparameters},
        {&l.paths.input_data_config_file, &files.input_data_config},
        {&l.paths.resource_config_file, &files.resource_config}};
    for (const auto& [path, value] : documents) {
      if (!platform::write_file(*path, py::dumps(*value))) {
        throw FatalError(kExitBadConfig, fmt::format("could not write {}", *path));
      }
    }
  }
  if (auto error = platform::create_directories(l.paths.code)) {  // B5
    throw FatalError(kExitBadConfig, fmt::format("could not create {}", *error));
  }
}

std::unique_ptr<Loaded> load(const Options& options) {
  auto loaded = std::make_unique<Loaded>();
  Loaded& l = *loaded;
  Diagnostics diagnostics;

  // 1. Where the files are (B1-B3); local mode describes this host (B4).
  l.environ = config::current_environ();
  l.base = options.base ? *options.base : choose_base_dir(options, l.environ);
  l.paths = config::Paths::from_base(l.base.base);
  const config::ConfigFiles files = l.base.local_mode ? config::local_mode_files(hostname())
                                                      : config::load_config_files(l.paths, diagnostics);
  // Without the cluster description nothing else can be checked against it.
  if (!files.resource_config_read) diagnostics.checkpoint();

  // 2. Hardware and tools.
  const std::string path = path_env(l.environ);
  hardware::ProbeInputs probe;
  probe.path_env = path;
  probe.cuda_visible_devices = config::lookup(l.environ, "CUDA_VISIBLE_DEVICES");
  if (files.resource_config.is_dict()) {
    const py::Value* type = files.resource_config.as_dict().find("current_instance_type");
    if (type != nullptr && type->is_str()) probe.instance_type = type->as_str();
  }
  if (auto nvml = config::lookup(l.environ, "SMLAUNCH_NVML_LIBRARY")) probe.nvml_library = *nvml;
  config::HostFacts facts;
  facts.hardware = hardware::probe(probe);
  facts.smddprun_on_path = platform::find_executable("smddprun", path).has_value();
  facts.smddpmprun_on_path = platform::find_executable("smddpmprun", path).has_value();
  for (const auto& w : facts.hardware.warnings) log::warning("{}", w);

  // 3. The training environment, every field checked (problems are
  // reported after planning, so that all of them come in one run).
  l.env = config::build_training_env(l.paths, files, l.environ, facts, diagnostics);

  // 4. The plan.
  l.inputs.env = &l.env;
  l.inputs.environ = &l.environ;
  l.inputs.forced_runner = options.runner;
  if (options.base_dir || l.base.local_mode) l.inputs.export_base_dir = l.base.base;
  l.inputs.user_command = options.mpi_command;
  if (options.mpi_command && !options.runner) l.inputs.forced_runner = plan::RunnerKind::Mpi;
  auto& tools = l.inputs.tools;
  tools.python = find_python(l.environ, path);
  tools.torchrun = platform::find_executable("torchrun", path);
  tools.neuron_parallel_compile = platform::find_executable("neuron_parallel_compile", path);
  tools.hostname_shim = hostname_shim_path(l.environ);
  const auto runner = l.inputs.forced_runner.value_or(
      plan::runner_from_hyperparameters(l.env.additional_framework_parameters));
  if (options.openmpi_version) {
    tools.openmpi_version = *options.openmpi_version;
  } else if (runner == plan::RunnerKind::Mpi || runner == plan::RunnerKind::Smddp) {
    tools.openmpi_version = detect_openmpi_version(path);
  }
  if (l.env.user_entry_point.is_str()) {
    l.inputs.code.entry_point_exists = platform::is_regular_file(l.paths.code + "/" + l.env.user_entry_point.as_str());
  }
  l.inputs.code.has_setup_py = platform::path_exists(l.paths.code + "/setup.py");
  l.inputs.code.populated = platform::directory_has_entries(l.paths.code);

  l.plan = plan::make_plan(l.inputs, diagnostics);
  // 5. What exec would refuse (E2BIG) is a configuration error now, not a
  // failed start later.
  plan::check_exec_limits(l.plan, l.env, l.environ, exec_limits(), diagnostics);
  diagnostics.checkpoint();
  return loaded;
}

}  // namespace smlaunch::app
