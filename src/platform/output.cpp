#include "platform/output.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace smlaunch::platform {

void ignore_sigpipe() { (void)::signal(SIGPIPE, SIG_IGN); }

void OutputWriter::append(std::string_view bytes) {
  if (broken_) return;
  if (buffer_.size() + bytes.size() > kFlushThreshold) flush();
  if (bytes.size() > kFlushThreshold) {  // a huge line: write it straight through
    buffer_.append(bytes);
    flush();
    return;
  }
  buffer_.append(bytes);
}

bool OutputWriter::flush() {
  std::string_view rest = buffer_;
  while (!rest.empty() && !broken_) {
    const ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      broken_ = true;  // EPIPE, EIO, ...: drop this stream, keep the job
      break;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  buffer_.clear();
  return !broken_;
}

}  // namespace smlaunch::platform
