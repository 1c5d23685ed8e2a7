// An owned file descriptor: closed exactly once, when the owner goes away.
// Move-only, like std::unique_ptr; -1 means "none".
#pragma once

#include <unistd.h>

#include <utility>

namespace smlaunch::platform {

class Fd {
 public:
  Fd() noexcept = default;
  /// Takes ownership of `fd` (which may be -1).
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }

  /// The descriptor, still owned by this object (-1 when none).
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// True when a descriptor is owned.
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  /// Gives the descriptor up without closing it; returns it (or -1).
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  /// Closes the owned descriptor (if any) and takes `fd` instead. close() is
  /// not retried on EINTR: on Linux the descriptor is gone either way, and a
  /// retry could close a descriptor another thread has just been given.
  void reset(int fd = -1) noexcept {
    const int old = std::exchange(fd_, fd);
    if (old >= 0) ::close(old);
  }

 private:
  int fd_ = -1;
};

}  // namespace smlaunch::platform
