// NameMatcher: the pair-filtered scan gives the naive scan's answer.
#include "exec/name_matcher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "exec/error_capture.hpp"

namespace smlaunch::exec {
namespace {

bool identifier(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/// The definition, spelled out: every offset in order, every name longest
/// first, the word-boundary rule at both ends.
std::optional<NameMatch> naive_find(std::vector<std::string> names, std::string_view text) {
  std::erase_if(names, [](const std::string& n) { return n.empty(); });
  std::stable_sort(names.begin(), names.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (std::size_t at = 0; at < text.size(); ++at) {
    for (const auto& name : names) {
      if (text.substr(at, name.size()) != name) continue;
      if (at > 0 && identifier(name.front()) && identifier(text[at - 1])) continue;
      const std::size_t end = at + name.size();
      if (end < text.size() && identifier(name.back()) && identifier(text[end])) continue;
      return NameMatch{at, text.substr(at, name.size())};
    }
  }
  return std::nullopt;
}

std::vector<std::string> trigger_names() {
  std::vector<std::string> out;
  for (const auto list :
       {python_error_names(), mpi_error_names(), extra_trigger_names(), framework_error_classes()})
    out.insert(out.end(), list.begin(), list.end());
  return out;
}

/// Both scans (the SIMD one where the CPU has it, and the portable one)
/// against one naive scan.
void expect_both_same(const NameMatcher& fastest, const NameMatcher& portable,
                      const std::vector<std::string>& names, std::string_view text) {
  const auto slow = naive_find(names, text);
  for (const NameMatcher* matcher : {&fastest, &portable}) {
    const auto fast = matcher->find(text);
    ASSERT_EQ(fast.has_value(), slow.has_value())
        << (matcher == &portable ? "portable" : "fastest") << ", text: " << text;
    if (!fast) continue;
    EXPECT_EQ(fast->offset, slow->offset) << "text: " << text;
    EXPECT_EQ(fast->name, slow->name) << "text: " << text;
  }
}

TEST(NameMatcher, FindsTheEarliestNameAtWordBoundaries) {
  const NameMatcher matcher({"ValueError", "Error", "mpirun.real", "[FATAL]"});
  const auto simple = matcher.find("x ValueError");
  ASSERT_TRUE(simple);
  EXPECT_EQ(simple->offset, 2U);
  EXPECT_EQ(simple->name, "ValueError");
  const auto m = matcher.find("a Error then ValueError");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->offset, 2U);
  EXPECT_EQ(m->name, "Error");
  EXPECT_FALSE(matcher.find("ValueErrors MyError mpirun.realx"));
  const auto dotted = matcher.find("/usr/bin/mpirun.real: noticed");
  ASSERT_TRUE(dotted);
  EXPECT_EQ(dotted->name, "mpirun.real");
  // A name that starts and ends with punctuation needs no boundary.
  const auto bracket = matcher.find("x[FATAL]y");
  ASSERT_TRUE(bracket);
  EXPECT_EQ(bracket->offset, 1U);
}

TEST(NameMatcher, EmptyAndDuplicateNamesAreIgnored) {
  const NameMatcher matcher({"", "A", "A"});
  EXPECT_FALSE(matcher.find(""));
  ASSERT_TRUE(matcher.find("A"));
  EXPECT_EQ(matcher.find("A")->offset, 0U);
}

TEST(NameMatcher, OneByteNameIsFoundAtTheLastByte) {
  const NameMatcher matcher({"!", "Q"});
  for (std::size_t length = 1; length < 40; ++length) {
    const std::string text = std::string(length - 1, '.') + "Q";
    const auto m = matcher.find(text);
    ASSERT_TRUE(m) << length;
    EXPECT_EQ(m->offset, length - 1);
  }
  EXPECT_FALSE(matcher.find("xQ"));  // inside a word
  EXPECT_EQ(matcher.find("ab!")->offset, 2U);
}

TEST(NameMatcher, NamesAreFoundAtEveryOffsetAndAcrossBlockEdges) {
  const NameMatcher matcher({"ValueError", "ORTE"});
  for (std::size_t at = 0; at < 70; ++at) {
    for (const std::string name : {"ValueError", "ORTE"}) {
      const std::string text = std::string(at, ' ') + name + std::string(at % 3, ':');
      const auto m = matcher.find(text);
      ASSERT_TRUE(m) << at << " " << name;
      EXPECT_EQ(m->offset, at);
      EXPECT_EQ(m->name, name);
    }
  }
}

TEST(NameMatcher, BytesAboveAsciiAndNulAreOrdinaryBytes) {
  const NameMatcher matcher({"\xC3\xA9t\xC3\xA9", std::string("a\0b", 3), "\xFF"});
  EXPECT_EQ(matcher.find("caf\xC3\xA9t\xC3\xA9!")->offset, 3U);
  EXPECT_EQ(matcher.find(std::string_view("xx a\0b", 6))->offset, 3U);
  EXPECT_EQ(matcher.find("abc\xFF")->offset, 3U);
}

TEST(NameMatcher, MatchesTheNaiveScanOnTheTriggerNames) {
  const std::vector<std::string> names = trigger_names();
  const NameMatcher matcher(names);
  const NameMatcher portable(names, NameMatcher::Scan::Portable);
  // Lines built from name fragments, near misses and log noise.
  std::vector<std::string> pieces = {
      " ",      "  ", ".",  ":",        "_",  "x",  "9",  "\t", "step", "Err",   "Erro", "Error",
      "Errors", "TF", "My", "\xC3\xA9", "OR", "TE", "PR", "mp", "irun", ".real", "nccl", "[1,3]<stderr>:"};
  for (const auto& n : names) {
    pieces.push_back(n);
    pieces.push_back(n.substr(0, n.size() / 2));
    pieces.push_back(n.substr(n.size() / 2));
  }
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<std::size_t> piece(0, pieces.size() - 1);
  std::uniform_int_distribution<int> count(0, 24);
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    for (int i = count(rng); i > 0; --i) text += pieces[piece(rng)];
    expect_both_same(matcher, portable, names, text);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(NameMatcher, MatchesTheNaiveScanOnRandomNamesAndBytes) {
  // A small alphabet so that names occur, overlap and nest often; names of
  // one to five bytes, some starting or ending with punctuation.
  const std::string alphabet = "aAb_. \n:\x80\xFF";
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> letter(0, alphabet.size() - 1);
  const auto random_string = [&](std::size_t max_length) {
    std::string s(std::uniform_int_distribution<std::size_t>(0, max_length)(rng), ' ');
    for (char& c : s) c = alphabet[letter(rng)];
    return s;
  };
  for (int set = 0; set < 300; ++set) {
    std::vector<std::string> names(std::uniform_int_distribution<int>(0, 8)(rng));
    for (auto& n : names) n = random_string(5);
    const NameMatcher matcher(names);
    const NameMatcher portable(names, NameMatcher::Scan::Portable);
    for (int line = 0; line < 200; ++line) {
      const std::string text = random_string(70);
      expect_both_same(matcher, portable, names, text);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(NameMatcher, BothScansMatchTheNaiveScanOnLongLogText) {
  // Blocks of log text many SIMD steps long, with names (and near misses)
  // at random offsets, including the last bytes and block edges.
  std::vector<std::string> names = trigger_names();
  names.push_back("Q");  // a one-byte name: its bucket admits any next byte
  const NameMatcher fastest(names);
  const NameMatcher portable(names, NameMatcher::Scan::Portable);
  const std::string noise =
      "[1,3]<stdout>:step 812 epoch 1 loss 0.4231 lr 3.0e-04 NCCL INFO Channel 00/32 : 3[3] -> 4[4] via P2P\n"
      "[1,7]<stderr>:/opt/conda/lib/python3.10/site-packages/torch/nn/modules/module.py:1501: UserWarning: "
      "x\n";
  const std::vector<std::string> inserts = {"ValueError", "xValueError", "ValueErrors", "ORTE",
                                            "SUPPORTED",  "mpirun.real", "Q",           "aQ",
                                            "Q_",         "\xC3\xA9",    "NCCL error"};
  std::mt19937 rng(99);
  for (int round = 0; round < 600; ++round) {
    std::string text;
    const std::size_t length = std::uniform_int_distribution<std::size_t>(0, 1500)(rng);
    while (text.size() < length) text += noise.substr(rng() % noise.size(), rng() % 64);
    if (rng() % 4 != 0 && !text.empty()) {
      const std::string& insert = inserts[rng() % inserts.size()];
      text.insert(rng() % (text.size() + 1), insert);
    }
    expect_both_same(fastest, portable, names, text);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace smlaunch::exec
