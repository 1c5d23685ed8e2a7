// Python-compatible JSON values.
//
// The Python toolkit decodes every hyperparameter value with json.loads and
// later renders the results with str(), repr() and json.dumps(sort_keys=True,
// separators=(",", ":"), ensure_ascii=True). Users' scripts and images depend
// on those exact bytes (`--lr 1e-05`, `SM_HP_FLAG=true`, `['a', 'b']`), so
// smlaunch keeps values in Python's own model: arbitrary-size integers, IEEE
// doubles printed with Python's shortest-repr rules, NaN/Infinity literals,
// and dicts that keep insertion order (a duplicate key keeps its first place
// and takes the last value, as a Python dict built from pairs does).
//
// Strings are UTF-8. The decoder rejects what Python would accept but cannot
// later encode (a lone surrogate escape such as "\ud800"): smlaunch reports it
// instead of crashing halfway as the reference does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace smlaunch::py {

class Value;

/// An arbitrary-size integer in canonical decimal form ("0", "-12", no '+',
/// no leading zeros). Python's int.
struct Int {
  std::string digits;
  friend bool operator==(const Int&, const Int&) = default;
};

using List = std::vector<Value>;

/// An insertion-ordered dict with string keys (JSON objects only have those).
class Dict {
 public:
  using Item = std::pair<std::string, Value>;

  /// The value for `key`, or nullptr.
  [[nodiscard]] const Value* find(std::string_view key) const;
  [[nodiscard]] Value* find(std::string_view key);
  [[nodiscard]] bool contains(std::string_view key) const { return find(key) != nullptr; }
  /// Python's d[key] = value: replaces in place, or appends.
  void set(std::string key, Value value);
  /// Appends without looking for an existing key (the caller knows it is new).
  void append(std::string key, Value value);

  [[nodiscard]] const std::vector<Item>& items() const { return items_; }
  // Defined after Value: these instantiate members of std::vector<Item>,
  // which needs Value complete (clang, and so clang-tidy, reject it before).
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] bool empty() const;
  [[nodiscard]] auto begin() const;
  [[nodiscard]] auto end() const;

  friend bool operator==(const Dict&, const Dict&);

 private:
  std::vector<Item> items_;
};

/// One Python value as json.loads produces it.
class Value {
 public:
  // The enumerators are named after the types on purpose; GCC's -Wshadow
  // flags `List` against the alias above, which would fail -Werror builds.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
  enum class Kind { None, Bool, Int, Float, Str, List, Dict };
#pragma GCC diagnostic pop

  Value() = default;  // None
  static Value none() { return Value{}; }
  static Value boolean(bool b) { return Value{Storage{std::in_place_index<1>, b}}; }
  static Value integer(std::int64_t i);
  static Value integer(Int i) { return Value{Storage{std::in_place_index<2>, std::move(i)}}; }
  static Value floating(double d) { return Value{Storage{std::in_place_index<3>, d}}; }
  static Value string(std::string s) { return Value{Storage{std::in_place_index<4>, std::move(s)}}; }
  static Value list(List l) { return Value{Storage{std::in_place_index<5>, std::move(l)}}; }
  static Value dict(Dict d) { return Value{Storage{std::in_place_index<6>, std::move(d)}}; }

  [[nodiscard]] Kind kind() const { return static_cast<Kind>(storage_.index()); }
  [[nodiscard]] bool is_none() const { return kind() == Kind::None; }
  [[nodiscard]] bool is_bool() const { return kind() == Kind::Bool; }
  [[nodiscard]] bool is_int() const { return kind() == Kind::Int; }
  [[nodiscard]] bool is_float() const { return kind() == Kind::Float; }
  [[nodiscard]] bool is_str() const { return kind() == Kind::Str; }
  [[nodiscard]] bool is_list() const { return kind() == Kind::List; }
  [[nodiscard]] bool is_dict() const { return kind() == Kind::Dict; }

