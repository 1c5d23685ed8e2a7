#include "platform/spawn.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "platform/subprocess.hpp"

namespace smlaunch::platform {

ExitStatus spawn_and_wait(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& cwd) {
  ExitStatus status;
  if (argv.empty()) {
    status.start_error = "empty command";
    return status;
  }
  std::string path;
  for (const auto& e : env) {
    if (e.starts_with("PATH=")) path = e.substr(5);
  }
  std::string program = argv.front();
  if (program.find('/') == std::string::npos) {
    const auto found = find_executable(program, path);
    if (!found) {
      status.start_error = std::string(std::strerror(ENOENT));
      return status;
    }
    program = *found;
  }

  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));  // NOLINT: exec API
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));  // NOLINT: exec API
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    status.start_error = std::strerror(rc);
    return status;
  }
  status.started = true;
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) break;
  }
  if (WIFEXITED(wstatus)) status.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) status.term_signal = WTERMSIG(wstatus);
  return status;
}

}  // namespace smlaunch::platform
