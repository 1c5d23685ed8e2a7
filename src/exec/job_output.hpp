// The whole path of a job's output inside smlaunch, in one place so that
// `train` and the relay benchmarks run the same code:
//
//   chunks -> LineSplitter (per stream) -> Tee -> [RankTagSink ->] display
//                                              -> ErrorCapture
//
// The capture gets each line as mpirun wrote it and strips the tag itself,
// so a tag is parsed once for the display and once, cheaply, for capture.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exec/error_capture.hpp"
#include "exec/rank_tags.hpp"
#include "exec/relay.hpp"

namespace smlaunch::exec {

class JobOutput {
 public:
  /// `display` shows the lines (smlaunch's stdout/stderr); `capture` watches
  /// them. With `ranks`, Open MPI tags name each rank's host.
  struct Ranks {
    std::vector<std::string> hosts;
    std::int64_t slots_per_host = 1;
  };
  JobOutput(LineSink& display, ErrorCapture& capture, const std::optional<Ranks>& ranks);
  JobOutput(const JobOutput&) = delete;
  JobOutput& operator=(const JobOutput&) = delete;

  /// A chunk from one of the job's pipes: its complete lines go through and
  /// the display is flushed.
  void feed(Stream stream, std::string_view chunk);
  /// End of both streams: the partial last lines go through.
  void finish();

 private:
  std::optional<RankTagRewriter> rewriter_;
  std::unique_ptr<RankTagSink> tagged_;
  TeeSink tee_;
  LineSplitter out_;
  LineSplitter err_;
};

}  // namespace smlaunch::exec