  // Accessors; calling the wrong one is a programming error (throws
  // std::bad_variant_access).
  [[nodiscard]] bool as_bool() const { return std::get<1>(storage_); }
  [[nodiscard]] const Int& as_int() const { return std::get<2>(storage_); }
  [[nodiscard]] double as_float() const { return std::get<3>(storage_); }
  [[nodiscard]] const std::string& as_str() const { return std::get<4>(storage_); }
  [[nodiscard]] const List& as_list() const { return std::get<5>(storage_); }
  [[nodiscard]] const Dict& as_dict() const { return std::get<6>(storage_); }
  [[nodiscard]] List& as_list() { return std::get<5>(storage_); }
  [[nodiscard]] Dict& as_dict() { return std::get<6>(storage_); }

  /// The integer value when this is an int that fits in int64 (bools are not
  /// ints here, unlike Python: a flag is never a count).
  [[nodiscard]] std::optional<std::int64_t> to_int64() const;

  /// Python's bool(value): None, False, 0, 0.0, "", [] and {} are false;
  /// NaN and the string "False" are true.
  [[nodiscard]] bool truthy() const;

  /// A short description of the type for error messages: "a string",
  /// "an integer", "null", "a list", ...
  [[nodiscard]] std::string_view type_name() const;

  friend bool operator==(const Value&, const Value&);

 private:
  using Storage = std::variant<std::monostate, bool, Int, double, std::string, List, Dict>;
  explicit Value(Storage s) : storage_(std::move(s)) {}
  Storage storage_;
};

inline std::size_t Dict::size() const { return items_.size(); }
inline bool Dict::empty() const { return items_.empty(); }
inline auto Dict::begin() const { return items_.begin(); }
inline auto Dict::end() const { return items_.end(); }

/// Why a document could not be decoded: a message in Python's words where
/// that helps ("Expecting value"), and the byte offset.
struct DecodeError {
  std::string message;
  std::size_t offset = 0;
};

/// Limits that keep hostile input from exhausting the stack or memory.
inline constexpr std::size_t kMaxNestingDepth = 512;
/// Python 3.11 refuses int<->str conversions past 4300 digits (ValueError).
inline constexpr std::size_t kMaxIntDigits = 4300;

/// Decodes one JSON document exactly as Python's json.loads(text) would,
/// returning the value or why it failed. Input must be valid UTF-8 (checked).
/// Nesting deeper than kMaxNestingDepth fails (Python raises RecursionError).
[[nodiscard]] std::variant<Value, DecodeError> loads(std::string_view text);

/// Python's str(value): strings raw, None -> "None", True -> "True", floats
/// by repr, containers by repr ("['a', 1]", "{'k': True}").
[[nodiscard]] std::string str(const Value& value);

/// Python's repr(value) ("'a'" for a string, with Python's quote choice and
/// escapes; non-printable characters as \x.., \u...., \U........).
[[nodiscard]] std::string repr(const Value& value);

/// Python's repr(float): shortest round-trip digits, "1e-05", "100000.0",
/// "1e+16", "nan", "inf", "-0.0".
[[nodiscard]] std::string repr_float(double d);

/// json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).
/// NaN/Infinity print as NaN, Infinity, -Infinity (Python's allow_nan).
[[nodiscard]] std::string dumps(const Value& value);

/// json.dumps(value, indent=indent): keys in insertion order, separators
/// (",", ": "), ensure_ascii=True (the "Training Env" block of the logs).
[[nodiscard]] std::string dumps_indented(const Value& value, int indent);

/// json.dumps of one string with ensure_ascii=True (including the quotes).
[[nodiscard]] std::string dumps_string(std::string_view utf8);

/// Python's str.upper() with full Unicode case mapping ("ß" -> "SS").
/// Input must be valid UTF-8.
[[nodiscard]] std::string upper(std::string_view utf8);

/// Number of code points (Python's len(str)). Input must be valid UTF-8.
[[nodiscard]] std::size_t code_point_length(std::string_view utf8);

/// True when `bytes` is well-formed UTF-8 (no surrogates, no overlongs).
[[nodiscard]] bool is_valid_utf8(std::string_view bytes);

/// Python's sorted() order for str keys: code-point order, which for valid
/// UTF-8 is byte order.
[[nodiscard]] inline bool code_point_less(std::string_view a, std::string_view b) {
  return a < b;
}

}  // namespace smlaunch::py
