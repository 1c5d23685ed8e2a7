// json.loads, reproducing CPython 3.11's C scanner (Modules/_json.c) in what
// it accepts, what it produces and the words of its errors. Offsets are byte
// offsets into the UTF-8 input (Python reports code-point offsets).
//
// Departures, all on input Python cannot use either:
//  - nesting deeper than kMaxNestingDepth fails (Python: RecursionError at
//    about 1000 levels, so 513..~990 levels decode there and fail here);
//  - an unpaired surrogate escape ("\ud800") fails: Python builds the str
//    but cannot encode it later (a document with other errors still gets
//    Python's error for those);
//  - invalid UTF-8 fails up front (Python never sees bytes, only str).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <smlaunch/pyvalue.hpp>
#include <string>
#include <vector>

#include "pyjson/unicode.hpp"

namespace smlaunch::py {
namespace {

constexpr std::size_t kNotFound = std::numeric_limits<std::size_t>::max();
// Up to this many keys a dict under construction finds duplicates by linear
// scan; past it, through a hash index (a million keys must stay linear).
constexpr std::size_t kLinearKeyLimit = 8;

constexpr bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The value of one hex digit, or -1.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr bool is_high_surrogate(char32_t cp) { return cp >= 0xD800 && cp <= 0xDBFF; }
constexpr bool is_low_surrogate(char32_t cp) { return cp >= 0xDC00 && cp <= 0xDFFF; }
constexpr bool is_surrogate(char32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

std::string hex4(char32_t cp) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kDigits[(cp >> shift) & 0xF]);
  return out;
}

// An open-addressing table of item positions keyed by the items' keys. It
// stores positions, not keys, so it never copies a key and never dangles when
// the items vector reallocates; the items are passed in on every call.
class KeyIndex {
 public:
  [[nodiscard]] bool active() const { return !slots_.empty(); }

  // The position of the item whose key equals items[candidate].first, or
  // kNotFound after recording `candidate` as the position of a new key.
  std::size_t find_or_insert(const std::vector<Dict::Item>& items, std::size_t candidate) {
    if ((used_ + 1) * 2 > slots_.size()) grow();
    const std::string& key = items[candidate].first;
    const std::size_t hash = std::hash<std::string_view>{}(key);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.position == kNotFound) {
        slot = Slot{hash, candidate};
        ++used_;
        return kNotFound;
      }
      if (slot.hash == hash && items[slot.position].first == key) return slot.position;
    }
  }

 private:
  struct Slot {
    std::size_t hash = 0;
    std::size_t position = kNotFound;
  };

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<std::size_t>(32, old.size() * 2), Slot{});
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.position == kNotFound) continue;
      std::size_t i = slot.hash & mask;
      while (slots_[i].position != kNotFound) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

// One open array or object on the decoder's explicit stack.
struct Frame {
  bool is_object = false;
  List list;
  std::vector<Dict::Item> items;
  std::string key;  // the key whose value is being decoded (objects)
  KeyIndex index;

  // Python's d[key] = value while decoding: a repeated key keeps its first
  // position and takes the new value.
  void add_member(Value value) {
    items.emplace_back(std::move(key), std::move(value));
    const std::size_t candidate = items.size() - 1;
    std::size_t existing = kNotFound;
    if (index.active() || items.size() > kLinearKeyLimit) {
      if (!index.active()) {
        for (std::size_t i = 0; i < candidate; ++i) index.find_or_insert(items, i);
      }
      existing = index.find_or_insert(items, candidate);
    } else {
      for (std::size_t i = 0; i < candidate; ++i) {
        if (items[i].first == items[candidate].first) {
          existing = i;
          break;
        }
      }
    }
    if (existing != kNotFound) {
      items[existing].second = std::move(items.back().second);
      items.pop_back();
    }
  }

  void add(Value value) {
    if (is_object) {
      add_member(std::move(value));
    } else {
      list.push_back(std::move(value));
    }
  }

  Value finish() {
    if (!is_object) return Value::list(std::move(list));
    Dict dict;
    for (Dict::Item& item : items) dict.append(std::move(item.first), std::move(item.second));
    return Value::dict(std::move(dict));
  }
};

