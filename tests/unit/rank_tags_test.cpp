// Rank tags (B77, D18): the host of each rank from the real placement, any
// job id, any rank, only the tag at the start of a line.
#include "exec/rank_tags.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "exec/relay.hpp"

namespace smlaunch::exec {
namespace {

std::string rewrite(const RankTagRewriter& rewriter, std::string_view line) {
  std::string scratch;
  return std::string(rewriter.rewrite(line, scratch));
}

const std::vector<std::string> kAlgoHosts = {"algo-1", "algo-2", "algo-3"};

TEST(RankTag, B77_ReferenceExampleWithEightProcessesPerHost) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  EXPECT_EQ(rewrite(rewriter, "[1,10]<stdout>:"), "[1,mpirank:10,algo-2]<stdout>:");
  EXPECT_EQ(rewrite(rewriter, "[1,13]<stdout>:step 1\n"), "[1,mpirank:13,algo-2]<stdout>:step 1\n");
}

TEST(RankTag, StderrTagsAreRewrittenToo) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  EXPECT_EQ(rewrite(rewriter, "[1,0]<stderr>:oops\n"), "[1,mpirank:0,algo-1]<stderr>:oops\n");
  EXPECT_EQ(rewrite(rewriter, "[1,23]<stddiag>:x\n"), "[1,mpirank:23,algo-3]<stddiag>:x\n");
}

TEST(RankTag, MultiDigitJobIdAndRank) {
  const RankTagRewriter rewriter({"a", "b"}, 1024);
  EXPECT_EQ(rewrite(rewriter, "[12,1234]<stdout>:x\n"), "[12,mpirank:1234,b]<stdout>:x\n");
  EXPECT_EQ(rewrite(rewriter, "[12,1023]<stdout>:x\n"), "[12,mpirank:1023,a]<stdout>:x\n");
}

TEST(RankTag, CustomHostNames) {
  const RankTagRewriter rewriter({"node-a.example.internal", "10.0.0.7"}, 2);
  EXPECT_EQ(rewrite(rewriter, "[3,1]<stdout>:x"), "[3,mpirank:1,node-a.example.internal]<stdout>:x");
  EXPECT_EQ(rewrite(rewriter, "[3,2]<stdout>:x"), "[3,mpirank:2,10.0.0.7]<stdout>:x");
}

TEST(RankTag, HeterogeneousSlotsFillHostsInOrder) {
  const RankTagRewriter rewriter(std::vector<HostSlots>{{"big", 3}, {"small", 1}, {"empty", 0}, {"mid", 2}});
  const std::vector<std::string> expected = {"big", "big", "big", "small", "mid", "mid"};
  for (std::int64_t rank = 0; rank < 6; ++rank) {
    const std::string* host = rewriter.host_of(rank);
    ASSERT_NE(host, nullptr) << rank;
    EXPECT_EQ(*host, expected[static_cast<std::size_t>(rank)]) << rank;
  }
  EXPECT_EQ(rewriter.host_of(6), nullptr);
  EXPECT_EQ(rewriter.host_of(-1), nullptr);
}

TEST(RankTag, OnlyTheTagAtTheStartIsRewritten) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  EXPECT_EQ(rewrite(rewriter, "[1,2]<stdout>:saw [1,9]<stderr>: and [1,3]<stdout>:\n"),
            "[1,mpirank:2,algo-1]<stdout>:saw [1,9]<stderr>: and [1,3]<stdout>:\n");
  EXPECT_EQ(rewrite(rewriter, "log: [1,9]<stdout>:not a tag here\n"), "log: [1,9]<stdout>:not a tag here\n");
  EXPECT_EQ(rewrite(rewriter, " [1,9]<stdout>:indented\n"), " [1,9]<stdout>:indented\n");
}

TEST(RankTag, LinesWithoutATagPassUnchanged) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  for (const std::string_view line :
       {"plain\n", "", "[\n", "[1,]<stdout>:x", "[,1]<stdout>:x", "[1,2]<stdin>:x", "[1,2]<stdout>x",
        "[1,2]stdout:x", "[1,x]<stdout>:x", "[1 ,2]<stdout>:x", "[1,2] <stdout>:x", "[WARN] disk\n"}) {
    std::string scratch;
    const std::string_view out = rewriter.rewrite(line, scratch);
    EXPECT_EQ(out, line);
    EXPECT_EQ(out.data(), line.data()) << "a line without a tag is not copied: " << line;
  }
}

TEST(RankTag, RankBeyondTheSlotsKeepsItsTag) {
  const RankTagRewriter rewriter(kAlgoHosts, 2);
  EXPECT_EQ(rewrite(rewriter, "[1,6]<stdout>:x\n"), "[1,6]<stdout>:x\n");
}

