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

void expect_same(const NameMatcher& matcher, const std::vector<std::string>& names, std::string_view text) {
  const auto fast = matcher.find(text);
  const auto slow = naive_find(names, text);
  ASSERT_EQ(fast.has_value(), slow.has_value()) << "text: " << text;
  if (!fast) return;
  EXPECT_EQ(fast->offset, slow->offset) << "text: " << text;
  EXPECT_EQ(fast->name, slow->name) << "text: " << text;
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
    expect_same(matcher, names, text);
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
    for (int line = 0; line < 200; ++line) {
      expect_same(matcher, names, random_string(70));
      if (::testing::Test::HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace smlaunch::exec
