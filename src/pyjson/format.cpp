// Python's str(), repr() and json.dumps(sort_keys=True, separators=(",", ":"),
// ensure_ascii=True) for Values, byte for byte: scripts receive these strings
// as command-line arguments and environment variables, and compare them.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <smlaunch/pyvalue.hpp>
#include <string>
#include <vector>

#include "pyjson/unicode.hpp"

namespace smlaunch::py {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Appends `cp` as `width` lowercase hex digits (Python's \x.., \u...., %04x).
void append_hex(std::string& out, char32_t cp, int width) {
  for (int shift = 4 * (width - 1); shift >= 0; shift -= 4) out.push_back(kHexDigits[(cp >> shift) & 0xF]);
}

// CPython's unicode_repr: quote with ' unless the text has ' and no ", escape
// the quote, backslash, \t \n \r, other non-printables by their size class.
void append_repr_string(std::string& out, std::string_view utf8) {
  const bool has_single = utf8.find('\'') != std::string_view::npos;
  const bool has_double = utf8.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out.push_back(quote);
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    const std::size_t start = pos;
    const char32_t cp = detail::next_code_point(utf8, pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (detail::is_printable(cp)) {
      out.append(utf8.substr(start, pos - start));
    } else if (cp <= 0xFF) {
      out += "\\x";
      append_hex(out, cp, 2);
    } else if (cp <= 0xFFFF) {
      out += "\\u";
      append_hex(out, cp, 4);
    } else {
      out += "\\U";
      append_hex(out, cp, 8);
    }
  }
  out.push_back(quote);
}

void append_repr(std::string& out, const Value& value);

void append_repr_list(std::string& out, const List& list) {
  out.push_back('[');
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i != 0) out += ", ";
    append_repr(out, list[i]);
  }
  out.push_back(']');
}

void append_repr_dict(std::string& out, const Dict& dict) {
  out.push_back('{');
  bool first = true;
  for (const auto& [key, item] : dict) {
    if (!first) out += ", ";
    first = false;
    append_repr_string(out, key);
    out += ": ";
    append_repr(out, item);
  }
  out.push_back('}');
}

void append_repr(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::None: out += "None"; break;
    case Value::Kind::Bool: out += value.as_bool() ? "True" : "False"; break;
    case Value::Kind::Int: out += value.as_int().digits; break;
    case Value::Kind::Float: out += repr_float(value.as_float()); break;
    case Value::Kind::Str: append_repr_string(out, value.as_str()); break;
    case Value::Kind::List: append_repr_list(out, value.as_list()); break;
    case Value::Kind::Dict: append_repr_dict(out, value.as_dict()); break;
  }
}

// json's py_encode_basestring_ascii: short escapes for the usual controls,
// \u%04x for every other byte outside ' '..'~', surrogate pairs above U+FFFF.
void append_json_string(std::string& out, std::string_view utf8) {
  out.push_back('"');
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    const char32_t cp = detail::next_code_point(utf8, pos);
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp >= 0x20 && cp <= 0x7E) {
      out.push_back(static_cast<char>(cp));
    } else if (cp <= 0xFFFF) {
      out += "\\u";
      append_hex(out, cp, 4);
    } else {
      const char32_t offset = cp - 0x10000;
      out += "\\u";
      append_hex(out, 0xD800 + (offset >> 10), 4);
      out += "\\u";
      append_hex(out, 0xDC00 + (offset & 0x3FF), 4);
    }
  }
  out.push_back('"');
}

void append_json(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::None: out += "null"; break;
    case Value::Kind::Bool: out += value.as_bool() ? "true" : "false"; break;
    case Value::Kind::Int: out += value.as_int().digits; break;
    case Value::Kind::Float: {
      // json's floatstr with allow_nan=True.
      const double d = value.as_float();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += repr_float(d);
      }
      break;
    }
    case Value::Kind::Str: append_json_string(out, value.as_str()); break;
    case Value::Kind::List: {
      out.push_back('[');
      bool first = true;
      for (const Value& item : value.as_list()) {
        if (!first) out.push_back(',');
        first = false;
        append_json(out, item);
      }
      out.push_back(']');
      break;
    }
    case Value::Kind::Dict: {
      // sort_keys=True: Python sorts str keys by code point, which is UTF-8
      // byte order.
      std::vector<const Dict::Item*> sorted;
      sorted.reserve(value.as_dict().size());
      for (const Dict::Item& item : value.as_dict()) sorted.push_back(&item);
      std::stable_sort(sorted.begin(), sorted.end(), [](const Dict::Item* a, const Dict::Item* b) {
        return code_point_less(a->first, b->first);
      });
      out.push_back('{');
      bool first = true;
      for (const Dict::Item* item : sorted) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, item->first);
        out.push_back(':');
        append_json(out, item->second);
      }
      out.push_back('}');
      break;
    }
  }
}

// json.dumps(value, indent=indent): insertion order, (",", ": ") separators,
// ensure_ascii; empty containers stay "[]" and "{}".
void append_json_indented(std::string& out, const Value& value, int indent, int level) {
  const auto newline = [&](int depth) {
    out.push_back('\n');
    out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(depth), ' ');
  };
  if (value.is_list() && !value.as_list().empty()) {
    out.push_back('[');
    bool first = true;
    for (const Value& item : value.as_list()) {
      if (!first) out.push_back(',');
      first = false;
      newline(level + 1);
      append_json_indented(out, item, indent, level + 1);
    }
    newline(level);
    out.push_back(']');
  } else if (value.is_dict() && value.as_dict().size() > 0) {
    out.push_back('{');
    bool first = true;
    for (const Dict::Item& item : value.as_dict()) {
      if (!first) out.push_back(',');
      first = false;
      newline(level + 1);
      append_json_string(out, item.first);
      out += ": ";
      append_json_indented(out, item.second, indent, level + 1);
    }
    newline(level);
    out.push_back('}');
  } else {
    append_json(out, value);
  }
}

}  // namespace

// std::to_chars gives the shortest round-trip digits (what CPython's dtoa
// mode 0 gives); CPython's format_float_short then lays them out: exponent
// form iff decpt <= -4 or decpt > 16, else positional with at least ".0".
std::string repr_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";

  std::array<char, 64> buf{};
  const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  const std::string_view sci(buf.data(), static_cast<std::size_t>(result.ptr - buf.data()));

  // sci is "[-]d[.ddd]e[+-]dd".
  std::string out;
  std::size_t i = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    i = 1;
  }
  const std::size_t e = sci.find('e');
  std::string digits;
  for (; i < e; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
  const int decpt = exponent + 1;
  const auto ndigits = static_cast<int>(digits.size());

  if (decpt <= -4 || decpt > 16) {
    out.push_back(digits[0]);
    if (ndigits > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) out.push_back('0');
    out += std::to_string(magnitude);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= ndigits) {
    out += digits;
    out.append(static_cast<std::size_t>(decpt - ndigits), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<std::size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(decpt));
  }
  return out;
}

std::string repr(const Value& value) {
  std::string out;
  append_repr(out, value);
  return out;
}

std::string str(const Value& value) { return value.is_str() ? value.as_str() : repr(value); }

std::string dumps(const Value& value) {
  std::string out;
  append_json(out, value);
  return out;
}

std::string dumps_indented(const Value& value, int indent) {
  std::string out;
  append_json_indented(out, value, indent, 0);
  return out;
}

std::string dumps_string(std::string_view utf8) {
  std::string out;
  append_json_string(out, utf8);
  return out;
}

}  // namespace smlaunch::py
