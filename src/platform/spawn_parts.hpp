// The pieces both ways of starting a child share (the supervised job in
// process.cpp, short helper commands in subprocess.cpp): RAII wrappers for
// posix_spawn's file actions and attributes, argv/envp arrays, executable
// checks, descriptor moves and pidfds. Internal to src/platform/.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "platform/fd.hpp"

namespace smlaunch::platform::spawn_parts {

/// strerror text for `err` (thread-safe GNU strerror_r).
inline std::string error_text(int err) {
  std::array<char, 256> buffer{};
  return ::strerror_r(err, buffer.data(), buffer.size());
}

/// 0 when `path` is a regular file we may execute; else the errno execve
/// would report (ENOENT when missing, EACCES for a directory or no x bit).
inline int check_executable(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return errno == ENOTDIR ? ENOENT : errno;
  if (!S_ISREG(info.st_mode)) return EACCES;
  if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0) return EACCES;
  return 0;
}

/// Moves `fd` to a number above stderr (close-on-exec), so that the dup2
/// onto 0-2 in the child cannot overwrite it. Returns 0 or errno.
inline int move_above_stdio(Fd& fd) {
  if (fd.get() > STDERR_FILENO) return 0;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return errno;
  fd.reset(moved);
  return 0;
}

/// A pidfd for `pid` (readable once it exits; always close-on-exec), or an
/// empty Fd when the kernel does not offer pidfd_open (before 5.3, seccomp).
inline Fd open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return Fd(static_cast<int>(fd));
#else
  (void)pid;
#endif
  return Fd();
}

/// posix_spawn_file_actions_t with its destroy call.
class SpawnActions {
 public:
  SpawnActions() { init_error_ = ::posix_spawn_file_actions_init(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  ~SpawnActions() {
    if (init_error_ == 0) ::posix_spawn_file_actions_destroy(&actions_);
  }
  /// 0, or the error of the first call that failed.
  [[nodiscard]] int error() const { return init_error_ != 0 ? init_error_ : add_error_; }
  void dup2(int fd, int target) {
    if (error() == 0) add_error_ = ::posix_spawn_file_actions_adddup2(&actions_, fd, target);
  }
  void open(int target, const char* path, int flags) {
    if (error() == 0) add_error_ = ::posix_spawn_file_actions_addopen(&actions_, target, path, flags, 0);
  }
  void chdir(const char* path) {
    if (error() == 0) add_error_ = ::posix_spawn_file_actions_addchdir_np(&actions_, path);
  }
  [[nodiscard]] const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_{};
  int init_error_ = 0;
  int add_error_ = 0;
};

/// posix_spawnattr_t for a child: its own process group, an empty signal
/// mask (the supervisor blocks signals), every signal at its default action
/// (an ignored SIGPIPE or SIGCHLD must not be inherited).
class SpawnAttributes {
 public:
  SpawnAttributes() {
    error_ = ::posix_spawnattr_init(&attr_);
    if (error_ != 0) return;
    initialised_ = true;
    sigset_t none;
    sigset_t all;
    ::sigemptyset(&none);
    ::sigfillset(&all);
    const short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (error_ == 0) error_ = ::posix_spawnattr_setflags(&attr_, flags);
    if (error_ == 0) error_ = ::posix_spawnattr_setpgroup(&attr_, 0);
    if (error_ == 0) error_ = ::posix_spawnattr_setsigmask(&attr_, &none);
    if (error_ == 0) error_ = ::posix_spawnattr_setsigdefault(&attr_, &all);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  ~SpawnAttributes() {
    if (initialised_) ::posix_spawnattr_destroy(&attr_);
  }
  [[nodiscard]] int error() const { return error_; }
  [[nodiscard]] const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_{};
  bool initialised_ = false;
  int error_ = 0;
};

/// A NULL-terminated char* array over `strings` (which must outlive it), as
/// exec wants argv and envp.
inline std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));  // NOLINT: exec API
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace smlaunch::platform::spawn_parts
