// Shared helpers for the unit tests: JSON literals, training environments
// and plans built from in-memory documents, and a temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <stdexcept>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "smlaunch/config.hpp"
#include "smlaunch/plan.hpp"

namespace smlaunch::test {

/// Decodes a JSON literal that the test knows to be valid.
inline py::Value json(std::string_view text) {
  auto decoded = py::loads(text);
  if (auto* error = std::get_if<py::DecodeError>(&decoded)) {
    ADD_FAILURE() << "bad JSON in test: " << error->message << " in " << text;
    return {};
  }
  return std::get<py::Value>(std::move(decoded));
}

/// The messages of every problem, one per line.
inline std::string messages(const Diagnostics& d) {
  std::string out;
  for (const auto& p : d.problems()) out += p.message() + "\n";
  return out;
}

/// A configuration in memory, with defaults for a 1-host job.
struct Job {
  std::string resource_config = R"({"current_host":"algo-1","hosts":["algo-1"]})";
  std::string hyperparameters = R"({"sagemaker_program":"\"train.py\""})";
  std::string input_data_config = "{}";
  config::Environ environ{{"PATH", "/usr/bin:/bin"}};
  config::HostFacts facts;
  std::string base = "/opt/ml";

  plan::PlanInputs inputs;
  Diagnostics diagnostics;
  config::TrainingEnv env;

  Job() {
    inputs.tools.python = "/usr/bin/python3";
    inputs.tools.hostname_shim = "/usr/lib/smlaunch/libsmlaunch_hostname.so";
    inputs.code.entry_point_exists = true;
    inputs.code.populated = true;
  }

  /// Builds the training environment (problems go to `diagnostics`).
  const config::TrainingEnv& build() {
    const config::ConfigFiles files{json(resource_config), json(input_data_config), json(hyperparameters), true};
    env = config::build_training_env(config::Paths::from_base(base), files, environ, facts, diagnostics);
    return env;
  }

  /// Builds the environment and the plan.
  plan::LaunchPlan plan() {
    build();
    inputs.env = &env;
    inputs.environ = &environ;
    return plan::make_plan(inputs, diagnostics);
  }
};

/// A fresh directory under $TMPDIR, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "smlaunch-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  /// Writes `content` to path()/relative (creating directories) with
  /// permission bits `mode`; returns the file's path.
  std::string write(const std::string& relative, std::string_view content, ::mode_t mode = 0644) const {
    const auto file = std::filesystem::path(path_) / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    std::filesystem::permissions(file, static_cast<std::filesystem::perms>(mode));
    return file.string();
  }

 private:
  std::string path_;
};

}  // namespace smlaunch::test
