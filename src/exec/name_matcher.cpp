#include "exec/name_matcher.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace smlaunch::exec {
namespace {

// Offsets tested per step of the filter loop: one bit each in a mask.
constexpr std::size_t kBlock = 16;

bool is_identifier_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

NameMatcher::NameMatcher(std::vector<std::string> names) : names_(std::move(names)) {
  std::erase_if(names_, [](const std::string& n) { return n.empty(); });
  // By first byte (the bucket), longest first (so the first hit at an
  // offset is the longest), then bytes: independent of the input order.
  std::sort(names_.begin(), names_.end(), [](const std::string& a, const std::string& b) {
    const auto fa = static_cast<unsigned char>(a.front());
    const auto fb = static_cast<unsigned char>(b.front());
    if (fa != fb) return fa < fb;
    if (a.size() != b.size()) return a.size() > b.size();
    return a < b;
  });
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
  std::size_t index = 0;
  for (std::size_t byte = 0; byte < 256; ++byte) {
    bucket_[byte] = static_cast<std::uint32_t>(index);
    while (index < names_.size() && static_cast<unsigned char>(names_[index].front()) == byte) ++index;
  }
  bucket_[256] = static_cast<std::uint32_t>(index);
  const auto set_pair = [&](std::size_t first, std::size_t second) {
    pair_filter_[first | (second << 8)] = 1;
  };
  for (const std::string& name : names_) {
    const auto first = static_cast<unsigned char>(name[0]);
    if (name.size() == 1) {
      for (std::size_t second = 0; second < 256; ++second) set_pair(first, second);
    } else {
      set_pair(first, static_cast<unsigned char>(name[1]));
    }
  }
}

std::optional<NameMatch> NameMatcher::match_at(std::string_view text, std::size_t at) const {
  const char* const data = text.data();
  const auto byte = static_cast<unsigned char>(data[at]);
  // Inside a word: an identifier byte right after another one.
  if (at > 0 && is_identifier_byte(data[at - 1]) && is_identifier_byte(data[at])) return std::nullopt;
  const std::size_t room = text.size() - at;
  for (std::uint32_t k = bucket_[byte]; k < bucket_[byte + 1]; ++k) {
    const std::string& name = names_[k];
    if (name.size() > room) continue;
    if (name.size() > 1 && data[at + 1] != name[1]) continue;  // most candidates end here
    if (std::memcmp(data + at, name.data(), name.size()) != 0) continue;
    const std::size_t end = at + name.size();
    if (end < text.size() && is_identifier_byte(name.back()) && is_identifier_byte(data[end])) continue;
    return NameMatch{at, name};
  }
  return std::nullopt;
}

std::optional<NameMatch> NameMatcher::find(std::string_view text) const {
  if (text.empty()) return std::nullopt;
  const char* const data = text.data();
  const std::size_t pairs = text.size() - 1;  // offsets with a byte after them
  std::size_t at = 0;
  // The filter, kBlock offsets at a time, then the hits in offset order.
  for (; at + kBlock <= pairs; at += kBlock) {
    std::uint8_t any = 0;
    for (std::size_t k = 0; k < kBlock; ++k) any |= may_start(data + at + k);
    if (any == 0) continue;
    for (std::size_t k = 0; k < kBlock; ++k) {
      if (may_start(data + at + k) == 0) continue;
      if (auto match = match_at(text, at + k)) return match;
    }
  }
  for (; at < pairs; ++at) {
    if (!may_start(data + at)) continue;
    if (auto match = match_at(text, at)) return match;
  }
  // The last byte: only a one-byte name can start there (match_at checks).
  return match_at(text, pairs);
}

}  // namespace smlaunch::exec
