// exec::JobOutput, the whole relay as `train` runs it: the block path (a
// chunk's whole lines handed on at once, rewritten into one buffer, scanned
// for names as one text) gives exactly what the line-by-line path gives, on
// random output cut at random places.
#include "exec/job_output.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exec/error_capture.hpp"
#include "exec/rank_tags.hpp"
#include "exec/relay.hpp"

namespace smlaunch::exec {
namespace {

using Lines = std::vector<std::pair<Stream, std::string>>;

/// The display: every line with its stream, whether it came alone or in a
/// block (then each block must be whole lines).
class Display final : public LineSink {
 public:
  explicit Display(bool takes_blocks) : takes_blocks_(takes_blocks) {}
  void line(Stream stream, std::string_view bytes) override {
    shown.emplace_back(stream, std::string(bytes));
  }
  void lines(Stream stream, std::string_view block) override {
    if (!takes_blocks_) {
      LineSink::lines(stream, block);
      return;
    }
    ++blocks;
    EXPECT_FALSE(block.empty());
    EXPECT_EQ(block.back(), '\n');
    for (std::size_t at = 0; at < block.size();) {
      const std::size_t end = block.find('\n', at) + 1;
      shown.emplace_back(stream, std::string(block.substr(at, end - at)));
      at = end;
    }
  }
  void flush() override { ++flushes; }

  Lines shown;
  int blocks = 0;
  int flushes = 0;

 private:
  bool takes_blocks_;
};

/// Hands on only line() calls: everything after it takes the line path.
class OneLineAtATime final : public LineSink {
 public:
  explicit OneLineAtATime(LineSink& next) : next_(&next) {}
  void line(Stream stream, std::string_view bytes) override { next_->line(stream, bytes); }
  void flush() override { next_->flush(); }

