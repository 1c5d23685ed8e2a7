#include "exec/name_matcher.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <utility>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SMLAUNCH_NAME_SCAN_AVX2 1
#endif

namespace smlaunch::exec {
namespace {

// Offsets tested per step of the filter loop: one bit each in a mask.
constexpr std::size_t kBlock = 16;
// The SIMD filter: buckets (bits of a byte), offsets per step.
constexpr std::size_t kBuckets = 8;
constexpr std::size_t kSimdBlock = 32;

bool is_identifier_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// How often a byte turns up in log text, roughly: what a bucket that
// admits it costs.
double text_weight(unsigned byte) {
  if ((byte >= 'a' && byte <= 'z') || byte == ' ') return 16;
  if (byte >= '0' && byte <= '9') return 8;
  if (byte > ' ' && byte < 0x7f && !(byte >= 'A' && byte <= 'Z')) return 4;  // punctuation
  if (byte >= 'A' && byte <= 'Z') return 2;
  return 1;
}

// Bytes as a set of high nibbles and a set of low nibbles (bit n: nibble n);
// it admits every byte made of one of each.
struct NibbleSet {
  std::uint16_t high = 0;
  std::uint16_t low = 0;
  void add(unsigned byte) {
    high = static_cast<std::uint16_t>(high | 1U << (byte >> 4));
    low = static_cast<std::uint16_t>(low | 1U << (byte & 0xF));
  }
  [[nodiscard]] NibbleSet merged(const NibbleSet& o) const {
    return {static_cast<std::uint16_t>(high | o.high), static_cast<std::uint16_t>(low | o.low)};
  }
  [[nodiscard]] double weight() const {
    double w = 0;
    for (unsigned h = 0; h < 16; ++h) {
      if ((high >> h & 1U) == 0) continue;
      for (unsigned l = 0; l < 16; ++l) {
        if ((low >> l & 1U) != 0) w += text_weight(h << 4 | l);
      }
    }
    return w;
  }
};

// Names sharing a bucket: the nibbles of their first and second bytes.
struct Bucket {
  NibbleSet first;
  NibbleSet second;
  [[nodiscard]] Bucket merged(const Bucket& o) const {
    return {first.merged(o.first), second.merged(o.second)};
  }
  // Proportional to the share of text offsets the bucket lets through.
  [[nodiscard]] double cost() const { return first.weight() * second.weight(); }
};

}  // namespace

NameMatcher::NameMatcher(std::vector<std::string> names, Scan scan) : names_(std::move(names)) {
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
#ifdef SMLAUNCH_NAME_SCAN_AVX2
  if (scan == Scan::Fastest && !names_.empty() && __builtin_cpu_supports("avx2")) {
    build_buckets();
    simd_ = true;
  }
#else
  (void)scan;
#endif
}

void NameMatcher::build_buckets() {
  // One bucket per first byte to start with (exact on the first byte), then
  // the two whose merge adds the least cost are merged until kBuckets are
  // left. Costs of merged pairs are kept, so this is quadratic in the
  // number of distinct first bytes (at most 256), not cubic.
  std::map<unsigned, Bucket> by_first;
  for (const std::string& name : names_) {
    Bucket& b = by_first[static_cast<unsigned char>(name[0])];
    b.first.add(static_cast<unsigned char>(name[0]));
    if (name.size() == 1) {
      b.second = {0xFFFF, 0xFFFF};  // any byte may follow
    } else {
      b.second.add(static_cast<unsigned char>(name[1]));
    }
  }
  std::vector<Bucket> buckets;
  std::vector<double> costs;
  for (const auto& [byte, b] : by_first) {
    buckets.push_back(b);
    costs.push_back(b.cost());
  }
  const std::size_t n = buckets.size();
  std::vector<double> extra(n * n, 0);  // [i * n + j]: what merging i and j adds
  const auto update = [&](std::size_t i, std::size_t j) {
    extra[i * n + j] = extra[j * n + i] = buckets[i].merged(buckets[j]).cost() - costs[i] - costs[j];
  };
  std::vector<bool> alive(n, true);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) update(i, j);
  }
  for (std::size_t left = n; left > kBuckets; --left) {
    std::size_t best_i = 0;
    std::size_t best_j = 0;
    double best = -1;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = i + 1; j < n && alive[i]; ++j) {
        if (alive[j] && (best < 0 || extra[i * n + j] < best)) {
          best = extra[i * n + j];
          best_i = i;
          best_j = j;
        }
      }
    }
    buckets[best_i] = buckets[best_i].merged(buckets[best_j]);
    costs[best_i] = buckets[best_i].cost();
    alive[best_j] = false;
    for (std::size_t k = 0; k < n; ++k) {
      if (alive[k] && k != best_i) update(best_i, k);
    }
  }
  std::size_t bit = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!alive[i]) continue;
    const auto mark = [&](std::size_t table, std::uint16_t nibbles) {
      for (std::size_t v = 0; v < 16; ++v) {
        if ((nibbles >> v & 1U) != 0) nibbles_[table * 16 + v] |= static_cast<std::uint8_t>(1U << bit);
      }
    };
    mark(0, buckets[i].first.low);
    mark(1, buckets[i].first.high);
    mark(2, buckets[i].second.low);
    mark(3, buckets[i].second.high);
    ++bit;
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
  return simd_ ? find_simd(text) : find_from(text, 0);
}

