#include "exec/job_output.hpp"

namespace smlaunch::exec {
namespace {

// The display, behind the rank-tag rewrite when there are ranks.
LineSink& shown(LineSink& display, std::unique_ptr<RankTagSink>& tagged, std::optional<RankTagRewriter>& rewriter,
                const std::optional<JobOutput::Ranks>& ranks) {
  if (!ranks) return display;
  rewriter.emplace(ranks->hosts, ranks->slots_per_host);
  tagged = std::make_unique<RankTagSink>(*rewriter, display);
  return *tagged;
}

}  // namespace

JobOutput::JobOutput(LineSink& display, ErrorCapture& capture, const std::optional<Ranks>& ranks)
    : tee_(shown(display, tagged_, rewriter_, ranks), capture),
      out_(Stream::Stdout, tee_),
      err_(Stream::Stderr, tee_) {}

void JobOutput::feed(Stream stream, std::string_view chunk) {
  (stream == Stream::Stdout ? out_ : err_).feed(chunk);
}

void JobOutput::finish() {
  out_.finish();
  err_.finish();
}

}  // namespace smlaunch::exec
