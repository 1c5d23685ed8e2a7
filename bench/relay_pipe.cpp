// The output relay as a process: stdin -> exec::JobOutput, the path
// app/run.cpp runs for an mpi job -> stdout, for bench/relay_process.py to
// time through a real pipe.
//
// Everything read arrives as the job's stdout (a pipe has one stream; the
// `<stderr>` tags inside it are just bytes here). Reads are 64 KiB, as the
// supervisor's (platform/subprocess.cpp), and every chunk is flushed, as
// run.cpp's relay does. The placement is 8 hosts x 8 slots (64 ranks). At
// the end, whether the capture triggered goes to stderr, so a run shows that
// the capture really watched the stream.
//
// Usage: smlaunch_relay_pipe [--read-bytes N] [--pipe-bytes N] < tagged-output > /dev/null
//   --read-bytes N  read N bytes at a time instead of 64 KiB
//   --pipe-bytes N  first grow the stdin pipe to N bytes (F_SETPIPE_SZ)
// (both only to measure what a larger pipe and larger reads in the
// supervisor would give; without them this runs what `train` runs).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "exec/error_capture.hpp"
#include "exec/job_output.hpp"
#include "exec/relay.hpp"
#include "platform/output.hpp"

namespace {

using smlaunch::exec::Stream;

constexpr std::size_t kReadChunkBytes = 64 * 1024;
constexpr int kHosts = 8;
constexpr int kProcessesPerHost = 8;

/// run.cpp's StdioSink: the job's streams to our own stdout and stderr,
/// a block of whole lines appended at once (lines()).
class StdioSink final : public smlaunch::exec::LineSink {
 public:
  void line(Stream stream, std::string_view bytes) override {
    (stream == Stream::Stdout ? out_ : err_).append(bytes);
  }
  void lines(Stream stream, std::string_view block) override {
    (stream == Stream::Stdout ? out_ : err_).append(block);
  }
  void flush() override {
    out_.flush();
    err_.flush();
  }

 private:
  smlaunch::platform::OutputWriter out_{1};
  smlaunch::platform::OutputWriter err_{2};
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t read_bytes = kReadChunkBytes;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    const auto value = static_cast<std::size_t>(std::strtoull(argv[i + 1], nullptr, 10));
    if (option == "--read-bytes" && value > 0) {
      read_bytes = value;
    } else if (option == "--pipe-bytes") {
      if (::fcntl(0, F_SETPIPE_SZ, static_cast<int>(value)) < 0) std::perror("F_SETPIPE_SZ");
    } else {
      std::fprintf(stderr, "usage: smlaunch_relay_pipe [--read-bytes N] [--pipe-bytes N]\n");
      return 2;
    }
  }
  smlaunch::platform::ignore_sigpipe();
  std::vector<std::string> hosts;
  for (int i = 1; i <= kHosts; ++i) hosts.push_back("algo-" + std::to_string(i));
  StdioSink stdio;
  smlaunch::exec::ErrorCapture capture;
  smlaunch::exec::JobOutput output(stdio, capture,
                                   smlaunch::exec::JobOutput::Ranks{hosts, kProcessesPerHost});

  std::vector<char> buffer(read_bytes);
  for (;;) {
    const ssize_t got = ::read(0, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output.feed(Stream::Stdout, std::string_view(buffer.data(), static_cast<std::size_t>(got)));
  }
  output.finish();
  std::fprintf(stderr, "capture triggered: %s\n", capture.triggered() ? "yes" : "no");
  return 0;
}
