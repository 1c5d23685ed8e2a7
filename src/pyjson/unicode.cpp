// Unicode pieces of Python's str that smlaunch reproduces: upper(), len(),
// isprintable() (for repr) and UTF-8 well-formedness. The tables come from
// CPython 3.11 itself (tools/gen_unicode_tables.py), so results match the
// reference interpreter rather than whatever the C library's locale says.
#include "pyjson/unicode.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <smlaunch/pyvalue.hpp>

namespace smlaunch::py {
namespace {

struct UpperRange {
  char32_t first;
  char32_t last;
  std::int32_t delta;
  std::uint8_t stride;
};

struct UpperSpecial {
  char32_t code_point;
  const char* utf8;
};

struct CodePointRange {
  char32_t first;
  char32_t last;
};

#include "pyjson/unicode_tables.inc"

static_assert(std::is_sorted(std::begin(kUpperRanges), std::end(kUpperRanges),
                             [](const UpperRange& a, const UpperRange& b) { return a.first < b.first; }));
static_assert(std::is_sorted(std::begin(kUpperSpecials), std::end(kUpperSpecials),
                             [](const UpperSpecial& a, const UpperSpecial& b) {
                               return a.code_point < b.code_point;
                             }));
static_assert(std::is_sorted(std::begin(kNonPrintable), std::end(kNonPrintable),
                             [](const CodePointRange& a, const CodePointRange& b) { return a.first < b.first; }));

// The range whose span may hold `cp`: the last one starting at or before it.
// Spans never overlap (the generator guarantees it), so this is the only one.
template <typename Range, std::size_t N>
const Range* candidate_range(const Range (&ranges)[N], char32_t cp) {
  const auto* it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                                    [](char32_t c, const Range& r) { return c < r.first; });
  if (it == std::begin(ranges)) return nullptr;
  const Range* r = std::prev(it);
  return cp <= r->last ? r : nullptr;
}

// Appends str.upper() of one non-ASCII code point.
void append_upper(std::string& out, char32_t cp) {
  const auto* special = std::lower_bound(
      std::begin(kUpperSpecials), std::end(kUpperSpecials), cp,
      [](const UpperSpecial& s, char32_t c) { return s.code_point < c; });
  if (special != std::end(kUpperSpecials) && special->code_point == cp) {
    out += special->utf8;
    return;
  }
  if (const UpperRange* r = candidate_range(kUpperRanges, cp);
      r != nullptr && (cp - r->first) % r->stride == 0) {
    cp = static_cast<char32_t>(static_cast<std::int32_t>(cp) + r->delta);
  }
  detail::append_utf8(out, cp);
}

// Length of a well-formed sequence starting at `bytes[i]`, or 0 if it is not
// one (RFC 3629 / Unicode table 3-7: no overlongs, no surrogates, <= U+10FFFF).
std::size_t valid_sequence_length(std::string_view bytes, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char lead = at(i);
  const std::size_t remaining = bytes.size() - i;
  const auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < remaining && at(i + k) >= lo && at(i + k) <= hi;
  };
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return cont(1) ? 2 : 0;
  if (lead == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if (lead == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (lead >= 0xE1 && lead <= 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (lead == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (lead == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  if (lead >= 0xF1 && lead <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

namespace detail {

std::size_t utf8_error_offset(std::string_view bytes) {
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    // Skip ASCII eight bytes at a time: most input is ASCII, and this keeps a
    // 100 MB document's validation well under the decoding time.
    while (i + 8 <= n) {
      std::uint64_t word = 0;
      std::memcpy(&word, bytes.data() + i, sizeof word);
      if ((word & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    const std::size_t len = valid_sequence_length(bytes, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

bool is_printable(char32_t cp) {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7F;
  return candidate_range(kNonPrintable, cp) == nullptr;
}

}  // namespace detail

std::string upper(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    const char c = utf8[pos];
    if (static_cast<unsigned char>(c) < 0x80) {
      out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
      ++pos;
      continue;
    }
    append_upper(out, detail::next_code_point(utf8, pos));
  }
  return out;
}

std::size_t code_point_length(std::string_view utf8) {
  // Every code point has exactly one byte that is not a continuation byte.
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool is_valid_utf8(std::string_view bytes) {
  return detail::utf8_error_offset(bytes) == std::string_view::npos;
}

}  // namespace smlaunch::py
