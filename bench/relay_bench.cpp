// The output relay in memory: how fast lines are split and their rank tags
// rewritten, and what the error capture costs once a job has failed.
//
//   BM_RelayRewrite         100 MB of tagged lines from 64 ranks, fed in 64 KiB
//                           chunks through LineSplitter -> RankTagSink -> a
//                           sink that only counts (bytes/s).
//   BM_RelayRewriteCapture  the same through exec::JobOutput, the path `train`
//                           runs: each line shown and scanned for error names.
//   BM_ErrorPath/N          one error, then N lines from 64 ranks (a quarter of
//                           them repeats) through the capture, then the failure
//                           message; time per line should not grow with N.
//
// The same relay as a process through a real pipe, against cat, with peak
// RSS: bench/relay_process.py (which also reports BM_ErrorPath from here).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "exec/error_capture.hpp"
#include "exec/job_output.hpp"
#include "exec/rank_tags.hpp"
#include "exec/relay.hpp"

namespace {

using smlaunch::exec::ErrorCapture;
using smlaunch::exec::JobOutput;
using smlaunch::exec::LineSink;
using smlaunch::exec::LineSplitter;
using smlaunch::exec::RankTagRewriter;
using smlaunch::exec::RankTagSink;
using smlaunch::exec::Stream;

constexpr std::size_t kInputBytes = 100 * 1024 * 1024;
constexpr std::size_t kChunkBytes = 64 * 1024;
constexpr int kRanks = 64;
constexpr int kProcessesPerHost = 8;

/// Counts what reaches it, so nothing is optimised away.
class CountingSink final : public LineSink {
 public:
  void line(Stream, std::string_view bytes) override { bytes_ += bytes.size(); }
  // As the display does (run.cpp's StdioSink): the block's bytes at once.
  void lines(Stream, std::string_view block) override { bytes_ += block.size(); }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_ = 0;
};

std::vector<std::string> hosts() {
  std::vector<std::string> out;
  for (int i = 1; i <= kRanks / kProcessesPerHost; ++i) out.push_back("algo-" + std::to_string(i));
  return out;
}

/// ~100 MB of training-log-like lines, each tagged by one of 64 ranks.
const std::string& tagged_input() {
  static const std::string input = [] {
    std::string s;
    s.reserve(kInputBytes + 256);
    for (std::size_t i = 0; s.size() < kInputBytes; ++i) {
      const int rank = static_cast<int>(i % kRanks);
      s += "[1," + std::to_string(rank) + "]<stdout>:";
      s += i % 7 == 0 ? "NCCL INFO Channel 00/02 : 0[0] -> 1[1] via P2P/IPC/read\n"
                      : "step " + std::to_string(i) + " loss 0.4231 lr 3.0e-04 throughput 812.5 samples/s\n";
    }
    return s;
  }();
  return input;
}

void feed_in_chunks(LineSplitter& splitter, std::string_view input) {
  for (std::size_t at = 0; at < input.size(); at += kChunkBytes) splitter.feed(input.substr(at, kChunkBytes));
  splitter.finish();
}

void feed_in_chunks(JobOutput& output, Stream stream, std::string_view input) {
  for (std::size_t at = 0; at < input.size(); at += kChunkBytes)
    output.feed(stream, input.substr(at, kChunkBytes));
  output.finish();
}

void BM_RelayRewrite(benchmark::State& state) {
  const std::string& input = tagged_input();
  const RankTagRewriter rewriter(hosts(), kProcessesPerHost);
  for (auto _ : state) {
    CountingSink out;
    RankTagSink tags(rewriter, out);
    LineSplitter splitter(Stream::Stdout, tags);
    feed_in_chunks(splitter, input);
    benchmark::DoNotOptimize(out.bytes());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(input.size()));
}
BENCHMARK(BM_RelayRewrite)->Unit(benchmark::kMillisecond);

void BM_RelayRewriteCapture(benchmark::State& state) {
  const std::string& input = tagged_input();
  for (auto _ : state) {
    CountingSink out;
    ErrorCapture capture;
    JobOutput output(out, capture, JobOutput::Ranks{hosts(), kProcessesPerHost});
    feed_in_chunks(output, Stream::Stdout, input);
    benchmark::DoNotOptimize(out.bytes());
    benchmark::DoNotOptimize(capture.triggered());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(input.size()));
}
BENCHMARK(BM_RelayRewriteCapture)->Unit(benchmark::kMillisecond);

/// The error, then `count` lines: distinct ones, with every fourth line a
/// repeat of an earlier one (the same message from another rank).
std::string error_output(std::int64_t count) {
  std::string s =
      "[1,3]<stderr>:Traceback (most recent call last):\n"
      "[1,3]<stderr>:RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1269, unhandled system error\n";
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t id = i % 4 == 3 ? i / 2 : i;
    s += "[1," + std::to_string(i % kRanks) +
         "]<stderr>:  File \"/opt/conda/lib/python3.10/site-packages/torch/"
         "distributed/distributed_c10d.py\", line " +
         std::to_string(id) + ", in all_reduce\n";
  }
  return s;
}

void BM_ErrorPath(benchmark::State& state) {
  const std::string input = error_output(state.range(0));
  for (auto _ : state) {
    CountingSink out;
    ErrorCapture capture;
    JobOutput output(out, capture, JobOutput::Ranks{hosts(), kProcessesPerHost});
    feed_in_chunks(output, Stream::Stderr, input);
    const auto summary = smlaunch::exec::summarize_failure(capture, 1, 0);
    benchmark::DoNotOptimize(summary.message.data());
  }
  state.SetComplexityN(state.range(0));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(input.size()));
}
BENCHMARK(BM_ErrorPath)->Arg(10'000)->Arg(20'000)->Arg(40'000)->Arg(80'000)->Complexity(benchmark::oN);

}  // namespace

BENCHMARK_MAIN();
