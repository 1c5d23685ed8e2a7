// Fuzzes the output relay (LineSplitter, TeeSink), the rank-tag rewrite and
// the error capture together, through exec::JobOutput as `train` runs them.
//
// Input: one byte of set-up, eight bytes of chunk plan, then the job's bytes.
//   set-up:  bit 0 ranks on/off, bits 1-3 hosts - 1, bits 4-7 slots + 1
//            (slots from -1 to 14: hosts with no slots get no ranks);
//   plan[k % 8] for chunk k: bit 0 the stream, bits 1-7 the chunk length
//            (0: an empty chunk, 127: everything left).
// Checks, per stream: the display gets exactly the lines of a reference
// split of the stream's bytes (nothing lost, nothing invented, no newline
// added); a line differs only by its rewritten tag, which names the host a
// reference placement computes; the error capture never crashes, stays
// within its budget and reports a known class.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exec/error_capture.hpp"
#include "exec/job_output.hpp"
#include "exec/rank_tags.hpp"
#include "exec/relay.hpp"

namespace {

using smlaunch::exec::Stream;

constexpr std::size_t kPlanBytes = 8;
constexpr std::size_t kHeaderBytes = 1 + kPlanBytes;
constexpr std::size_t kRestOfInput = 127;

[[noreturn]] void fail(const char* what, std::string_view a = {}, std::string_view b = {}) {
  std::fprintf(stderr, "job output fuzzer: %s\n  first:  %.*s\n  second: %.*s\n", what,
               static_cast<int>(a.size()), a.data(), static_cast<int>(b.size()), b.data());
  std::abort();
}

// Keeps every line per stream, copied (the views die with the call).
class RecordingSink final : public smlaunch::exec::LineSink {
 public:
  void line(Stream stream, std::string_view bytes) override {
    if (bytes.empty()) fail("an empty line was emitted");
    lines[static_cast<std::size_t>(stream)].emplace_back(bytes);
  }
  std::array<std::vector<std::string>, 2> lines;
};

// The reference split: up to and including each '\n', then the rest.
std::vector<std::string> split_lines(std::string_view bytes) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < bytes.size()) {
    const std::size_t nl = bytes.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? bytes.size() : nl + 1;
    out.emplace_back(bytes.substr(start, end - start));
    start = end;
  }
  return out;
}

// The reference placement: `slots` ranks per host, hosts in order.
std::optional<std::string> host_of(const std::vector<std::string>& hosts, std::int64_t slots, std::int64_t rank) {
  if (slots <= 0 || rank < 0) return std::nullopt;
  const std::int64_t index = rank / slots;
  if (index >= static_cast<std::int64_t>(hosts.size())) return std::nullopt;
  return hosts[static_cast<std::size_t>(index)];
}

// `in` as the display must show it.
std::string expected_line(const std::string& in, const std::optional<smlaunch::exec::JobOutput::Ranks>& ranks) {
  if (!ranks) return in;
  const auto tag = smlaunch::exec::parse_rank_tag(in);
  if (!tag || tag->rewritten) return in;
  const auto host = host_of(ranks->hosts, ranks->slots_per_host, tag->rank);
  if (!host) return in;
  // "[J,R]<s>:" -> "[J,mpirank:R,host]<s>:", every other byte kept.
  const std::size_t rank_end = 1 + tag->job.size() + 1 + tag->rank_text.size();
  return "[" + std::string(tag->job) + ",mpirank:" + std::string(tag->rank_text) + "," + *host +
         in.substr(rank_end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace exec = smlaunch::exec;
  if (size < kHeaderBytes) return 0;
  const std::uint8_t setup = data[0];
  const std::uint8_t* plan = data + 1;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libFuzzer's bytes as text
  const std::string_view job(reinterpret_cast<const char*>(data + kHeaderBytes), size - kHeaderBytes);

  std::optional<exec::JobOutput::Ranks> ranks;
  if ((setup & 1U) != 0) {
    exec::JobOutput::Ranks r;
    const int host_count = ((setup >> 1) & 7) + 1;
    for (int i = 1; i <= host_count; ++i) r.hosts.push_back("algo-" + std::to_string(i));
    r.slots_per_host = static_cast<std::int64_t>(setup >> 4) - 1;
    ranks = r;
  }

  RecordingSink display;
  exec::ErrorCapture capture({"MyCustomError"});
  std::array<std::string, 2> fed;
  {
    exec::JobOutput output(display, capture, ranks);
    std::size_t at = 0;
    for (std::size_t k = 0; at < job.size(); ++k) {
      const std::uint8_t step = plan[k % kPlanBytes];
      const Stream stream = (step & 1U) != 0 ? Stream::Stderr : Stream::Stdout;
      const std::size_t wanted = step >> 1;
      const std::size_t length = wanted == kRestOfInput ? job.size() - at : std::min(wanted, job.size() - at);
      const std::string_view chunk = job.substr(at, length);
      output.feed(stream, chunk);
      fed[static_cast<std::size_t>(stream)].append(chunk);
      at += length;
      if (length == 0) {  // an empty chunk only flushes; then take one byte to move on
        output.feed(stream, job.substr(at, 1));
        fed[static_cast<std::size_t>(stream)].append(job.substr(at, 1));
        ++at;
      }
    }
    output.finish();
  }

  for (const Stream stream : {Stream::Stdout, Stream::Stderr}) {
    const auto s = static_cast<std::size_t>(stream);
    const auto want = split_lines(fed[s]);
    const auto& got = display.lines[s];
    if (want.size() != got.size()) fail("line count differs", fed[s], std::to_string(got.size()));
    for (std::size_t i = 0; i < want.size(); ++i) {
      const std::string expected = expected_line(want[i], ranks);
      if (got[i] != expected) fail("line differs", expected, got[i]);
      if (exec::strip_rank_tag(got[i]) != exec::strip_rank_tag(want[i])) fail("tag strip differs", want[i], got[i]);
    }
  }

  const std::string message = capture.message();
  constexpr std::size_t kSeparators = 2 * (exec::kMaxCapturedLines + exec::kFallbackLines + 2);
  if (message.size() > exec::kCaptureBytes + kSeparators) fail("the captured message is over budget", message);
  const std::string error_class = capture.error_class();
  if (error_class != exec::kDefaultErrorClass && error_class != "MyCustomError") {
    const auto classes = exec::framework_error_classes();
    if (std::find(classes.begin(), classes.end(), error_class) == classes.end()) {
      fail("an unknown error class was reported", error_class);
    }
  }
  if (capture.triggered() != capture.trigger_name().has_value()) fail("triggered() and trigger_name() disagree");
  const int exit_code = static_cast<int>(setup) - 128;
  const int signal = setup % 40;
  (void)exec::summarize_failure(capture, exit_code, signal);
  return 0;
}
