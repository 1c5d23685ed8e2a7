// UTF-8 helpers shared by the pyjson sources (decode, format, unicode).
// Private to src/pyjson: the public surface is include/smlaunch/pyvalue.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smlaunch::py::detail {

/// The byte offset of the first ill-formed UTF-8 sequence in `bytes`, or
/// std::string_view::npos when it is all well formed. The decoder reports
/// where the input went wrong, not only that it did.
[[nodiscard]] std::size_t utf8_error_offset(std::string_view bytes);

/// Python's str.isprintable() for one code point (what repr() leaves alone).
[[nodiscard]] bool is_printable(char32_t cp);

/// Decodes the code point starting at `pos` of well-formed UTF-8 and moves
/// `pos` past it. Callers have validated the text, so no checks here.
[[nodiscard]] inline char32_t next_code_point(std::string_view utf8, std::size_t& pos) {
  const auto byte = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(utf8[i])); };
  const char32_t lead = byte(pos);
  if (lead < 0x80) {
    pos += 1;
    return lead;
  }
  if (lead < 0xE0) {
    const char32_t cp = ((lead & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
    pos += 2;
    return cp;
  }
  if (lead < 0xF0) {
    const char32_t cp = ((lead & 0x0F) << 12) | ((byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F);
    pos += 3;
    return cp;
  }
  const char32_t cp = ((lead & 0x07) << 18) | ((byte(pos + 1) & 0x3F) << 12) |
                      ((byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
  pos += 4;
  return cp;
}

/// Appends the UTF-8 encoding of `cp` (a Unicode scalar value) to `out`.
inline void append_utf8(std::string& out, char32_t cp) {
  const auto put = [&](char32_t bits) { out.push_back(static_cast<char>(bits)); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
}

}  // namespace smlaunch::py::detail