class Decoder {
 public:
  explicit Decoder(std::string_view text) : text_(text) {}

  std::variant<Value, DecodeError> run() {
    if (const std::size_t bad = detail::utf8_error_offset(text_); bad != std::string_view::npos) {
      return DecodeError{"Invalid UTF-8: the sequence starting with byte 0x" + byte_hex(bad) + " is not well formed", bad};
    }
    if (text_.starts_with("\xEF\xBB\xBF")) {
      return DecodeError{"Unexpected UTF-8 BOM (decode using utf-8-sig)", 0};
    }
    pos_ = skip_whitespace(0);
    Value value;
    if (!parse_document(value)) return std::move(error_);
    pos_ = skip_whitespace(pos_);
    if (pos_ != text_.size()) return DecodeError{"Extra data", pos_};
    if (surrogate_error_) return std::move(*surrogate_error_);
    return value;
  }

 private:
  [[nodiscard]] char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  [[nodiscard]] std::size_t skip_whitespace(std::size_t pos) const {
    while (pos < text_.size() && is_whitespace(text_[pos])) ++pos;
    return pos;
  }

  [[nodiscard]] std::string byte_hex(std::size_t pos) const {
    constexpr char kDigits[] = "0123456789abcdef";
    const auto byte = static_cast<unsigned char>(text_[pos]);
    return {kDigits[byte >> 4], kDigits[byte & 0xF]};
  }

  bool fail(std::string message, std::size_t offset) {
    error_ = DecodeError{std::move(message), offset};
    return false;
  }

  // The value at pos_, iteratively: containers go on an explicit stack so
  // hostile nesting cannot overflow the C++ stack, and the depth limit is
  // checked before anything is allocated for the new level.
  bool parse_document(Value& out) {
    std::deque<Frame> stack;
    Value value;
    for (;;) {
      const char c = peek();
      if (c == '[' || c == '{') {
        const bool is_object = c == '{';
        if (stack.size() >= kMaxNestingDepth) {
          return fail("maximum nesting depth (" + std::to_string(kMaxNestingDepth) +
                          ") exceeded while decoding a JSON " + (is_object ? "object" : "array"),
                      pos_);
        }
        Frame& frame = stack.emplace_back();
        frame.is_object = is_object;
        pos_ = skip_whitespace(pos_ + 1);
        if (peek() != (is_object ? '}' : ']')) {
          if (is_object && !scan_key(frame)) return false;
          continue;  // decode the first element
        }
        ++pos_;
        value = frame.finish();
        stack.pop_back();
      } else if (!scan_scalar(value)) {
        return false;
      }

      // Hand the finished value to the enclosing containers, closing every
      // one that ends right after it, until one expects another element.
      for (;;) {
        if (stack.empty()) {
          out = std::move(value);
          return true;
        }
        Frame& frame = stack.back();
        frame.add(std::move(value));
        pos_ = skip_whitespace(pos_);
        if (peek() == (frame.is_object ? '}' : ']')) {
          ++pos_;
          value = frame.finish();
          stack.pop_back();
          continue;
        }
        if (peek() != ',') return fail("Expecting ',' delimiter", pos_);
        pos_ = skip_whitespace(pos_ + 1);
        if (frame.is_object && !scan_key(frame)) return false;
        break;
      }
    }
  }

  // `"key" :` and the whitespace after it, leaving pos_ at the value.
  bool scan_key(Frame& frame) {
    if (peek() != '"') return fail("Expecting property name enclosed in double quotes", pos_);
    if (!scan_string(frame.key)) return false;
    pos_ = skip_whitespace(pos_);
    if (peek() != ':') return fail("Expecting ':' delimiter", pos_);
    pos_ = skip_whitespace(pos_ + 1);
    return true;
  }