TEST(RankTag, OpenMpi5SpaceAfterTheColonIsKept) {
  // PMIx prints "[%s,%s]<%s>: " (openpmix src/common/pmix_iof.c).
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  EXPECT_EQ(rewrite(rewriter, "[1,9]<stdout>: hello\n"), "[1,mpirank:9,algo-2]<stdout>: hello\n");
}

TEST(RankTag, PmixNamespaceJobIdIsAccepted) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  EXPECT_EQ(rewrite(rewriter, "[prterun-algo-1-4242,0]<stderr>: x\n"),
            "[prterun-algo-1-4242,mpirank:0,algo-1]<stderr>: x\n");
}

TEST(RankTag, RewrittenLineIsNotRewrittenAgain) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  const std::string once = rewrite(rewriter, "[1,10]<stdout>:x\n");
  EXPECT_EQ(rewrite(rewriter, once), once);
}

TEST(RankTag, BytesAfterTheTagAreUnchanged) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  const std::string body("\xff\xfe\0 \r\n", 6);
  EXPECT_EQ(rewrite(rewriter, "[1,1]<stdout>:" + body), "[1,mpirank:1,algo-1]<stdout>:" + body);
}

TEST(RankTag, FewerProcessesThanSlotsStillFillHostsInOrder) {
  // -np 3 over algo-1:2,algo-2:2,algo-3:2 puts ranks 0,1 on algo-1 and 2 on algo-2.
  const RankTagRewriter rewriter(kAlgoHosts, 2);
  EXPECT_EQ(*rewriter.host_of(1), "algo-1");
  EXPECT_EQ(*rewriter.host_of(2), "algo-2");
}

TEST(RankTag, ParseReportsTheTagParts) {
  const auto tag = parse_rank_tag("[7,42]<stderr>: boom");
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->job, "7");
  EXPECT_EQ(tag->rank, 42);
  EXPECT_EQ(tag->rank_text, "42");
  EXPECT_EQ(tag->stream, "stderr");
  EXPECT_FALSE(tag->rewritten);
  EXPECT_EQ(tag->size, std::string_view("[7,42]<stderr>:").size());

  const auto rewritten = parse_rank_tag("[7,mpirank:42,algo-6]<stdout>:x");
  ASSERT_TRUE(rewritten);
  EXPECT_TRUE(rewritten->rewritten);
  EXPECT_EQ(rewritten->host, "algo-6");
  EXPECT_EQ(rewritten->rank, 42);
}

TEST(RankTag, StripRemovesTheTagForAnyRank) {
  EXPECT_EQ(strip_rank_tag("[1,12]<stderr>:ValueError: x"), "ValueError: x");
  EXPECT_EQ(strip_rank_tag("[123,98765]<stdout>:ok"), "ok");
  EXPECT_EQ(strip_rank_tag("[1,mpirank:12,algo-2]<stderr>:ValueError: x"), "ValueError: x");
  EXPECT_EQ(strip_rank_tag("no tag"), "no tag");
}

TEST(RankTag, OverlongRankIsNotATag) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  const std::string line = "[1," + std::string(40, '9') + "]<stdout>:x";
  EXPECT_EQ(rewrite(rewriter, line), line);
}

/// Collects lines.
class Collect final : public LineSink {
 public:
  void line(Stream stream, std::string_view bytes) override {
    streams.push_back(stream);
    lines.emplace_back(bytes);
  }
  void flush() override { ++flushes; }
  std::vector<Stream> streams;
  std::vector<std::string> lines;
  int flushes = 0;
};

TEST(RankTagSink, RewritesEachLineOfASplitStream) {
  const RankTagRewriter rewriter(kAlgoHosts, 8);
  Collect out;
  RankTagSink tags(rewriter, out);
  LineSplitter splitter(Stream::Stderr, tags);
  // A tag cut across reads is still rewritten (D16).
  splitter.feed("[1,1");
  splitter.feed("7]<stderr>:a\n[1,3]<std");
  splitter.feed("err>:b\n");
  splitter.finish();
  EXPECT_EQ(out.lines, (std::vector<std::string>{"[1,mpirank:17,algo-3]<stderr>:a\n",
                                                 "[1,mpirank:3,algo-1]<stderr>:b\n"}));
  EXPECT_EQ(out.streams, (std::vector<Stream>{Stream::Stderr, Stream::Stderr}));
  EXPECT_EQ(out.flushes, 4);
}

