// Writing the job's relayed output to smlaunch's own stdout/stderr.
//
// Lines are appended to a per-stream buffer and written out with one
// write() loop per flush, so a line is never interleaved with another
// writer's bytes mid-way (the relay flushes after every chunk it reads, so
// output stays timely: nothing waits for a buffer to fill). A closed stdout
// (EPIPE) or any other write error stops further writes to that stream but
// never the job: losing the terminal must not kill training.
#pragma once

#include <string>
#include <string_view>

namespace smlaunch::platform {

/// Makes a closed stdout/stderr an error value (EPIPE) instead of a
/// process-killing SIGPIPE, for smlaunch itself (children get the default).
void ignore_sigpipe();

class OutputWriter {
 public:
  /// Writes to `fd`, which the caller keeps open (1 or 2 in practice).
  explicit OutputWriter(int fd) : fd_(fd) {}
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;
  ~OutputWriter() { flush(); }

  /// Queues `bytes`; flushes first when the buffer is already large.
  void append(std::string_view bytes);
  /// Writes everything queued. Returns false once the stream is broken.
  bool flush();
  [[nodiscard]] bool broken() const { return broken_; }

 private:
  static constexpr std::size_t kFlushThreshold = 256 * 1024;
  int fd_;
  std::string buffer_;
  bool broken_ = false;
};

}  // namespace smlaunch::platform