  bool match(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  // Strings, literals and numbers; anything else is "Expecting value".
  bool scan_scalar(Value& out) {
    switch (peek()) {
      case '"': {
        std::string s;
        if (!scan_string(s)) return false;
        out = Value::string(std::move(s));
        return true;
      }
      case 'n':
        if (match("null")) {
          out = Value::none();
          return true;
        }
        break;
      case 't':
        if (match("true")) {
          out = Value::boolean(true);
          return true;
        }
        break;
      case 'f':
        if (match("false")) {
          out = Value::boolean(false);
          return true;
        }
        break;
      case 'N':
        if (match("NaN")) {
          out = Value::floating(std::numeric_limits<double>::quiet_NaN());
          return true;
        }
        break;
      case 'I':
        if (match("Infinity")) {
          out = Value::floating(std::numeric_limits<double>::infinity());
          return true;
        }
        break;
      case '-':
        if (match("-Infinity")) {
          out = Value::floating(-std::numeric_limits<double>::infinity());
          return true;
        }
        break;
      default:
        break;
    }
    return scan_number(out);
  }

  // Four hex digits at `pos` as a code unit, or nullopt.
  [[nodiscard]] std::optional<char32_t> hex_quad(std::size_t pos) const {
    char32_t unit = 0;
    for (std::size_t i = pos; i < pos + 4; ++i) {
      const int digit = hex_value(text_[i]);
      if (digit < 0) return std::nullopt;
      unit = (unit << 4) | static_cast<char32_t>(digit);
    }
    return unit;
  }

  // The string whose opening quote is at pos_ (scanstring_unicode, strict).
  // Runs without escapes are copied in one piece.
  bool scan_string(std::string& out) {
    out.clear();
    const std::size_t begin = pos_;
    const std::size_t n = text_.size();
    std::size_t i = pos_ + 1;
    const char* const data = text_.data();  // raw bytes: this loop is the hot one, even in debug builds
    for (;;) {
      const std::size_t run_start = i;
      while (i < n && data[i] != '"' && data[i] != '\\' && static_cast<unsigned char>(data[i]) >= 0x20) ++i;
      out.append(data + run_start, i - run_start);
      if (i >= n) return fail("Unterminated string starting at", begin);
      if (text_[i] == '"') {
        pos_ = i + 1;
        return true;
      }
      if (text_[i] != '\\') return fail("Invalid control character at", i);
      const std::size_t backslash = i;
      if (++i == n) return fail("Unterminated string starting at", begin);
      const char esc = text_[i];
      if (esc != 'u') {
        char decoded = '\0';
        switch (esc) {
          case '"': decoded = '"'; break;
          case '\\': decoded = '\\'; break;
          case '/': decoded = '/'; break;
          case 'b': decoded = '\b'; break;
          case 'f': decoded = '\f'; break;
          case 'n': decoded = '\n'; break;
          case 'r': decoded = '\r'; break;
          case 't': decoded = '\t'; break;
          default: return fail("Invalid \\escape", backslash);
        }
        out.push_back(decoded);
        ++i;
        continue;
      }
      // \uXXXX. Like Python, demand one byte beyond the four digits (the
      // closing quote at least) before reading them.
      const std::size_t end = i + 5;
      if (end >= n) return fail("Invalid \\uXXXX escape", i);
      const std::optional<char32_t> unit = hex_quad(i + 1);
      if (!unit) return fail("Invalid \\uXXXX escape", i);
      char32_t cp = *unit;
      i = end;
      if (is_high_surrogate(cp) && end + 6 < n && text_[end] == '\\' && text_[end + 1] == 'u') {
        const std::optional<char32_t> low = hex_quad(end + 2);
        if (!low) return fail("Invalid \\uXXXX escape", end + 1);
        if (is_low_surrogate(*low)) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
          i = end + 6;
        }
      }
      if (is_surrogate(cp)) {
        // Python accepts this and fails only when the str is encoded. Keep
        // going, so that a document Python rejects anyway gets Python's own
        // error; report the surrogate only if the rest decodes.
        if (!surrogate_error_) {
          surrogate_error_ =
              DecodeError{"Unpaired surrogate escape " + hex4(cp) + " (it cannot be encoded as UTF-8)", backslash};
        }
        cp = 0xFFFD;
      }
      detail::append_utf8(out, cp);
    }
  }