/// The tag grammar of rank_tags.hpp as a regular expression: what both the
/// common-shape fast path and the general parser must agree with.
std::optional<RankTag> reference_parse(const std::string& line) {
  static const std::regex tag(
      R"(^\[([A-Za-z0-9_.-]{1,255}),(?:mpirank:([0-9]{1,18}),([^\x00-\x20\[\],\x7f]{1,255})|([0-9]{1,18}))\]<(stdout|stderr|stddiag)>:)");
  std::smatch m;
  if (!std::regex_search(line, m, tag)) return std::nullopt;
  RankTag t;
  const std::string_view view(line);
  const auto part = [&](int i) {
    return view.substr(static_cast<std::size_t>(m.position(i)), static_cast<std::size_t>(m.length(i)));
  };
  t.job = part(1);
  t.rewritten = m[2].matched;
  t.rank_text = t.rewritten ? part(2) : part(4);
  if (t.rewritten) t.host = part(3);
  t.stream = part(5);
  t.size = static_cast<std::size_t>(m.length(0));
  return t;
}

TEST(RankTag, ParserAgreesWithTheReferenceGrammarOnRandomLines) {
  // Tag-shaped lines built from pieces, so that both the common shape and
  // every way of missing it occur often.
  const std::vector<std::string> pieces = {"[",
                                           "[",
                                           "1",
                                           "12",
                                           "0",
                                           "007",
                                           ",",
                                           ",",
                                           "3",
                                           "63",
                                           "99999999999999999999",
                                           "]",
                                           "<",
                                           "]<",
                                           "stdout",
                                           "stderr",
                                           "stddiag",
                                           "stdin",
                                           "std",
                                           ">:",
                                           ">",
                                           ":",
                                           " ",
                                           "mpirank:",
                                           "algo-1",
                                           "a.b",
                                           "x",
                                           "\xC3\xA9",
                                           std::string(1, '\0'),
                                           "\n",
                                           "prterun-host-1234",
                                           "@",
                                           "[1,5]<stdout>:",
                                           "[1,5]<stderr>:"};
  std::mt19937 rng(5);
  for (int round = 0; round < 40000; ++round) {
    std::string line;
    for (int i = static_cast<int>(rng() % 12); i > 0; --i) line += pieces[rng() % pieces.size()];
    const auto want = reference_parse(line);
    const auto got = parse_rank_tag(line);
    ASSERT_EQ(got.has_value(), want.has_value()) << "line: " << line;
    if (!got) continue;
    EXPECT_EQ(got->job, want->job) << line;
    EXPECT_EQ(got->rank_text, want->rank_text) << line;
    EXPECT_EQ(got->rank, std::stoll(std::string(want->rank_text))) << line;
    EXPECT_EQ(got->stream, want->stream) << line;
    EXPECT_EQ(got->host, want->host) << line;
    EXPECT_EQ(got->rewritten, want->rewritten) << line;
    EXPECT_EQ(got->size, want->size) << line;
    if (::testing::Test::HasFailure()) return;
  }
}

/// Takes blocks whole, as the display does.
class CollectBlocks final : public LineSink {
 public:
  void line(Stream, std::string_view bytes) override { text += bytes; }
  void lines(Stream, std::string_view block) override {
    ++blocks;
    EXPECT_EQ(block.back(), '\n');
    text += block;
  }
  std::string text;
  int blocks = 0;
};

TEST(RankTagSink, BlockRewriteMatchesRewriteOfEachLine) {
  // Ranks printed with leading zeros, beyond the prepared ones and beyond
  // the slots take the general path; the rest the prepared text.
  const RankTagRewriter rewriter({"h1", "a-much-longer-host-name.example.internal"}, 100'000);
  const std::vector<std::string> lines = {"[1,0]<stdout>:a\n",
                                          "[1,007]<stdout>:b\n",
                                          "[1,99999]<stderr>:c\n",
                                          "[1,100000]<stdout>:d\n",
                                          "[1,199999]<stdout>:e\n",
                                          "[1,200000]<stdout>:beyond\n",
                                          "[1,3]<stddiag>:f\n",
                                          "[1,mpirank:3,h1]<stdout>:g\n",
                                          "no tag\n",
                                          "\n",
                                          "[1,5]<stdout>: open mpi 5\n"};
  std::mt19937 rng(11);
  std::string block;
  std::string want;
  for (int i = 0; i < 20000; ++i) {
    const std::string& line = lines[rng() % lines.size()];
    block += line;
    want += rewrite(rewriter, line);
  }
  CollectBlocks out;
  RankTagSink tags(rewriter, out);
  tags.lines(Stream::Stdout, block);
  EXPECT_EQ(out.text, want);
  // Handed on in pieces of about kBlockBytes, whole lines each.
  EXPECT_GT(out.blocks, static_cast<int>(want.size() / RankTagSink::kBlockBytes) - 1);
}

}  // namespace
}  // namespace smlaunch::exec