#ifdef SMLAUNCH_NAME_SCAN_AVX2
// The filter, kSimdBlock offsets at a time while a block and the byte after
// it fit; the offsets that pass, in order, through the exact pair filter and
// match_at(); the rest of the text through find_from(). (No lambdas here:
// they would not inherit the target attribute.)
__attribute__((target("avx2"))) std::optional<NameMatch> NameMatcher::find_simd(std::string_view text) const {
  const char* const data = text.data();
  const auto* tables = reinterpret_cast<const __m128i*>(nibbles_.data());
  const __m256i first_low = _mm256_broadcastsi128_si256(_mm_loadu_si128(tables + 0));
  const __m256i first_high = _mm256_broadcastsi128_si256(_mm_loadu_si128(tables + 1));
  const __m256i second_low = _mm256_broadcastsi128_si256(_mm_loadu_si128(tables + 2));
  const __m256i second_high = _mm256_broadcastsi128_si256(_mm_loadu_si128(tables + 3));
  const __m256i low_nibble = _mm256_set1_epi8(0x0F);
  const __m256i zero = _mm256_setzero_si256();
  std::size_t at = 0;
  for (; at + kSimdBlock < text.size(); at += kSimdBlock) {
    const __m256i here = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + at));
    const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + at + 1));
    // The buckets that admit each byte as a first byte, and the next byte
    // as a second one.
    const __m256i first = _mm256_and_si256(
        _mm256_shuffle_epi8(first_low, _mm256_and_si256(here, low_nibble)),
        _mm256_shuffle_epi8(first_high, _mm256_and_si256(_mm256_srli_epi16(here, 4), low_nibble)));
    const __m256i second = _mm256_and_si256(
        _mm256_shuffle_epi8(second_low, _mm256_and_si256(next, low_nibble)),
        _mm256_shuffle_epi8(second_high, _mm256_and_si256(_mm256_srli_epi16(next, 4), low_nibble)));
    auto mask = ~static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(first, second), zero)));
    for (; mask != 0; mask &= mask - 1) {
      const std::size_t offset = at + static_cast<std::size_t>(std::countr_zero(mask));
      if (may_start(data + offset) == 0) continue;
      if (auto match = match_at(text, offset)) return match;
    }
  }
  return find_from(text, at);
}
#else
std::optional<NameMatch> NameMatcher::find_simd(std::string_view text) const {
  return find_from(text, 0);
}
#endif

std::optional<NameMatch> NameMatcher::find_from(std::string_view text, std::size_t at) const {
  const char* const data = text.data();
  const std::size_t pairs = text.size() - 1;  // offsets with a byte after them
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