  // A number at pos_ with _match_number_unicode's grammar: -?(0|[1-9]\d*),
  // then a fraction only if '.' is followed by a digit and an exponent only
  // if it has digits (otherwise the number ends before the '.' or 'e').
  bool scan_number(Value& out) {
    const std::size_t start = pos_;
    const std::size_t n = text_.size();
    std::size_t i = start;
    const bool negative = i < n && text_[i] == '-';
    if (negative) ++i;
    if (i < n && text_[i] >= '1' && text_[i] <= '9') {
      while (i < n && is_digit(text_[i])) ++i;
    } else if (i < n && text_[i] == '0') {
      ++i;
    } else {
      return fail("Expecting value", start);
    }
    bool is_float = false;
    if (i + 1 < n && text_[i] == '.' && is_digit(text_[i + 1])) {
      is_float = true;
      i += 2;
      while (i < n && is_digit(text_[i])) ++i;
    }
    if (i < n && (text_[i] == 'e' || text_[i] == 'E')) {
      std::size_t j = i + 1;
      if (j < n && (text_[j] == '+' || text_[j] == '-')) ++j;
      const std::size_t digits_start = j;
      while (j < n && is_digit(text_[j])) ++j;
      if (j > digits_start) {
        is_float = true;
        i = j;
      }
    }
    const std::string_view number = text_.substr(start, i - start);
    pos_ = i;
    if (is_float) {
      out = Value::floating(parse_float(number));
      return true;
    }
    const std::size_t digits = number.size() - (negative ? 1 : 0);
    if (digits > kMaxIntDigits) {
      // Python raises ValueError here, not JSONDecodeError; same words.
      return fail("Exceeds the limit (" + std::to_string(kMaxIntDigits) +
                      " digits) for integer string conversion: value has " + std::to_string(digits) +
                      " digits; use sys.set_int_max_str_digits() to increase the limit",
                  start);
    }
    out = Value::integer(Int{number == "-0" ? std::string("0") : std::string(number)});
    return true;
  }

  // Python's float(text) for a JSON number: correctly rounded (from_chars,
  // not the locale-dependent strtod), overflow to +-inf, underflow to +-0.0.
  static double parse_float(std::string_view number) {
    double d = 0.0;
    const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), d);
    if (ec != std::errc::result_out_of_range) return d;
    const bool negative = number.front() == '-';
    return (decimal_magnitude(number) > 0 ? std::numeric_limits<double>::infinity() : 0.0) *
           (negative ? -1.0 : 1.0);
  }

  // The power of ten of the leading nonzero digit of a JSON number (so
  // 123.0 -> 2, 0.05 -> -2, 1e400 -> 400), saturated far beyond double's
  // range. Only asked for numbers from_chars found out of range, which are
  // nonzero and either huge (> 0) or tiny (< 0). JSON's integer part has no
  // leading zeros, so it is "0" or starts with the leading digit.
  static std::int64_t decimal_magnitude(std::string_view number) {
    constexpr std::int64_t kSaturate = std::int64_t{1} << 40;
    std::size_t i = number.front() == '-' ? 1 : 0;
    const std::size_t int_start = i;
    while (i < number.size() && is_digit(number[i])) ++i;
    std::int64_t magnitude = 0;
    if (number[int_start] != '0') {
      magnitude = std::min(static_cast<std::int64_t>(i - int_start) - 1, kSaturate);
    } else if (i < number.size() && number[i] == '.') {
      ++i;
      const std::size_t frac_start = i;
      while (i < number.size() && number[i] == '0') ++i;
      magnitude = -std::min(static_cast<std::int64_t>(i - frac_start) + 1, kSaturate);
    }
    while (i < number.size() && number[i] != 'e' && number[i] != 'E') ++i;
    if (i == number.size()) return magnitude;
    ++i;
    const bool negative_exponent = number[i] == '-';
    if (number[i] == '-' || number[i] == '+') ++i;
    std::int64_t exponent = 0;
    for (; i < number.size(); ++i) exponent = std::min(exponent * 10 + (number[i] - '0'), kSaturate);
    return magnitude + (negative_exponent ? -exponent : exponent);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  DecodeError error_;
  std::optional<DecodeError> surrogate_error_;  // the first unpaired surrogate escape
};

}  // namespace

std::variant<Value, DecodeError> loads(std::string_view text) { return Decoder(text).run(); }

}  // namespace smlaunch::py
