// The line splitter (D16): whole lines, bytes unchanged, whatever the chunking.
#include "exec/relay.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smlaunch::exec {
namespace {

/// Records every line with its stream, and counts flushes.
class RecordingSink final : public LineSink {
 public:
  void line(Stream stream, std::string_view bytes) override {
    lines.emplace_back(stream, std::string(bytes));
  }
  void flush() override { ++flushes; }

  std::vector<std::pair<Stream, std::string>> lines;
  int flushes = 0;

  [[nodiscard]] std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const auto& [stream, text] : lines) out.push_back(text);
    return out;
  }
};

using Lines = std::vector<std::string>;

/// The lines `input` yields when fed in pieces of the given sizes (the last
/// piece takes the rest), then finished.
Lines split(std::string_view input, const std::vector<std::size_t>& sizes) {
  RecordingSink sink;
  LineSplitter splitter(Stream::Stdout, sink);
  std::size_t at = 0;
  for (const std::size_t n : sizes) {
    if (at >= input.size()) break;
    splitter.feed(input.substr(at, n));
    at += n;
  }
  if (at < input.size()) splitter.feed(input.substr(at));
  splitter.finish();
  return sink.texts();
}

Lines split_whole(std::string_view input) {
  return split(input, {});
}

Lines split_byte_by_byte(std::string_view input) {
  return split(input, std::vector<std::size_t>(input.size(), 1));
}

Lines split_randomly(std::string_view input, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(0, 97);  // 0: an empty read
  std::vector<std::size_t> sizes;
  for (std::size_t total = 0; total < input.size();) {
    sizes.push_back(size(rng));
    total += sizes.back();
  }
  return split(input, sizes);
}

const std::string kTraceback =
    "[1,0]<stderr>:Traceback (most recent call last):\n"
    "[1,0]<stderr>:  File \"/opt/ml/code/train.py\", line 3, in <module>\n"
    "[1,0]<stderr>:    main()\n"
    "\n"
    "[1,0]<stderr>:ValueError: bad\r\n"
    "\xff\xfe not utf-8 \xc3(\n"
    "no newline at the end";

TEST(LineSplit, AnyChunkingOfTheSameInputYieldsTheSameLines) {
  const Lines expected = {"[1,0]<stderr>:Traceback (most recent call last):\n",
                          "[1,0]<stderr>:  File \"/opt/ml/code/train.py\", line 3, in <module>\n",
                          "[1,0]<stderr>:    main()\n",
                          "\n",
                          "[1,0]<stderr>:ValueError: bad\r\n",
                          "\xff\xfe not utf-8 \xc3(\n",
                          "no newline at the end"};
  EXPECT_EQ(split_whole(kTraceback), expected);
  EXPECT_EQ(split_byte_by_byte(kTraceback), expected);
  for (unsigned seed = 1; seed <= 50; ++seed) EXPECT_EQ(split_randomly(kTraceback, seed), expected) << seed;
}

TEST(LineSplit, ConcatenatedLinesReproduceTheInputExactly) {
  std::string input;
  for (int i = 0; i < 2000; ++i) input += std::string(static_cast<std::size_t>(i % 300), 'x') + "\n";
  input += "tail";
  for (const Lines& lines : {split_whole(input), split_byte_by_byte(input), split_randomly(input, 7)}) {
    std::string joined;
    for (const auto& l : lines) joined += l;
    EXPECT_EQ(joined, input);
    EXPECT_EQ(lines.size(), 2001U);
  }
}

TEST(LineSplit, TenMegabyteLineArrivesAsOneLine) {
  const std::string big = std::string(10 * 1024 * 1024, 'a') + "\n";
  std::vector<std::size_t> sizes(big.size() / (64 * 1024) + 1, 64 * 1024);
  const Lines lines = split(big + "next\n", sizes);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], big);
  EXPECT_EQ(lines[1], "next\n");
}

TEST(LineSplit, PendingBufferHoldsOnlyTheUnfinishedLine) {
  RecordingSink sink;
  LineSplitter splitter(Stream::Stdout, sink);
  splitter.feed("one\ntwo\nthr");
  EXPECT_EQ(splitter.pending_bytes(), 3U);
  splitter.feed("ee\n");
  EXPECT_EQ(splitter.pending_bytes(), 0U);
  EXPECT_EQ(sink.texts(), (Lines{"one\n", "two\n", "three\n"}));
}

TEST(LineSplit, InvalidUtf8BytesPassUnchanged) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) {
    if (b != '\n') all_bytes.push_back(static_cast<char>(b));
  }
  all_bytes += "\n";
  EXPECT_EQ(split_whole(all_bytes), Lines{all_bytes});
  EXPECT_EQ(split_byte_by_byte(all_bytes), Lines{all_bytes});
}

TEST(LineSplit, FinalPartialLineIsFlushedWithoutAddingANewline) {
  EXPECT_EQ(split_byte_by_byte("a\nb"), (Lines{"a\n", "b"}));
  EXPECT_EQ(split_whole("only"), Lines{"only"});
}

TEST(LineSplit, NothingIsEmittedForAnEmptyStream) {
  EXPECT_TRUE(split_whole("").empty());
  RecordingSink sink;
  LineSplitter splitter(Stream::Stdout, sink);
  splitter.feed("");
  splitter.finish();
  EXPECT_TRUE(sink.lines.empty());
}

