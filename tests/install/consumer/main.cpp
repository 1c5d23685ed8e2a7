// Prints the launch plan for the /opt/ml-style tree in argv[1], using only the
// installed headers: what a framework image does with the library.
#include <iostream>
#include <string>

#include "smlaunch/config.hpp"
#include "smlaunch/diagnostics.hpp"
#include "smlaunch/plan.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer BASE_DIR\n";
    return smlaunch::kExitBadConfig;
  }
  namespace config = smlaunch::config;
  try {
    smlaunch::Diagnostics diagnostics;
    const auto paths = config::Paths::from_base(argv[1]);
    const auto files = config::load_config_files(paths, diagnostics);
    const config::Environ environ;  // nothing from this process's environment
    const auto env = config::build_training_env(paths, files, environ, config::HostFacts{}, diagnostics);

    smlaunch::plan::PlanInputs inputs;
    inputs.env = &env;
    inputs.environ = &environ;
    inputs.tools.python = "/usr/bin/python3";
    inputs.tools.hostname_shim = "/usr/lib/smlaunch/libsmlaunch_hostname.so";
    inputs.code.entry_point_exists = true;
    inputs.code.populated = true;
    const auto plan = smlaunch::plan::make_plan(inputs, diagnostics);
    diagnostics.checkpoint();
    std::cout << smlaunch::plan::to_json(plan) << "\n";
    return smlaunch::kExitSuccess;
  } catch (const smlaunch::ConfigError& e) {
    for (const auto& problem : e.problems()) std::cerr << "consumer: error: " << problem.message() << "\n";
    return smlaunch::kExitBadConfig;
  }
}
