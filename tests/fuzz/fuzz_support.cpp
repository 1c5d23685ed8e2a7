#include "fuzz_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace smlaunch::fuzz {
namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "config/plan fuzzer: %s\n  detail: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// config/files.cpp's read_document, from memory.
py::Value decode_document(std::optional<std::string_view> text, std::string_view name, bool required,
                          Diagnostics& diagnostics, bool* read_ok = nullptr) {
  if (read_ok != nullptr) *read_ok = false;
  auto empty = py::Value::dict({});
  if (!text) {
    if (required) diagnostics.add(std::string(name), "file", "missing", "the cluster description");
    return empty;
  }
  if (!py::is_valid_utf8(*text)) {
    diagnostics.add(std::string(name), "document", "bytes that are not valid UTF-8", "UTF-8 JSON");
    return empty;
  }
  auto decoded = py::loads(*text);
  if (const auto* error = std::get_if<py::DecodeError>(&decoded)) {
    if (error->offset > text->size()) fail("a decode error offset past the end", *text);
    diagnostics.add(std::string(name), "document", error->message, "a JSON object");
    return empty;
  }
  auto& value = std::get<py::Value>(decoded);
  if (!value.is_dict()) {
    diagnostics.add(std::string(name), "document", std::string(value.type_name()), "a JSON object");
    return empty;
  }
  if (read_ok != nullptr) *read_ok = true;
  return std::move(value);
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

void check_plan(const plan::LaunchPlan& p) {
  if (p.processes_per_host < 1 || p.processes_per_host > plan::kMaxProcessesPerHost) {
    fail("processes_per_host out of range", std::to_string(p.processes_per_host));
  }
  if (p.num_processes < 1) fail("num_processes < 1", std::to_string(p.num_processes));
  if (p.argv.empty() && p.role != plan::Role::Worker) fail("nothing to run outside an MPI/SMDDP worker");
  for (const auto& arg : p.argv) {
    if (has_nul(arg)) fail("a NUL byte in argv", arg);
  }
  for (const auto& [name, value] : p.env) {
    if (name.empty() || has_nul(name) || name.find('=') != std::string::npos) fail("a bad environment name", name);
    if (has_nul(value)) fail("a NUL byte in an environment value", name);
  }
  const std::string json = plan::to_json(p);
  auto decoded = py::loads(json);
  if (const auto* error = std::get_if<py::DecodeError>(&decoded)) fail("plan --json is not JSON", error->message);
  (void)plan::to_text(p);
}

}  // namespace

bool run(const Documents& documents, Setup setup) {
  Diagnostics diagnostics;
  config::ConfigFiles files;
  files.resource_config = decode_document(documents.resource_config, config::kResourceConfigFile, true,
                                          diagnostics, &files.resource_config_read);
  files.input_data_config =
      decode_document(documents.input_data_config, config::kInputDataConfigFile, false, diagnostics);
  files.hyperparameters = decode_document(documents.hyperparameters, config::kHyperparametersFile, false, diagnostics);
  // load(): without the cluster description nothing else is checked.
  if (!files.resource_config_read) return false;

  const auto paths = config::Paths::from_base("/opt/ml");
  const config::TrainingEnv env = config::build_training_env(paths, files, setup.environ, setup.facts, diagnostics);
  setup.inputs.env = &env;
  setup.inputs.environ = &setup.environ;
  const plan::LaunchPlan p = plan::make_plan(setup.inputs, diagnostics);
  for (const auto& problem : diagnostics.problems()) {
    const std::string message = problem.message();
    if (message.find('\n') != std::string::npos) fail("a problem message spans lines", message);
  }
  if (!diagnostics.empty()) return false;
  check_plan(p);
  return true;
}

}  // namespace smlaunch::fuzz
