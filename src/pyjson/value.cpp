// Value, Int and Dict members: construction, Python truthiness and a
// structural equality that says whether two values print identically.
#include <charconv>
#include <cmath>
#include <smlaunch/pyvalue.hpp>

namespace smlaunch::py {

// Dicts here hold hyperparameters and config sections: a handful of keys, so
// a linear scan beats hashing. The decoder, which can meet a million keys,
// keeps its own hash index while it builds a dict.
const Value* Dict::find(std::string_view key) const {
  for (const Item& item : items_) {
    if (item.first == key) return &item.second;
  }
  return nullptr;
}

Value* Dict::find(std::string_view key) {
  for (Item& item : items_) {
    if (item.first == key) return &item.second;
  }
  return nullptr;
}

void Dict::set(std::string key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
    return;
  }
  items_.emplace_back(std::move(key), std::move(value));
}

void Dict::append(std::string key, Value value) { items_.emplace_back(std::move(key), std::move(value)); }

// Order matters: two dicts with the same items in another order print
// differently (str, repr and the unsorted environment), so they differ here.
bool operator==(const Dict& a, const Dict& b) { return a.items_ == b.items_; }

Value Value::integer(std::int64_t i) { return integer(Int{std::to_string(i)}); }

std::optional<std::int64_t> Value::to_int64() const {
  if (!is_int()) return std::nullopt;
  const std::string& digits = as_int().digits;
  std::int64_t result = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), result);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return result;
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::None: return false;
    case Kind::Bool: return as_bool();
    case Kind::Int: return as_int().digits != "0";
    case Kind::Float: return as_float() != 0.0;  // NaN != 0.0, so NaN is true
    case Kind::Str: return !as_str().empty();
    case Kind::List: return !as_list().empty();
    case Kind::Dict: return !as_dict().empty();
  }
  return false;
}

std::string_view Value::type_name() const {
  switch (kind()) {
    case Kind::None: return "null";
    case Kind::Bool: return "a boolean";
    case Kind::Int: return "an integer";
    case Kind::Float: return "a float";
    case Kind::Str: return "a string";
    case Kind::List: return "a list";
    case Kind::Dict: return "a dict";
  }
  return "a value";
}

// Not Python's ==: kinds must match (1 != 1.0, True != 1), NaN equals NaN and
// 0.0 differs from -0.0, because callers and tests use it to ask "would these
// two values produce the same bytes?".
bool operator==(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  if (a.is_float()) {
    const double x = a.as_float();
    const double y = b.as_float();
    if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
    return x == y && std::signbit(x) == std::signbit(y);
  }
  return a.storage_ == b.storage_;
}

}  // namespace smlaunch::py
