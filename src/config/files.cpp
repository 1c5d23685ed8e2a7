// Reading the three config files and decoding hyperparameters (B3-B8).
#include <fmt/format.h>

#include <utility>

#include "config/secret_names.hpp"
#include "platform/files.hpp"
#include "smlaunch/config.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX

namespace smlaunch::config {

Environ current_environ() {
  Environ out;
  for (char** e = ::environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return out;
}

std::optional<std::string> lookup(const Environ& environ_map, std::string_view name) {
  const auto it = environ_map.find(name);
  if (it == environ_map.end()) return std::nullopt;
  return it->second;
}

Paths Paths::from_base(std::string base) {
  // os.path.join semantics: a trailing '/' on the base is not doubled.
  const auto join = [](const std::string& dir, std::string_view name) {
    if (dir.empty()) return std::string(name);
    return dir.back() == '/' ? dir + std::string(name) : dir + "/" + std::string(name);
  };
  Paths p;
  p.base = std::move(base);
  p.code = join(p.base, "code");
  p.model = join(p.base, "model");
  p.input = join(p.base, "input");
  p.input_data = join(p.input, "data");
  p.input_config = join(p.input, "config");
  p.output = join(p.base, "output");
  p.output_data = join(p.output, "data");
  p.output_intermediate = join(p.output, "intermediate");
  p.hyperparameters_file = join(p.input_config, kHyperparametersFile);
  p.resource_config_file = join(p.input_config, kResourceConfigFile);
  p.input_data_config_file = join(p.input_config, kInputDataConfigFile);
  return p;
}

std::string Paths::channel_dir(std::string_view channel) const {
  return input_data + "/" + std::string(channel);
}

BaseDirChoice choose_base_dir(const std::optional<std::string>& cli_base_dir,
                              const Environ& environ_map, bool opt_ml_exists, std::string_view home,
                              double now_seconds) {
  if (cli_base_dir) return {*cli_base_dir, false};
  // B1/B3: the variable counts when present, even empty.
  if (const auto env = lookup(environ_map, "SAGEMAKER_BASE_DIR")) return {*env, false};
  if (opt_ml_exists) return {std::string(kDefaultBaseDir), false};
  // B2: ~/sagemaker_local/jobs/<str(time.time())>/opt/ml
  return {fmt::format("{}/sagemaker_local/jobs/{}/opt/ml", home, py::repr_float(now_seconds)), true};
}

namespace {

py::Value read_document(const std::string& path, std::string_view name, bool required,
                        Diagnostics& diagnostics, bool* read_ok = nullptr) {
  if (read_ok != nullptr) *read_ok = false;
  auto empty = py::Value::dict({});
  auto content = platform::read_file(path, kMaxConfigFileBytes);
  if (const auto* error = std::get_if<platform::ReadError>(&content)) {
    switch (error->failure) {
      case platform::ReadFailure::NotFound:
        if (required) {
          diagnostics.add(std::string(name), "file", fmt::format("{} does not exist", path),
                          "the cluster description written by the platform");
        }
        break;
      case platform::ReadFailure::TooLarge:
        diagnostics.add(std::string(name), "file", fmt::format("{} bytes", error->size),
                        fmt::format("at most {} MiB", kMaxConfigFileBytes >> 20));
        break;
      case platform::ReadFailure::NotAFile:
      case platform::ReadFailure::IoError:
        diagnostics.add(std::string(name), "file", fmt::format("{}: {}", path, error->detail),
                        "a readable JSON file");
        break;
    }
    return empty;
  }
  const std::string& text = std::get<std::string>(content);
  if (!py::is_valid_utf8(text)) {
    diagnostics.add(std::string(name), "document", "bytes that are not valid UTF-8", "UTF-8 JSON");
    return empty;
  }
  auto decoded = py::loads(text);
  if (const auto* error = std::get_if<py::DecodeError>(&decoded)) {
    diagnostics.add(std::string(name), "document",
                    fmt::format("invalid JSON at byte {}: {}", error->offset, error->message),
                    "a JSON object");
    return empty;
  }
  auto& value = std::get<py::Value>(decoded);
  if (!value.is_dict()) {
    diagnostics.add(std::string(name), "document", fmt::format("{}", value.type_name()),
                    "a JSON object");
    return empty;
  }
  if (read_ok != nullptr) *read_ok = true;
  return std::move(value);
}

}  // namespace

ConfigFiles load_config_files(const Paths& paths, Diagnostics& diagnostics) {
  ConfigFiles files;
  files.resource_config = read_document(paths.resource_config_file, kResourceConfigFile, true, diagnostics,
                                        &files.resource_config_read);
  files.input_data_config =
      read_document(paths.input_data_config_file, kInputDataConfigFile, false, diagnostics);
  files.hyperparameters = read_document(paths.hyperparameters_file, kHyperparametersFile, false, diagnostics);
  return files;
}

ConfigFiles local_mode_files(const std::string& host) {
  // B4, key for key.
  py::Dict group;
  group.append("instance_group_name", py::Value::string("homogeneousCluster"));
  group.append("instance_type", py::Value::string("local"));
  group.append("hosts", py::Value::list({py::Value::string(host)}));
  py::Dict rc;
  rc.append("current_host", py::Value::string(host));
  rc.append("hosts", py::Value::list({py::Value::string(host)}));
  rc.append("current_instance_group", py::Value::string("homogeneousCluster"));
  rc.append("instance_groups", py::Value::list({py::Value::dict(std::move(group))}));
  return ConfigFiles{py::Value::dict(std::move(rc)), py::Value::dict({}), py::Value::dict({}), true};
}

DecodedHyperparameters decode_hyperparameters(const py::Dict& raw) {
  DecodedHyperparameters out;
  for (const auto& [key, value] : raw) {
    if (!value.is_str()) {  // json.loads(non-str) raises TypeError: kept as is (B8)
      out.all.append(key, value);
      continue;
    }
    auto decoded = py::loads(value.as_str());
    if (auto* ok = std::get_if<py::Value>(&decoded)) {
      out.all.append(key, std::move(*ok));
    } else {
      // The reference's note, except that a secret's value is not printed
      // (SPEC "Logging hygiene": masked by name, like the other logs), nor a
      // value that sets a secret-named variable (custom mpirun options with
      // -x DB_PASSWORD=...).
      const bool secret = is_secret_name(key) || assigns_secret_name(value.as_str());
      out.notes.push_back(fmt::format(
          "Failed to parse hyperparameter {} value {} to Json.\nReturning the value itself", key,
          secret ? std::string_view(kMaskedValue) : std::string_view(value.as_str())));
      out.all.append(key, value);
    }
  }
  return out;
}

}  // namespace smlaunch::config