TEST(LineSplit, CrlfIsLeftUntouched) {
  EXPECT_EQ(split_byte_by_byte("a\r\nb\r\n\r"), (Lines{"a\r\n", "b\r\n", "\r"}));
}

TEST(LineSplit, CarriageReturnAloneDoesNotEndALine) {
  EXPECT_EQ(split_whole("10%\r50%\r100%\n"), Lines{"10%\r50%\r100%\n"});
}

TEST(LineSplit, EmptyLinesAreKept) {
  EXPECT_EQ(split_randomly("\n\na\n\n\n", 3), (Lines{"\n", "\n", "a\n", "\n", "\n"}));
}

TEST(LineSplit, LeadingIndentationIsKept) {
  const std::string input = "Traceback (most recent call last):\n  File \"train.py\", line 1\n    x = 1/0\n";
  const Lines expected = {"Traceback (most recent call last):\n", "  File \"train.py\", line 1\n",
                          "    x = 1/0\n"};
  // Chunk edges right before the indentation (where the reference lost it).
  EXPECT_EQ(split(input, {35, 25, 4}), expected);
  EXPECT_EQ(split_byte_by_byte(input), expected);
}

TEST(LineSplit, NulBytesAreOrdinaryBytes) {
  const std::string input("a\0b\n\0", 5);
  EXPECT_EQ(split_byte_by_byte(input), (Lines{std::string("a\0b\n", 4), std::string("\0", 1)}));
}

TEST(LineSplit, SinkIsFlushedAfterEveryChunk) {
  RecordingSink sink;
  LineSplitter splitter(Stream::Stdout, sink);
  splitter.feed("a\nb");
  EXPECT_EQ(sink.flushes, 1);
  splitter.feed("");
  EXPECT_EQ(sink.flushes, 2);
  splitter.finish();
  EXPECT_EQ(sink.flushes, 3);
}

TEST(Relay, EachSplitterKeepsItsStream) {
  RecordingSink sink;
  LineSplitter out(Stream::Stdout, sink);
  LineSplitter err(Stream::Stderr, sink);
  out.feed("o1\no");
  err.feed("e1\ne");
  out.feed("2\n");
  err.feed("2\n");
  out.finish();
  err.finish();
  const std::vector<std::pair<Stream, std::string>> expected = {
      {Stream::Stdout, "o1\n"}, {Stream::Stderr, "e1\n"}, {Stream::Stdout, "o2\n"}, {Stream::Stderr, "e2\n"}};
  EXPECT_EQ(sink.lines, expected);
}

TEST(Relay, TeeSinkForwardsLinesAndFlushesToBothSinks) {
  RecordingSink a;
  RecordingSink b;
  TeeSink tee(a, b);
  LineSplitter splitter(Stream::Stderr, tee);
  splitter.feed("x\ny");
  splitter.finish();
  EXPECT_EQ(a.lines, b.lines);
  EXPECT_EQ(a.texts(), (Lines{"x\n", "y"}));
  EXPECT_EQ(a.flushes, 2);
  EXPECT_EQ(b.flushes, 2);
}

TEST(Relay, StreamNames) {
  EXPECT_EQ(to_string(Stream::Stdout), "stdout");
  EXPECT_EQ(to_string(Stream::Stderr), "stderr");
}

/// Records what arrives as a block and what as a single line.
class BlockSink final : public LineSink {
 public:
  void line(Stream, std::string_view bytes) override { calls.push_back("line:" + std::string(bytes)); }
  void lines(Stream, std::string_view block) override { calls.push_back("lines:" + std::string(block)); }
  std::vector<std::string> calls;
};

TEST(LineSplit, TheWholeLinesOfAChunkArriveAsOneBlock) {
  BlockSink sink;
  LineSplitter splitter(Stream::Stdout, sink);
  splitter.feed("a\nb\nc");    // two whole lines, "c" pending
  splitter.feed("d\ne\nf\n");  // "cd" finished from the pending buffer, then a block
  splitter.feed("g");
  splitter.finish();
  EXPECT_EQ(sink.calls, (Lines{"lines:a\nb\n", "line:cd\n", "lines:e\nf\n", "line:g"}));
}

TEST(LineSplit, DefaultBlockHandlingGivesEachLineInOrder) {
  RecordingSink sink;                                                // overrides line() only
  static_cast<LineSink&>(sink).lines(Stream::Stderr, "x\n\ny\r\n");  // its member `lines` hides it
  EXPECT_EQ(sink.texts(), (Lines{"x\n", "\n", "y\r\n"}));
  EXPECT_EQ(sink.lines[0].first, Stream::Stderr);
}

TEST(Relay, TeeSinkForwardsBlocksToBothSinks) {
  BlockSink a;
  BlockSink b;
  TeeSink tee(a, b);
  tee.lines(Stream::Stdout, "p\nq\n");
  EXPECT_EQ(a.calls, (Lines{"lines:p\nq\n"}));
  EXPECT_EQ(b.calls, a.calls);
}

}  // namespace
}  // namespace smlaunch::exec
