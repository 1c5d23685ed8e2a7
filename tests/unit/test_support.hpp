// Shared helpers for the unit tests: JSON literals, training environments
// and plans built from in-memory documents, a temporary directory, and a TCP
// listener on 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "platform/fd.hpp"
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
    const config::ConfigFiles files{json(resource_config), json(input_data_config), json(hyperparameters),
                                    true};
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

/// A TCP socket listening on 127.0.0.1 (or another loopback address) at a
/// port the kernel picks (or the one given). By default it accepts
/// connections on a thread and drops them at once, as a busy sshd would, so
/// its accept queue never fills up; with Accepting::kNever nobody accept()s
/// (the kernel still completes up to `backlog` TCP handshakes: a server that
/// never says a word).
class TcpListener {
 public:
  enum class Accepting { kAndDrop, kNever };
  static constexpr int kDefaultBacklog = 64;

  explicit TcpListener(Accepting accepting = Accepting::kAndDrop, int backlog = kDefaultBacklog,
                       std::uint32_t loopback = INADDR_LOOPBACK, int port = 0)
      : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(loopback);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    socklen_t length = sizeof address;
    // sockaddr_in -> sockaddr is the socket API's own idiom.
    auto* sa = reinterpret_cast<sockaddr*>(&address);
    if (!fd_ || ::bind(fd_.get(), sa, length) != 0 || ::listen(fd_.get(), backlog) != 0 ||
        ::getsockname(fd_.get(), sa, &length) != 0) {
      ADD_FAILURE() << "cannot listen on a loopback address: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(address.sin_port);
    if (accepting == Accepting::kAndDrop) acceptor_ = std::thread([this] { accept_until_stopped(); });
  }
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  ~TcpListener() { close(); }

  [[nodiscard]] int port() const { return port_; }

  /// Stops listening: the port then refuses connections.
  void close() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    fd_.reset();
  }

 private:
  static constexpr int kPollMs = 20;

  void accept_until_stopped() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      const platform::Fd connection(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    }
  }

  platform::Fd fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
};

/// Fills the accept queue of a TcpListener that never accepts (made with
/// backlog 0) at `loopback`:`port`: the kernel then drops further SYNs, as
/// for a blackholed host. Keep the returned connections while it must stay
/// silent.
inline std::vector<platform::Fd> fill_accept_queue(int port, std::uint32_t loopback = INADDR_LOOPBACK) {
  std::vector<platform::Fd> fillers;
  for (int i = 0; i < 4; ++i) {  // backlog 0 still admits one or two
    platform::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(loopback);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    (void)::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
    fillers.push_back(std::move(fd));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{100});  // the handshakes complete
  return fillers;
}

/// A port on 127.0.0.1 that nothing listens on (just now): bound, then
/// released.
inline int unused_port() {
  const TcpListener listener(TcpListener::Accepting::kNever);
  return listener.port();
}

}  // namespace smlaunch::test
