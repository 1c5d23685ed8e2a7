// The config -> plan path for the fuzzers, from documents in memory: the
// same steps as app::load() (src/app/load.cpp) without the file system and
// the hardware probe, which the fuzzers replace with fixed or chosen facts.
#pragma once

#include <string_view>

#include "smlaunch/config.hpp"
#include "smlaunch/diagnostics.hpp"
#include "smlaunch/plan.hpp"

namespace smlaunch::fuzz {

/// The three files' contents (resourceconfig.json is required, the others
/// may be absent, as on disk).
struct Documents {
  std::string_view resource_config;
  std::optional<std::string_view> hyperparameters;
  std::optional<std::string_view> input_data_config;
};

/// What load() finds out about the host and the tools.
struct Setup {
  config::Environ environ{{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
  config::HostFacts facts;
  plan::PlanInputs inputs;  // env and environ are filled in by run()
};

/// Decodes the documents as config::load_config_files() does (UTF-8 check,
/// json.loads, must be an object), builds the training environment and the
/// plan as app::load() does, renders the plan when there was no problem, and
/// aborts (a fuzzer finding) when a plan without problems breaks one of its
/// invariants. Returns whether the plan came out without problems.
bool run(const Documents& documents, Setup setup);

}  // namespace smlaunch::fuzz