 private:
  LineSink* next_;
};

const std::vector<std::string> kHosts = {"algo-1", "algo-2", "algo-3", "algo-4"};
constexpr std::int64_t kSlots = 4;  // ranks 0..15; 16 and up are beyond the slots

/// Job output that exercises every branch: tags of every form (and broken
/// ones), error names in the text, in tags and at word edges, blank and
/// repeated lines, long lines, bytes that are not UTF-8.
std::string random_output(std::mt19937& rng, std::size_t lines, bool with_names, bool huge_lines) {
  const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  static const std::vector<std::string> kTags = {"[1,0]<stdout>:",
                                                 "[1,7]<stderr>:",
                                                 "[1,15]<stdout>:",
                                                 "[1,16]<stdout>:",
                                                 "[1,007]<stdout>:",
                                                 "[12,3]<stddiag>:",
                                                 "[prterun-host-1234,2]<stdout>: ",
                                                 "[1,mpirank:3,algo-1]<stderr>:",
                                                 "[1,3]<stdout>",
                                                 "[1,3]<stdin>:",
                                                 "[1,]<stdout>:",
                                                 "[,1]<stdout>:",
                                                 "[1,99999999999999999999]<stdout>:",
                                                 "[1,2]<stdo",
                                                 "[ORTE,1]<stdout>:",
                                                 "[1,3]<stderr>:",
                                                 "  [1,3]<stdout>:",
                                                 ""};
  static const std::vector<std::string> kTexts = {"step 812 loss 0.4231 lr 3.0e-04",
                                                  "NCCL INFO Channel 00/02 : 0[0] -> 1[1] via P2P/IPC/read",
                                                  "",
                                                  "   ",
                                                  "\t\r",
                                                  "SUPPORTED features",
                                                  "TFOpError FileNotFoundErrors",
                                                  "same line",
                                                  "same line",
                                                  "\xff\xfe not utf-8 \xc3(",
                                                  "nul \0 byte",
                                                  "crlf\r",
                                                  "chargement des donn\xc3\xa9"
                                                  "es"};
  static const std::vector<std::string> kNames = {"ValueError: bad",
                                                  "  File \"x.py\", line 3, in <module>",
                                                  "Traceback (most recent call last):",
                                                  "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1269",
                                                  "ORTE_ERROR_LOG: x",
                                                  "xValueError",
                                                  "ValueErrorx",
                                                  "InvalidArgumentError: y",
                                                  "MyTrainerError: shard 3",
                                                  "Value",
                                                  "TFOpError is not OpError"};
  std::string out;
  for (std::size_t i = 0; i < lines; ++i) {
    out += kTags[pick(kTags.size())];
    const std::size_t kind = pick(40);
    if (kind == 0) {
      out +=
          std::string(huge_lines && pick(3) == 0 ? 70'000 : 3'000, 'x');  // past the block and capture limits
    } else if (kind < 4 && with_names) {
      out += kNames[pick(kNames.size())];
    } else {
      out += kTexts[pick(kTexts.size())];
      if (pick(3) == 0) out += " " + std::to_string(pick(5));  // some repeats, some not
    }
    out += pick(50) == 0 ? "\r\n" : "\n";
  }
  if (pick(2) == 0) out += "[1,2]<stdout>:no newline at the end";
  return out;
}

/// Cuts `text` into pieces of random sizes (empty ones too).
std::vector<std::string_view> random_chunks(std::mt19937& rng, std::string_view text, std::size_t max_piece) {
  std::uniform_int_distribution<std::size_t> size(0, max_piece);
  std::vector<std::string_view> out;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t n = std::min(size(rng), text.size() - at);
    out.push_back(text.substr(at, n));
    at += n;
  }
  return out;
}

struct Run {
  Lines shown;
  bool triggered = false;
  std::optional<std::string> trigger_name;
  std::string message;
  std::string error_class;
};

/// Both streams' chunks fed alternately, through the block path (JobOutput)
/// or with every sink taking one line at a time.
Run relay(const std::vector<std::string_view>& out_chunks, const std::vector<std::string_view>& err_chunks,
          bool blocks, const std::optional<JobOutput::Ranks>& ranks) {
  Display display(blocks);
  ErrorCapture capture({"MyTrainerError"});
  std::optional<JobOutput> output;
  std::optional<RankTagRewriter> rewriter;
  std::optional<RankTagSink> tags;
  std::optional<TeeSink> tee;
  std::optional<OneLineAtATime> one_by_one;
  std::optional<LineSplitter> out;
  std::optional<LineSplitter> err;
  if (blocks) {
    output.emplace(display, capture, ranks);
  } else {
    LineSink* shown = &display;
    if (ranks) {
      rewriter.emplace(ranks->hosts, ranks->slots_per_host);
      tags.emplace(*rewriter, display);
      shown = &*tags;
    }
    tee.emplace(*shown, capture);
    one_by_one.emplace(*tee);
    out.emplace(Stream::Stdout, *one_by_one);
    err.emplace(Stream::Stderr, *one_by_one);
  }
  const auto feed = [&](Stream stream, std::string_view chunk) {
    if (output) {
      output->feed(stream, chunk);
    } else {
      (stream == Stream::Stdout ? *out : *err).feed(chunk);
    }
  };
  for (std::size_t i = 0; i < std::max(out_chunks.size(), err_chunks.size()); ++i) {
    if (i < out_chunks.size()) feed(Stream::Stdout, out_chunks[i]);
    if (i < err_chunks.size()) feed(Stream::Stderr, err_chunks[i]);
  }
  if (output) {
    output->finish();
  } else {
    out->finish();
    err->finish();
  }
  Run run;
  run.shown = display.shown;
  run.triggered = capture.triggered();
  if (const auto name = capture.trigger_name()) run.trigger_name = std::string(*name);
  run.message = capture.message();
  run.error_class = capture.error_class();
  return run;
}

/// Counts in `triggered` the runs whose capture triggered, so a test can
/// check it saw both cases.
void expect_same_as_line_by_line(unsigned seed, bool with_names, const std::optional<JobOutput::Ranks>& ranks,
                                 int& triggered) {
  std::mt19937 rng(seed);
  const std::size_t max_piece = std::vector<std::size_t>{1, 7, 100, 4096, 200'000}[rng() % 5];
  const bool huge_lines = max_piece >= 4096;  // (byte by byte they only take time)
  const std::string out_text = random_output(rng, 1 + rng() % 300, with_names, huge_lines);
  const std::string err_text = random_output(rng, 1 + rng() % 100, with_names, huge_lines);
  const auto out_chunks = random_chunks(rng, out_text, max_piece);
  const auto err_chunks = random_chunks(rng, err_text, max_piece);
  const Run fast = relay(out_chunks, err_chunks, true, ranks);
  const Run slow = relay(out_chunks, err_chunks, false, ranks);
  ASSERT_EQ(fast.shown.size(), slow.shown.size()) << "seed " << seed;
  for (std::size_t i = 0; i < fast.shown.size(); ++i) {
    ASSERT_EQ(fast.shown[i], slow.shown[i]) << "seed " << seed << ", line " << i;
  }
  EXPECT_EQ(fast.triggered, slow.triggered) << "seed " << seed;
  EXPECT_EQ(fast.trigger_name, slow.trigger_name) << "seed " << seed;
  EXPECT_EQ(fast.message, slow.message) << "seed " << seed;
  EXPECT_EQ(fast.error_class, slow.error_class) << "seed " << seed;
  if (fast.triggered) ++triggered;
}

TEST(JobOutput, BlockPathMatchesLineByLineOnRandomOutputAndChunking) {
  int triggered = 0;
  for (unsigned seed = 1; seed <= 200; ++seed) {
    expect_same_as_line_by_line(seed, seed % 3 != 0, JobOutput::Ranks{kHosts, kSlots}, triggered);
    if (HasFatalFailure()) return;
  }
  // Both paths of the capture were compared: healthy jobs and failed ones.
  EXPECT_GT(triggered, 50);
  EXPECT_LT(triggered, 150);
}

TEST(JobOutput, BlockPathMatchesLineByLineWithoutRankTagRewrite) {
  int triggered = 0;
  for (unsigned seed = 1001; seed <= 1100; ++seed) {
    expect_same_as_line_by_line(seed, seed % 2 == 0, std::nullopt, triggered);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(triggered, 20);
}

TEST(JobOutput, ShowsEveryByteWithTagsRewrittenAndStreamsApart) {
  Display display(true);
  ErrorCapture capture;
  JobOutput output(display, capture, JobOutput::Ranks{kHosts, kSlots});
  output.feed(Stream::Stdout, "[1,5]<stdout>:a\n[1,0]<std");
  output.feed(Stream::Stderr, "[1,1]<stderr>:ValueError: x\nplain\n[1,9]<stderr>:tail");
  output.feed(Stream::Stdout, "out>:b\n\xff\n");
  output.finish();
  const Lines expected = {{Stream::Stdout, "[1,mpirank:5,algo-2]<stdout>:a\n"},
                          {Stream::Stderr, "[1,mpirank:1,algo-1]<stderr>:ValueError: x\n"},
                          {Stream::Stderr, "plain\n"},
                          {Stream::Stdout, "[1,mpirank:0,algo-1]<stdout>:b\n"},
                          {Stream::Stdout, "\xff\n"},
                          {Stream::Stderr, "[1,mpirank:9,algo-3]<stderr>:tail"}};
  EXPECT_EQ(display.shown, expected);
  EXPECT_EQ(capture.message(), "ValueError: x\nplain\ntail");
}

TEST(JobOutput, TheWholeLinesOfAChunkReachTheDisplayAsOneBlock) {
  Display display(true);
  ErrorCapture capture;
  JobOutput output(display, capture, JobOutput::Ranks{kHosts, kSlots});
  std::string chunk;
  for (int i = 0; i < 500; ++i)
    chunk += "[1," + std::to_string(i % 16) + "]<stdout>:step " + std::to_string(i) + "\n";
  output.feed(Stream::Stdout, chunk);
  EXPECT_EQ(display.blocks, 1);
  EXPECT_EQ(display.shown.size(), 500U);
  EXPECT_EQ(display.flushes, 1);
}

}  // namespace
}  // namespace smlaunch::exec
