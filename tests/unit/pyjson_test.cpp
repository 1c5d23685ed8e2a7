// Tests for smlaunch::py (include/smlaunch/pyvalue.hpp): json.loads, str,
// repr, json.dumps and str.upper() as CPython 3.11 does them.
//
// Every expected string below was produced by running /usr/bin/python3
// (3.11, Unicode 14.0.0) on the input and pasting its output here; the tests
// never run Python. Offsets are byte offsets (Python's are code points; they
// differ only after non-ASCII text, as in the "[\"é\", x]" row).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <smlaunch/pyvalue.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace smlaunch::py {
namespace {

using namespace std::string_view_literals;  // "..."sv keeps embedded NULs

// The decoded value, or a test failure naming the decoder's complaint.
Value decoded(std::string_view text) {
  auto result = loads(text);
  if (const auto* error = std::get_if<DecodeError>(&result)) {
    ADD_FAILURE() << "loads(" << ::testing::PrintToString(std::string(text)) << ") failed: " << error->message
                  << " at " << error->offset;
    return Value{};
  }
  return std::get<Value>(std::move(result));
}

// The decoder's error, or nullopt (callers assert on it).
std::optional<DecodeError> decode_error(std::string_view text) {
  auto result = loads(text);
  if (auto* error = std::get_if<DecodeError>(&result)) return std::move(*error);
  return std::nullopt;
}

std::string repeat(std::string_view piece, std::size_t times) {
  std::string out;
  out.reserve(piece.size() * times);
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

// ---------------------------------------------------------------------------
// Round trip: json.loads(input), then repr(), str() and json.dumps(sort_keys=
// True, separators=(",", ":"), ensure_ascii=True) of the result, from Python.

struct RoundTripCase {
  std::string_view input;
  std::string_view repr;
  std::string_view str;
  std::string_view dumps;
};

constexpr RoundTripCase kRoundTripCases[] = {
    {"0.00001"sv, "1e-05"sv, "1e-05"sv, "1e-05"sv},
    {"1e5"sv, "100000.0"sv, "100000.0"sv, "100000.0"sv},
    {"1.50"sv, "1.5"sv, "1.5"sv, "1.5"sv},
    {"true"sv, "True"sv, "True"sv, "true"sv},
    {"null"sv, "None"sv, "None"sv, "null"sv},
    {"\"abc\""sv, "'abc'"sv, "abc"sv, "\"abc\""sv},
    {"[1,2]"sv, "[1, 2]"sv, "[1, 2]"sv, "[1,2]"sv},
    {"NaN"sv, "nan"sv, "nan"sv, "NaN"sv},
    {"Infinity"sv, "inf"sv, "inf"sv, "Infinity"sv},
    {"-Infinity"sv, "-inf"sv, "-inf"sv, "-Infinity"sv},
    {"12345678901234567890"sv, "12345678901234567890"sv, "12345678901234567890"sv, "12345678901234567890"sv},
    {"-0"sv, "0"sv, "0"sv, "0"sv},
    {"-0.0"sv, "-0.0"sv, "-0.0"sv, "-0.0"sv},
    {"1e400"sv, "inf"sv, "inf"sv, "Infinity"sv},
    {"-1e400"sv, "-inf"sv, "-inf"sv, "-Infinity"sv},
    {"1e-400"sv, "0.0"sv, "0.0"sv, "0.0"sv},
    {"0.0001"sv, "0.0001"sv, "0.0001"sv, "0.0001"sv},
    {"1e16"sv, "1e+16"sv, "1e+16"sv, "1e+16"sv},
    {"1e15"sv, "1000000000000000.0"sv, "1000000000000000.0"sv, "1000000000000000.0"sv},
    {"1.5e16"sv, "1.5e+16"sv, "1.5e+16"sv, "1.5e+16"sv},
    {"1.2345e-7"sv, "1.2345e-07"sv, "1.2345e-07"sv, "1.2345e-07"sv},
    {"123"sv, "123"sv, "123"sv, "123"sv},
    {"123.0"sv, "123.0"sv, "123.0"sv, "123.0"sv},
    {"5e-324"sv, "5e-324"sv, "5e-324"sv, "5e-324"sv},
    {"1.7976931348623157e308"sv, "1.7976931348623157e+308"sv, "1.7976931348623157e+308"sv, "1.7976931348623157e+308"sv},
    {"0.1"sv, "0.1"sv, "0.1"sv, "0.1"sv},
    {"0.3333333333333333"sv, "0.3333333333333333"sv, "0.3333333333333333"sv, "0.3333333333333333"sv},
    {"100"sv, "100"sv, "100"sv, "100"sv},
    {"-17"sv, "-17"sv, "-17"sv, "-17"sv},
    {"3.14159"sv, "3.14159"sv, "3.14159"sv, "3.14159"sv},
    {"1E+2"sv, "100.0"sv, "100.0"sv, "100.0"sv},
    {"1e-4"sv, "0.0001"sv, "0.0001"sv, "0.0001"sv},
    {"1e-3"sv, "0.001"sv, "0.001"sv, "0.001"sv},
    {"12345678901234567.0"sv, "1.2345678901234568e+16"sv, "1.2345678901234568e+16"sv, "1.2345678901234568e+16"sv},
    {"9007199254740993"sv, "9007199254740993"sv, "9007199254740993"sv, "9007199254740993"sv},
    {"-9223372036854775809"sv, "-9223372036854775809"sv, "-9223372036854775809"sv, "-9223372036854775809"sv},
    {"false"sv, "False"sv, "False"sv, "false"sv},
    {"[]"sv, "[]"sv, "[]"sv, "[]"sv},
    {"{}"sv, "{}"sv, "{}"sv, "{}"sv},
    {"[[]]"sv, "[[]]"sv, "[[]]"sv, "[[]]"sv},
    {"[\"1\",[\"2\",\"3\",[[\"6\"]]]]"sv, "['1', ['2', '3', [['6']]]]"sv, "['1', ['2', '3', [['6']]]]"sv, "[\"1\",[\"2\",\"3\",[[\"6\"]]]]"sv},
    {"{\"a\":[1,3,4]}"sv, "{'a': [1, 3, 4]}"sv, "{'a': [1, 3, 4]}"sv, "{\"a\":[1,3,4]}"sv},
    {"\"it's\""sv, "\"it's\""sv, "it's"sv, "\"it's\""sv},
    {"\"say \\\"hi\\\"\""sv, "'say \"hi\"'"sv, "say \"hi\""sv, "\"say \\\"hi\\\"\""sv},
    {"\"both ' and \\\"\""sv, "'both \\' and \"'"sv, "both ' and \""sv, "\"both ' and \\\"\""sv},
    {"\"tab\\there\""sv, "'tab\\there'"sv, "tab\011here"sv, "\"tab\\there\""sv},
    {"\"\\u00e9\""sv, "'é'"sv, "é"sv, "\"\\u00e9\""sv},
    {"\"é\""sv, "'é'"sv, "é"sv, "\"\\u00e9\""sv},
    {"\"\\ud83d\\ude00\""sv, "'😀'"sv, "😀"sv, "\"\\ud83d\\ude00\""sv},
    {"\"😀\""sv, "'😀'"sv, "😀"sv, "\"\\ud83d\\ude00\""sv},
    {"\"\\u0000\""sv, "'\\x00'"sv, "\000"sv, "\"\\u0000\""sv},
    {"\"\\u007f\""sv, "'\\x7f'"sv, "\177"sv, "\"\\u007f\""sv},
    {"\"\\u0085\""sv, "'\\x85'"sv, "\302\205"sv, "\"\\u0085\""sv},
    {"\"\\u00a0\""sv, "'\\xa0'"sv, "\302\240"sv, "\"\\u00a0\""sv},
    {"\"\\u00ad\""sv, "'\\xad'"sv, "\302\255"sv, "\"\\u00ad\""sv},
    {"\"\\u2028\""sv, "'\\u2028'"sv, "\342\200\250"sv, "\"\\u2028\""sv},
    {"\"\\ue000\""sv, "'\\ue000'"sv, "\356\200\200"sv, "\"\\ue000\""sv},
    {"\"\\udb40\\udc01\""sv, "'\\U000e0001'"sv, "\363\240\200\201"sv, "\"\\udb40\\udc01\""sv},
    {"\"\\u0378\""sv, "'\\u0378'"sv, "\315\270"sv, "\"\\u0378\""sv},
    {"\"\\\\\""sv, "'\\\\'"sv, "\\"sv, "\"\\\\\""sv},
    {"\"a/b\\/c\""sv, "'a/b/c'"sv, "a/b/c"sv, "\"a/b/c\""sv},
    {"{\"b\":1,\"a\":2}"sv, "{'b': 1, 'a': 2}"sv, "{'b': 1, 'a': 2}"sv, "{\"a\":2,\"b\":1}"sv},
    {"{\"é\":1,\"z\":2,\"A\":3}"sv, "{'é': 1, 'z': 2, 'A': 3}"sv, "{'é': 1, 'z': 2, 'A': 3}"sv, "{\"A\":3,\"z\":2,\"\\u00e9\":1}"sv},
    {"{\"a\":{\"b\":{\"c\":null}}}"sv, "{'a': {'b': {'c': None}}}"sv, "{'a': {'b': {'c': None}}}"sv, "{\"a\":{\"b\":{\"c\":null}}}"sv},
    {"{\"a\":1,\"a\":2}"sv, "{'a': 2}"sv, "{'a': 2}"sv, "{\"a\":2}"sv},
    {"{\"a\":1,\"b\":2,\"a\":3}"sv, "{'a': 3, 'b': 2}"sv, "{'a': 3, 'b': 2}"sv, "{\"a\":3,\"b\":2}"sv},
    {"[true,false,null]"sv, "[True, False, None]"sv, "[True, False, None]"sv, "[true,false,null]"sv},
    {"[1.0,2.50,-0.0,NaN,Infinity]"sv, "[1.0, 2.5, -0.0, nan, inf]"sv, "[1.0, 2.5, -0.0, nan, inf]"sv, "[1.0,2.5,-0.0,NaN,Infinity]"sv},
    {" \011\012\015[ 1 , 2 ]\015\012"sv, "[1, 2]"sv, "[1, 2]"sv, "[1,2]"sv},
    {"\"\\b\\f\\n\\r\\t\""sv, "'\\x08\\x0c\\n\\r\\t'"sv, "\010\014\012\015\011"sv, "\"\\b\\f\\n\\r\\t\""sv},
    {"\"ß\""sv, "'ß'"sv, "ß"sv, "\"\\u00df\""sv},
    {"{\"train\":\"foo\",\"eval\":\"bar\"}"sv, "{'train': 'foo', 'eval': 'bar'}"sv, "{'train': 'foo', 'eval': 'bar'}"sv, "{\"eval\":\"bar\",\"train\":\"foo\"}"sv},
    {"\"\\u00e9\\u4e2d\""sv, "'é中'"sv, "é中"sv, "\"\\u00e9\\u4e2d\""sv},
    {"\"中文\""sv, "'中文'"sv, "中文"sv, "\"\\u4e2d\\u6587\""sv},
    {"[{\"k\":[{\"k2\":\"v\"}]}]"sv, "[{'k': [{'k2': 'v'}]}]"sv, "[{'k': [{'k2': 'v'}]}]"sv, "[{\"k\":[{\"k2\":\"v\"}]}]"sv},
    {"1E400"sv, "inf"sv, "inf"sv, "Infinity"sv},
    {"-5e-324"sv, "-5e-324"sv, "-5e-324"sv, "-5e-324"sv},
    {"0.000001"sv, "1e-06"sv, "1e-06"sv, "1e-06"sv},
    {"1e21"sv, "1e+21"sv, "1e+21"sv, "1e+21"sv},
    {"1e22"sv, "1e+22"sv, "1e+22"sv, "1e+22"sv},
    {"123456789012345678901234567890.5"sv, "1.2345678901234568e+29"sv, "1.2345678901234568e+29"sv, "1.2345678901234568e+29"sv},
    {"\"\\u001f\""sv, "'\\x1f'"sv, "\037"sv, "\"\\u001f\""sv},
    {"\"\""sv, "''"sv, ""sv, "\"\""sv},
    {"\"\\\"'\""sv, "'\"\\''"sv, "\"'"sv, "\"\\\"'\""sv},
    {"0"sv, "0"sv, "0"sv, "0"sv},
    {"-1"sv, "-1"sv, "-1"sv, "-1"sv},
    {"[0.5,-2,\"x\"]"sv, "[0.5, -2, 'x']"sv, "[0.5, -2, 'x']"sv, "[0.5,-2,\"x\"]"sv},
    {"{\"\\ud83d\\ude00\":\"\\u00ff\",\"a\\u0000\":[]}"sv, "{'😀': 'ÿ', 'a\\x00': []}"sv, "{'😀': 'ÿ', 'a\\x00': []}"sv, "{\"a\\u0000\":[],\"\\ud83d\\ude00\":\"\\u00ff\"}"sv},
    {"\"\\uD83D\\uDE00\""sv, "'😀'"sv, "😀"sv, "\"\\ud83d\\ude00\""sv},
    {"{\"\":\"\"}"sv, "{'': ''}"sv, "{'': ''}"sv, "{\"\":\"\"}"sv},
    {"1.0e+0"sv, "1.0"sv, "1.0"sv, "1.0"sv},
    {"2.5E-3"sv, "0.0025"sv, "0.0025"sv, "0.0025"sv},
    {"-1.5e-10"sv, "-1.5e-10"sv, "-1.5e-10"sv, "-1.5e-10"sv},
    {"1e-7"sv, "1e-07"sv, "1e-07"sv, "1e-07"sv},
    {"0.00012"sv, "0.00012"sv, "0.00012"sv, "0.00012"sv},
    {"1234567890123456.7"sv, "1234567890123456.8"sv, "1234567890123456.8"sv, "1234567890123456.8"sv},
    {"{\"b\":{\"d\":1,\"c\":2},\"a\":[{\"z\":0,\"y\":1}]}"sv, "{'b': {'d': 1, 'c': 2}, 'a': [{'z': 0, 'y': 1}]}"sv, "{'b': {'d': 1, 'c': 2}, 'a': [{'z': 0, 'y': 1}]}"sv, "{\"a\":[{\"y\":1,\"z\":0}],\"b\":{\"c\":2,\"d\":1}}"sv},
    {"\"\\u0001\\u001b\""sv, "'\\x01\\x1b'"sv, "\001\033"sv, "\"\\u0001\\u001b\""sv},
    {"\"\\u00a9\\u2603\""sv, "'©☃'"sv, "©☃"sv, "\"\\u00a9\\u2603\""sv},
    {"\"\\ufeff\""sv, "'\\ufeff'"sv, "\357\273\277"sv, "\"\\ufeff\""sv},
    {"\"\\u200b\""sv, "'\\u200b'"sv, "\342\200\213"sv, "\"\\u200b\""sv},
};

TEST(PyRoundTrip, MatchesPythonReprStrAndDumps) {
  static_assert(std::size(kRoundTripCases) >= 60);
  for (const RoundTripCase& c : kRoundTripCases) {
    SCOPED_TRACE(::testing::PrintToString(std::string(c.input)));
    const Value value = decoded(c.input);
    EXPECT_EQ(repr(value), c.repr);
    EXPECT_EQ(str(value), c.str);
    EXPECT_EQ(dumps(value), c.dumps);
  }
}

TEST(PyRoundTrip, DumpsOutputDecodesBackToTheSameDocument) {
  for (const RoundTripCase& c : kRoundTripCases) {
    SCOPED_TRACE(::testing::PrintToString(std::string(c.input)));
    const Value value = decoded(c.input);
    EXPECT_EQ(dumps(decoded(dumps(value))), c.dumps);
  }
}

// ---------------------------------------------------------------------------
// Errors: Python's JSONDecodeError.msg and position for the same input.

struct ErrorCase {
  std::string_view input;
  std::string_view message;
  std::size_t offset;
};

constexpr ErrorCase kErrorCases[] = {
    {""sv, "Expecting value", 0},
    {" "sv, "Expecting value", 1},
    {"True"sv, "Expecting value", 0},
    {"None"sv, "Expecting value", 0},
    {"01"sv, "Extra data", 1},
    {"[1,]"sv, "Expecting value", 3},
    {"{\"a\":1,}"sv, "Expecting property name enclosed in double quotes", 7},
    {"[1 2]"sv, "Expecting ',' delimiter", 3},
    {"{\"a\" 1}"sv, "Expecting ':' delimiter", 5},
    {"{1:2}"sv, "Expecting property name enclosed in double quotes", 1},
    {"\"abc"sv, "Unterminated string starting at", 0},
    {"\"a\001\""sv, "Invalid control character at", 2},
    {"\"a\012b\""sv, "Invalid control character at", 2},
    {"\"\\x\""sv, "Invalid \\escape", 1},
    {"\"\\u12\""sv, "Invalid \\uXXXX escape", 2},
    {"\"\\u12g4\""sv, "Invalid \\uXXXX escape", 2},
    {".5"sv, "Expecting value", 0},
    {"+1"sv, "Expecting value", 0},
    {"-"sv, "Expecting value", 0},
    {"1."sv, "Extra data", 1},
    {"1e"sv, "Extra data", 1},
    {"1e+"sv, "Extra data", 1},
    {"["sv, "Expecting value", 1},
    {"{"sv, "Expecting property name enclosed in double quotes", 1},
    {"[1"sv, "Expecting ',' delimiter", 2},
    {"nul"sv, "Expecting value", 0},
    {"-NaN"sv, "Expecting value", 0},
    {"\357\273\2771"sv, "Unexpected UTF-8 BOM (decode using utf-8-sig)", 0},
    {"1 \014"sv, "Extra data", 2},
    {"\0141"sv, "Expecting value", 0},
    {"\302\2401"sv, "Expecting value", 0},
    {"\"\\ud83d\\uzzzz\""sv, "Invalid \\uXXXX escape", 8},
    {"NaNa"sv, "Extra data", 3},
    {"[1]]"sv, "Extra data", 3},
    {"{\"a\":1}}"sv, "Extra data", 7},
    {"'a'"sv, "Expecting value", 0},
    {"tru"sv, "Expecting value", 0},
    {"\"é"sv, "Unterminated string starting at", 0},
    {"[\"é\", x]"sv, "Expecting value", 7},
    {"{\"a\":}"sv, "Expecting value", 5},
    {"[,1]"sv, "Expecting value", 1},
    {"infinity"sv, "Expecting value", 0},
    {"nan"sv, "Expecting value", 0},
    {"0x10"sv, "Extra data", 1},
    {"1_000"sv, "Extra data", 1},
    {"\"\\"sv, "Unterminated string starting at", 0},
    {"\"\\u1234"sv, "Invalid \\uXXXX escape", 2},
    {"[1e+]"sv, "Expecting ',' delimiter", 2},
    {"{\"a\":1 \"b\":2}"sv, "Expecting ',' delimiter", 7},
    {"\000"sv, "Expecting value", 0},
    {"1.5.5"sv, "Extra data", 3},
};

TEST(PyLoads, ReportsErrorsInPythonsWordsAtPythonsPosition) {
  for (const ErrorCase& c : kErrorCases) {
    SCOPED_TRACE(::testing::PrintToString(std::string(c.input)));
    const std::optional<DecodeError> error = decode_error(c.input);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->message, c.message);
    EXPECT_EQ(error->offset, c.offset);
  }
}

// ---------------------------------------------------------------------------
// json.loads: the B8 examples and the edges around them.

TEST(PyLoads, DecodesTheB8Examples) {
  Value v = decoded("0.00001");
  ASSERT_TRUE(v.is_float());
  EXPECT_EQ(repr(v), "1e-05");

  v = decoded("1e5");
  ASSERT_TRUE(v.is_float());
  EXPECT_EQ(str(v), "100000.0");

  EXPECT_EQ(str(decoded("1.50")), "1.5");

  v = decoded("true");
  ASSERT_TRUE(v.is_bool());
  EXPECT_TRUE(v.as_bool());
  EXPECT_EQ(str(v), "True");

  EXPECT_TRUE(decode_error("True").has_value());  // the caller keeps the raw string
  EXPECT_TRUE(decoded("null").is_none());
  EXPECT_TRUE(decode_error("01").has_value());

  v = decoded("\"abc\"");
  ASSERT_TRUE(v.is_str());
  EXPECT_EQ(v.as_str(), "abc");

  v = decoded("[1,2]");
  ASSERT_TRUE(v.is_list());
  EXPECT_EQ(v, Value::list({Value::integer(1), Value::integer(2)}));

  EXPECT_TRUE(std::isnan(decoded("NaN").as_float()));
  EXPECT_EQ(decoded("Infinity").as_float(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(decoded("-Infinity").as_float(), -std::numeric_limits<double>::infinity());
}

TEST(PyLoads, AcceptsNanAndInfinityAnywhereAValueIs) {
  EXPECT_EQ(repr(decoded("[NaN, {\"x\": Infinity}, -Infinity]")), "[nan, {'x': inf}, -inf]");
  EXPECT_EQ(dumps(decoded("{\"a\":[NaN,-Infinity]}")), "{\"a\":[NaN,-Infinity]}");
  EXPECT_TRUE(decode_error("-NaN").has_value());
  EXPECT_TRUE(decode_error("+Infinity").has_value());
  EXPECT_TRUE(decode_error("nan").has_value());
}

TEST(PyLoads, KeepsBigIntegersExactly) {
  Value v = decoded("12345678901234567890");
  ASSERT_TRUE(v.is_int());
  EXPECT_EQ(v.as_int().digits, "12345678901234567890");
  EXPECT_EQ(v.to_int64(), std::nullopt);

  v = decoded("-98765432109876543210987654321");
  ASSERT_TRUE(v.is_int());
  EXPECT_EQ(str(v), "-98765432109876543210987654321");
  EXPECT_EQ(dumps(Value::list({v})), "[-98765432109876543210987654321]");
}

TEST(PyLoads, DecodesNegativeZeroIntegerAsZeroAndNegativeZeroFloatWithItsSign) {
  const Value int_zero = decoded("-0");
  ASSERT_TRUE(int_zero.is_int());
  EXPECT_EQ(int_zero.as_int().digits, "0");
  EXPECT_EQ(int_zero, Value::integer(0));

  const Value float_zero = decoded("-0.0");
  ASSERT_TRUE(float_zero.is_float());
  EXPECT_TRUE(std::signbit(float_zero.as_float()));
  EXPECT_EQ(repr(float_zero), "-0.0");
}

TEST(PyLoads, AcceptsIntegersOfUpTo4300DigitsAndRejectsLongerOnes) {
  const std::string limit(kMaxIntDigits, '9');
  EXPECT_EQ(decoded(limit).as_int().digits, limit);
  EXPECT_EQ(decoded("-" + limit).as_int().digits, "-" + limit);  // the sign is not a digit

  const std::optional<DecodeError> error = decode_error("[" + limit + "1]");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->message,
            "Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits; use "
            "sys.set_int_max_str_digits() to increase the limit");
  EXPECT_EQ(error->offset, 1U);

  // Floats have no such limit.
  EXPECT_EQ(repr(decoded(limit + ".0")), "inf");
}

TEST(PyLoads, RoundsFloatsCorrectly) {
  EXPECT_EQ(decoded("0.1").as_float(), 0.1);
  EXPECT_EQ(repr(decoded("1.7976931348623158e308")), "1.7976931348623157e+308");
  EXPECT_EQ(repr(decoded("2.2250738585072011e-308")), "2.225073858507201e-308");
  EXPECT_EQ(repr(decoded("9007199254740993.0")), "9007199254740992.0");
  EXPECT_EQ(repr(decoded("7.2057594037927933e16")), "7.205759403792794e+16");
  EXPECT_EQ(repr(decoded("2.4703282292062328e-324")), "5e-324");
}

TEST(PyLoads, OverflowsToInfinityAndUnderflowsToSignedZero) {
  EXPECT_EQ(repr(decoded("1e400")), "inf");
  EXPECT_EQ(repr(decoded("-1e400")), "-inf");
  EXPECT_EQ(repr(decoded("1.7976931348623159e308")), "inf");
  EXPECT_EQ(repr(decoded("1e99999999999999999999999999")), "inf");
  EXPECT_EQ(repr(decoded("1" + std::string(400, '0') + ".5")), "inf");
  EXPECT_EQ(repr(decoded("1e-400")), "0.0");
  EXPECT_EQ(repr(decoded("-1e-400")), "-0.0");
  EXPECT_EQ(repr(decoded("2.4703282292062327e-324")), "0.0");
  EXPECT_EQ(repr(decoded("0." + std::string(400, '0') + "1")), "0.0");
  EXPECT_EQ(repr(decoded("-1e-99999999999999999999999999")), "-0.0");
}

TEST(PyLoads, TreatsOnlySpaceTabLineFeedAndCarriageReturnAsWhitespace) {
  EXPECT_EQ(decoded(" \t\n\r1 \t\n\r"), Value::integer(1));
  // Form feed, vertical tab, NBSP and U+2028 are whitespace to str.split(),
  // not to JSON.
  for (const std::string_view other : {"\f"sv, "\v"sv, "\xc2\xa0"sv, "\xe2\x80\xa8"sv}) {
    EXPECT_TRUE(decode_error(std::string(other) + "1").has_value()) << ::testing::PrintToString(std::string(other));
    EXPECT_TRUE(decode_error("1" + std::string(other)).has_value()) << ::testing::PrintToString(std::string(other));
  }
}

TEST(PyLoads, RejectsRawControlCharactersInStrings) {
  for (int c = 0; c < 0x20; ++c) {
    std::string text = "\"a";
    text.push_back(static_cast<char>(c));
    text += "b\"";
    const std::optional<DecodeError> error = decode_error(text);
    ASSERT_TRUE(error.has_value()) << c;
    EXPECT_EQ(error->message, "Invalid control character at");
    EXPECT_EQ(error->offset, 2U);
  }
  EXPECT_EQ(decoded("\"a\x7f\"").as_str(), "a\x7f");  // DEL is not a control character here
}

TEST(PyLoads, DecodesEveryEscape) {
  EXPECT_EQ(decoded(R"("\" \\ \/ \b \f \n \r \t")").as_str(), "\" \\ / \b \f \n \r \t");
  EXPECT_EQ(decoded(R"("\u0041\u00e9\u4E2D\u0000")").as_str(), std::string("A\xc3\xa9\xe4\xb8\xad\0", 7));
  EXPECT_TRUE(decode_error(R"("\a")").has_value());
  EXPECT_TRUE(decode_error(R"("\U00000041")").has_value());
  EXPECT_TRUE(decode_error(R"("\x41")").has_value());
}

TEST(PyLoads, CombinesSurrogatePairEscapes) {
  EXPECT_EQ(decoded(R"("\ud83d\ude00")").as_str(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(decoded(R"("\uD83D\uDE00!")").as_str(), "\xf0\x9f\x98\x80!");
  EXPECT_EQ(decoded(R"("\udbff\udfff")").as_str(), "\xf4\x8f\xbf\xbf");
  EXPECT_EQ(decoded(R"({"\ud800\udc00":1})").as_dict().items().front().first, "\xf0\x90\x80\x80");
}

TEST(PyLoads, RejectsLoneSurrogateEscapesThatPythonCouldNotEncode) {
  struct Case {
    std::string_view input;
    std::string_view message;
    std::size_t offset;
  };
  const Case cases[] = {
      {R"("\ud800")", R"(Unpaired surrogate escape \ud800 (it cannot be encoded as UTF-8))", 1},
      {R"("\udc00")", R"(Unpaired surrogate escape \udc00 (it cannot be encoded as UTF-8))", 1},
      {R"("x\ud83d\u0041")", R"(Unpaired surrogate escape \ud83d (it cannot be encoded as UTF-8))", 2},
      {R"("\ude00\ud83d")", R"(Unpaired surrogate escape \ude00 (it cannot be encoded as UTF-8))", 1},
      {R"({"\ud800": 1})", R"(Unpaired surrogate escape \ud800 (it cannot be encoded as UTF-8))", 2},
      {R"(["ok", "\udfff"])", R"(Unpaired surrogate escape \udfff (it cannot be encoded as UTF-8))", 8},
  };
  for (const Case& c : cases) {
    const std::optional<DecodeError> error = decode_error(c.input);
    ASSERT_TRUE(error.has_value()) << c.input;
    EXPECT_EQ(error->message, c.message);
    EXPECT_EQ(error->offset, c.offset) << c.input;
  }
}

TEST(PyLoads, GivesPythonsErrorForAnInvalidDocumentThatAlsoHasALoneSurrogate) {
  // Python rejects these for another reason first; so do we, in its words.
  std::optional<DecodeError> error = decode_error(R"(["\ud800", x])");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->message, "Expecting value");
  EXPECT_EQ(error->offset, 11U);

  error = decode_error(R"("\ud83d\uzzzz")");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->message, "Invalid \\uXXXX escape");
  EXPECT_EQ(error->offset, 8U);
}

TEST(PyLoads, RejectsALeadingByteOrderMark) {
  const std::optional<DecodeError> error = decode_error("\xef\xbb\xbf{}");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->message, "Unexpected UTF-8 BOM (decode using utf-8-sig)");
  EXPECT_EQ(error->offset, 0U);
  EXPECT_EQ(decoded("\"\xef\xbb\xbf\"").as_str(), "\xef\xbb\xbf");  // inside a string it is text
}

TEST(PyLoads, RejectsEmptyInputAndTrailingData) {
  std::optional<DecodeError> error = decode_error("");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->message, "Expecting value");
  EXPECT_EQ(error->offset, 0U);

  error = decode_error("{\"a\": 1} {\"b\": 2}");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->message, "Extra data");
  EXPECT_EQ(error->offset, 9U);
}

TEST(PyLoads, KeepsTheFirstPositionAndTheLastValueOfADuplicateKey) {
  const Value v = decoded(R"({"a": 1, "b": 2, "a": 3, "c": 4, "b": [5]})");
  const Dict& dict = v.as_dict();
  ASSERT_EQ(dict.size(), 3U);
  EXPECT_EQ(dict.items()[0].first, "a");
  EXPECT_EQ(dict.items()[0].second, Value::integer(3));
  EXPECT_EQ(dict.items()[1].first, "b");
  EXPECT_EQ(dict.items()[1].second, Value::list({Value::integer(5)}));
  EXPECT_EQ(dict.items()[2].first, "c");
  EXPECT_EQ(repr(v), "{'a': 3, 'b': [5], 'c': 4}");
}

TEST(PyLoads, KeepsDuplicateKeySemanticsInDictsLargeEnoughToBeHashed) {
  // 40 distinct keys, each written three times, values counting up.
  std::string text = "{";
  for (int round = 0; round < 3; ++round) {
    for (int k = 0; k < 40; ++k) {
      if (text.size() > 1) text += ",";
      text += "\"k" + std::to_string(k) + "\":" + std::to_string(round * 100 + k);
    }
  }
  text += "}";
  const Dict dict = decoded(text).as_dict();
  ASSERT_EQ(dict.size(), 40U);
  for (int k = 0; k < 40; ++k) {
    const auto index = static_cast<std::size_t>(k);
    EXPECT_EQ(dict.items()[index].first, "k" + std::to_string(k));
    EXPECT_EQ(dict.items()[index].second, Value::integer(200 + k));
  }
}

TEST(PyLoads, DecodesAMillionKeyDictWithDuplicatesWithoutQuadraticWork) {
  constexpr int kKeys = 1'000'000;
  std::string text = "{";
  text.reserve(static_cast<std::size_t>(kKeys) * 20);
  for (int k = 0; k < kKeys; ++k) {
    const std::string number = std::to_string(k);
    text.append("\"key").append(number).append("\":").append(number).push_back(',');
  }
  text += "\"key7\":\"again\",\"key999999\":null}";
  const Value v = decoded(text);
  const Dict& dict = v.as_dict();
  ASSERT_EQ(dict.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(dict.items()[7].first, "key7");
  EXPECT_EQ(dict.items()[7].second, Value::string("again"));
  EXPECT_TRUE(dict.items().back().second.is_none());
  EXPECT_EQ(dict.items()[500'000].second, Value::integer(500'000));
}

TEST(PyLoads, DecodesAHundredMegabyteDocument) {
  const std::string element = "\"" + std::string(90, 'x') + "\\n\\u00e9\",";
  const std::size_t count = 100'000'000 / element.size() + 1;
  const std::string text = "[" + repeat(element, count) + "0]";
  ASSERT_GE(text.size(), 100'000'000U);
  const Value v = decoded(text);
  ASSERT_EQ(v.as_list().size(), count + 1);
  EXPECT_EQ(v.as_list().front().as_str(), std::string(90, 'x') + "\n\xc3\xa9");
}

TEST(PyLoads, AcceptsNestingUpToTheLimit) {
  const std::string arrays = repeat("[", kMaxNestingDepth) + repeat("]", kMaxNestingDepth);
  EXPECT_EQ(dumps(decoded(arrays)), arrays);

  const std::string objects = repeat("{\"a\":", kMaxNestingDepth - 1) + "[1]" + repeat("}", kMaxNestingDepth - 1);
  EXPECT_EQ(dumps(decoded(objects)), objects);
}

TEST(PyLoads, RejectsNestingBeyondTheLimitWithoutRecursing) {
  std::optional<DecodeError> error =
      decode_error(repeat("[", kMaxNestingDepth + 1) + repeat("]", kMaxNestingDepth + 1));
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->message, "maximum nesting depth (512) exceeded while decoding a JSON array");
  EXPECT_EQ(error->offset, kMaxNestingDepth);

  error = decode_error(repeat("[", 10'000));
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->offset, kMaxNestingDepth);

  error = decode_error(repeat("{\"a\":", 10'000) + "1" + repeat("}", 10'000));
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->message, "maximum nesting depth (512) exceeded while decoding a JSON object");
  EXPECT_EQ(error->offset, kMaxNestingDepth * 5);

  // A million levels is as cheap: the decoder stops at the limit.
  error = decode_error(repeat("[{\"k\":", 1'000'000));
  ASSERT_TRUE(error.has_value());
}

TEST(PyLoads, RejectsInvalidUtf8AtTheOffendingByte) {
  struct Case {
    std::string_view input;
    std::size_t offset;
  };
  const Case cases[] = {
      {"\xff"sv, 0},
      {"\"\x80\""sv, 1},                  // a lone continuation byte
      {"\"a\xc0\x80\""sv, 2},             // overlong NUL
      {"\"\xe0\x80\xaf\""sv, 1},          // overlong '/'
      {"\"\xed\xa0\x80\""sv, 1},          // an encoded surrogate
      {"\"\xf4\x90\x80\x80\""sv, 1},      // above U+10FFFF
      {"[\"ok\", \"\xe2\x82\"]"sv, 8},    // truncated sequence
      {"\"\xc3\xa9\xc3\""sv, 3},          // truncated at the end
      {"1 \xfe"sv, 2},                    // outside any string
  };
  for (const Case& c : cases) {
    const std::optional<DecodeError> error = decode_error(c.input);
    ASSERT_TRUE(error.has_value()) << ::testing::PrintToString(std::string(c.input));
    EXPECT_EQ(error->message.rfind("Invalid UTF-8", 0), 0U) << error->message;
    EXPECT_EQ(error->offset, c.offset) << ::testing::PrintToString(std::string(c.input));
  }
}

// ---------------------------------------------------------------------------
// repr(float)

TEST(PyReprFloat, MatchesPythonsShortestRepr) {
  struct Case {
    double value;
    std::string_view repr;
  };
  const Case cases[] = {
      {1e-05, "1e-05"},
      {0.0001, "0.0001"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {1.5e16, "1.5e+16"},
      {1.2345e-07, "1.2345e-07"},
      {123.0, "123.0"},
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {1e100, "1e+100"},
      {2.5e-300, "2.5e-300"},
      {9999999999999998.0, "9999999999999998.0"},
      {1.2e-310, "1.2e-310"},
      {0.5, "0.5"},
      {12345.678, "12345.678"},
      {123456789.0, "123456789.0"},
      {9223372036854775808.0, "9.223372036854776e+18"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1.0 / 3.0, "0.3333333333333333"},
      {-1.5e-10, "-1.5e-10"},
  };
  for (const Case& c : cases) EXPECT_EQ(repr_float(c.value), c.repr) << c.repr;
}

TEST(PyReprFloat, SpellsNanAndInfinityLikePython) {
  EXPECT_EQ(repr_float(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(repr_float(-std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(repr_float(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(repr_float(-std::numeric_limits<double>::infinity()), "-inf");
}

// ---------------------------------------------------------------------------
// repr / str

TEST(PyRepr, ChoosesQuotesLikePython) {
  EXPECT_EQ(repr(Value::string("plain")), "'plain'");
  EXPECT_EQ(repr(Value::string("it's")), "\"it's\"");
  EXPECT_EQ(repr(Value::string("say \"hi\"")), "'say \"hi\"'");
  EXPECT_EQ(repr(Value::string("both ' and \"")), R"('both \' and "')");
  EXPECT_EQ(repr(Value::string("back\\slash")), R"('back\\slash')");
}

TEST(PyRepr, EscapesNonPrintableCharactersBySize) {
  EXPECT_EQ(repr(Value::string("\t\n\r")), R"('\t\n\r')");
  EXPECT_EQ(repr(Value::string(std::string("\0\x1b\x7f", 3))), R"('\x00\x1b\x7f')");
  EXPECT_EQ(repr(Value::string("\xc2\x85\xc2\xa0\xc2\xad")), R"('\x85\xa0\xad')");  // NEL, NBSP, soft hyphen
  EXPECT_EQ(repr(Value::string("\xe2\x80\xa8\xef\xbb\xbf")), R"('\u2028\ufeff')");
  EXPECT_EQ(repr(Value::string("\xf3\xa0\x80\x81")), R"('\U000e0001')");  // a tag character
  EXPECT_EQ(repr(Value::string("\xcd\xb8")), R"('\u0378')");              // unassigned
}

TEST(PyRepr, KeepsPrintableNonAsciiCharacters) {
  EXPECT_EQ(repr(Value::string("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80")), "'caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80'");
  EXPECT_EQ(repr(Value::string("\xc3\xa9\xcc\x81")), "'\xc3\xa9\xcc\x81'");  // combining acute is printable
}

TEST(PyRepr, RendersContainersAndScalarsLikePython) {
  EXPECT_EQ(repr(decoded(R"(["1", ["2", "3", [["6"]]]])")), "['1', ['2', '3', [['6']]]]");
  EXPECT_EQ(repr(decoded(R"({"a": [1, 3, 4]})")), "{'a': [1, 3, 4]}");
  EXPECT_EQ(repr(decoded(R"({"it's": {"x": null, "y": [true, false, 1.0]}})")),
            "{\"it's\": {'x': None, 'y': [True, False, 1.0]}}");
  EXPECT_EQ(repr(Value::list({})), "[]");
  EXPECT_EQ(repr(Value::dict({})), "{}");
  EXPECT_EQ(repr(Value::integer(std::numeric_limits<std::int64_t>::min())), "-9223372036854775808");
}

TEST(PyStr, LeavesStringsRawAndReprsEverythingElse) {
  EXPECT_EQ(str(Value::string("it's \"raw\"\n")), "it's \"raw\"\n");
  EXPECT_EQ(str(Value::none()), "None");
  EXPECT_EQ(str(Value::boolean(false)), "False");
  EXPECT_EQ(str(Value::integer(-42)), "-42");
  EXPECT_EQ(str(Value::floating(1e-05)), "1e-05");
  EXPECT_EQ(str(Value::list({Value::string("a"), Value::integer(1)})), "['a', 1]");
  Dict dict;
  dict.append("k", Value::boolean(true));
  EXPECT_EQ(str(Value::dict(dict)), "{'k': True}");
}

// ---------------------------------------------------------------------------
// json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)

TEST(PyDumps, UsesCompactSeparatorsWhenNested) {
  EXPECT_EQ(dumps(decoded(R"([ "1", [ "2", "3", [ [ "6" ] ] ] ])")), R"(["1",["2","3",[["6"]]]])");
  EXPECT_EQ(dumps(decoded(R"({ "x" : { "y" : [ 1 , 2.5 , null , true ] } })")), R"({"x":{"y":[1,2.5,null,true]}})");
}

TEST(PyDumps, SortsKeysByCodePoint) {
  EXPECT_EQ(dumps(decoded(R"({"train":"foo","eval":"bar"})")), R"({"eval":"bar","train":"foo"})");
  // 'B' < 'a' < 'é' < U+FF61 < U+1F600: code-point order, not UTF-16 order.
  EXPECT_EQ(dumps(decoded("{\"\xf0\x9f\x98\x80\":5,\"\xef\xbd\xa1\":4,\"\xc3\xa9\":3,\"a\":2,\"B\":1}")),
            R"({"B":1,"a":2,"\u00e9":3,"\uff61":4,"\ud83d\ude00":5})");
  EXPECT_EQ(dumps(decoded(R"({"b":{"d":1,"c":2},"a":0})")), R"({"a":0,"b":{"c":2,"d":1}})");
}

TEST(PyDumps, EscapesLikeEnsureAscii) {
  EXPECT_EQ(dumps_string("\xc3\xa9"), R"("\u00e9")");
  EXPECT_EQ(dumps_string("\" \\ / \b \f \n \r \t"), R"("\" \\ / \b \f \n \r \t")");
  EXPECT_EQ(dumps_string(std::string("\0\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
  EXPECT_EQ(dumps_string("\xe4\xb8\xad\xef\xbf\xbf"), R"("\u4e2d\uffff")");
  EXPECT_EQ(dumps_string(""), R"("")");
}

TEST(PyDumps, WritesSurrogatePairsAboveTheBasicPlane) {
  EXPECT_EQ(dumps_string("\xf0\x9f\x98\x80"), R"("\ud83d\ude00")");
  EXPECT_EQ(dumps_string("\xf0\x90\x80\x80"), R"("\ud800\udc00")");
  EXPECT_EQ(dumps_string("\xf4\x8f\xbf\xbf"), R"("\udbff\udfff")");
}

TEST(PyDumps, WritesNanAndInfinityAsJavaScriptLiterals) {
  const Value v = Value::list({Value::floating(std::numeric_limits<double>::quiet_NaN()),
                               Value::floating(std::numeric_limits<double>::infinity()),
                               Value::floating(-std::numeric_limits<double>::infinity()),
                               Value::floating(1e-05), Value::floating(-0.0)});
  EXPECT_EQ(dumps(v), "[NaN,Infinity,-Infinity,1e-05,-0.0]");
}

// ---------------------------------------------------------------------------
// str.upper(), len(), UTF-8 validity

TEST(PyUpper, UsesTheFullUnicodeCaseMapping) {
  struct Case {
    std::string_view input;
    std::string_view upper;
  };
  const Case cases[] = {
      {"ß", "SS"},
      {"straße", "STRASSE"},
      {"ﬁ", "FI"},
      {"ﬃ", "FFI"},
      {"ŉ", "\xca\xbcN"},                              // U+02BC U+004E
      {"ΐ", "\xce\x99\xcc\x88\xcc\x81"},               // U+0399 U+0308 U+0301
      {"ǰ", "J\xcc\x8c"},                              // U+004A U+030C
      {"ᾳ", "ΑΙ"},                                     // U+0391 U+0399
      {"և", "ԵՒ"},
      {"ǅ", "Ǆ"},
      {"ǆ", "Ǆ"},
      {"ı", "I"},
      {"ſ", "S"},
      {"µ", "Μ"},                                      // U+039C, leaves Latin-1
      {"ÿ", "Ÿ"},                                      // U+0178
      {"αβγ", "ΑΒΓ"},
      {"ᲀ", "В"},
      {"ꭰ", "Ꭰ"},
      {"ⓐ", "Ⓐ"},
      {"ａ", "Ａ"},
      {"ꙁ", "Ꙁ"},
      {"\xf0\x90\x90\xa8", "\xf0\x90\x90\x80"},        // Deseret U+10428 -> U+10400
      {"\xf0\x9e\xa4\xa2", "\xf0\x9e\xa4\x80"},        // Adlam U+1E922 -> U+1E900
      {"istanbul", "ISTANBUL"},                        // no locale: i -> I
      {"abcdefghijklmnopqrstuvwxyz{|}~", "ABCDEFGHIJKLMNOPQRSTUVWXYZ{|}~"},
  };
  for (const Case& c : cases) EXPECT_EQ(upper(c.input), c.upper) << c.input;
}

TEST(PyUpper, LeavesUncasedAndUpperCaseCharactersAlone) {
  EXPECT_EQ(upper("1a-b_c"), "1A-B_C");
  EXPECT_EQ(upper("ΑΒΓ Ꭰ 中文 \xf0\x9f\x98\x80 €"), "ΑΒΓ Ꭰ 中文 \xf0\x9f\x98\x80 €");
  EXPECT_EQ(upper(std::string("a\0b", 3)), std::string("A\0B", 3));
  EXPECT_EQ(upper(""), "");
}

TEST(PyCodePointLength, CountsCodePointsLikePythonLen) {
  EXPECT_EQ(code_point_length(""), 0U);
  EXPECT_EQ(code_point_length("abc"), 3U);
  EXPECT_EQ(code_point_length(std::string("a\0b", 3)), 3U);
  EXPECT_EQ(code_point_length("\xf0\x9f\x98\x80\xc3\xa9"), 2U);
  EXPECT_EQ(code_point_length("ΐ"), 1U);
  EXPECT_EQ(code_point_length(upper("ΐ")), 3U);
}

TEST(PyUtf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8(std::string("plain ascii\0", 12)));
  EXPECT_TRUE(is_valid_utf8("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"));
  EXPECT_TRUE(is_valid_utf8("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
}

TEST(PyUtf8, RejectsOverlongsSurrogatesTruncationsAndOutOfRangeCodePoints) {
  for (const std::string_view bad : {"\x80"sv, "\xbf"sv, "\xc0\x80"sv, "\xc1\xbf"sv, "\xe0\x9f\xbf"sv,
                                     "\xed\xa0\x80"sv, "\xed\xbf\xbf"sv, "\xf0\x8f\xbf\xbf"sv, "\xf4\x90\x80\x80"sv,
                                     "\xf5\x80\x80\x80"sv, "\xff"sv, "\xc3"sv, "\xe4\xb8"sv, "\xf0\x9f\x98"sv,
                                     "abcdefgh\xc3("sv, "\xc3\xa9\xa9"sv}) {
    EXPECT_FALSE(is_valid_utf8(bad)) << ::testing::PrintToString(std::string(bad));
  }
}

// ---------------------------------------------------------------------------
// Value and Dict

TEST(PyValue, TruthinessFollowsPythonsBool) {
  EXPECT_FALSE(Value::none().truthy());
  EXPECT_FALSE(Value::boolean(false).truthy());
  EXPECT_TRUE(Value::boolean(true).truthy());
  EXPECT_FALSE(Value::integer(0).truthy());
  EXPECT_FALSE(decoded("-0").truthy());
  EXPECT_TRUE(Value::integer(-1).truthy());
  EXPECT_TRUE(decoded("100000000000000000000000").truthy());
  EXPECT_FALSE(Value::floating(0.0).truthy());
  EXPECT_FALSE(Value::floating(-0.0).truthy());
  EXPECT_TRUE(Value::floating(std::numeric_limits<double>::quiet_NaN()).truthy());
  EXPECT_FALSE(Value::string("").truthy());
  EXPECT_TRUE(Value::string("False").truthy());
  EXPECT_TRUE(Value::string("0").truthy());
  EXPECT_FALSE(Value::list({}).truthy());
  EXPECT_TRUE(Value::list({Value::none()}).truthy());
  EXPECT_FALSE(Value::dict({}).truthy());
  EXPECT_TRUE(decoded(R"({"a": null})").truthy());
}

TEST(PyValue, NamesTypesForMessages) {
  EXPECT_EQ(Value::none().type_name(), "null");
  EXPECT_EQ(Value::boolean(true).type_name(), "a boolean");
  EXPECT_EQ(Value::integer(1).type_name(), "an integer");
  EXPECT_EQ(Value::floating(1.0).type_name(), "a float");
  EXPECT_EQ(Value::string("x").type_name(), "a string");
  EXPECT_EQ(Value::list({}).type_name(), "a list");
  EXPECT_EQ(Value::dict({}).type_name(), "a dict");
}

TEST(PyValue, ConvertsToInt64OnlyIntsThatFit) {
  EXPECT_EQ(Value::integer(42).to_int64(), 42);
  EXPECT_EQ(decoded("-9223372036854775808").to_int64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(decoded("9223372036854775807").to_int64(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(decoded("9223372036854775808").to_int64(), std::nullopt);
  EXPECT_EQ(decoded("-9223372036854775809").to_int64(), std::nullopt);
  EXPECT_EQ(Value::boolean(true).to_int64(), std::nullopt);  // a flag is never a count
  EXPECT_EQ(Value::floating(3.0).to_int64(), std::nullopt);
  EXPECT_EQ(Value::string("3").to_int64(), std::nullopt);
  EXPECT_EQ(Value::integer(std::numeric_limits<std::int64_t>::min()).as_int().digits, "-9223372036854775808");
}

TEST(PyValue, ComparesStructurallySoEqualValuesPrintTheSame) {
  EXPECT_EQ(decoded("[1, 2.5, \"x\", null]"),
            Value::list({Value::integer(1), Value::floating(2.5), Value::string("x"), Value::none()}));
  EXPECT_NE(Value::integer(1), Value::floating(1.0));  // unlike Python's ==
  EXPECT_NE(Value::integer(1), Value::boolean(true));
  EXPECT_NE(Value::floating(0.0), Value::floating(-0.0));
  EXPECT_EQ(Value::floating(std::numeric_limits<double>::quiet_NaN()),
            Value::floating(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_NE(decoded(R"({"a":1,"b":2})"), decoded(R"({"b":2,"a":1})"));  // order shows in str()
  EXPECT_EQ(decoded(R"({"a":1,"b":2})"), decoded(R"({"a":1,"b":3,"b":2})"));
}

TEST(PyDict, SetReplacesInPlaceAndAppendsNewKeys) {
  Dict dict;
  dict.set("b", Value::integer(1));
  dict.set("a", Value::integer(2));
  dict.set("b", Value::string("new"));
  ASSERT_EQ(dict.size(), 2U);
  EXPECT_EQ(dict.items()[0].first, "b");
  EXPECT_EQ(*dict.find("b"), Value::string("new"));
  EXPECT_TRUE(dict.contains("a"));
  EXPECT_FALSE(dict.contains("c"));
  EXPECT_EQ(dict.find("c"), nullptr);

  *dict.find("a") = Value::boolean(false);
  dict.append("c", Value::none());
  EXPECT_EQ(repr(Value::dict(dict)), "{'b': 'new', 'a': False, 'c': None}");
}

}  // namespace
}  // namespace smlaunch::py

namespace smlaunch::py {
namespace {

// The "Training Env" block of the logs: json.dumps(env, indent=4) (B146).
TEST(PyDumpsIndented, MatchesPythonsJsonDumpsWithIndentFour) {
  auto parsed = loads(R"({"b":[1,2.5,{"x":null}],"a":{},"é":[],"s":"tab\té","n":1e-05,"t":true})");
  ASSERT_TRUE(std::holds_alternative<Value>(parsed));
  // python3 -c 'import json; print(json.dumps(<the same dict>, indent=4))'
  EXPECT_EQ(dumps_indented(std::get<Value>(parsed), 4),
            "{\n    \"b\": [\n        1,\n        2.5,\n        {\n            \"x\": null\n        }\n    ],\n"
            "    \"a\": {},\n    \"\\u00e9\": [],\n    \"s\": \"tab\\t\\u00e9\",\n    \"n\": 1e-05,\n    \"t\": true\n}");
}

}  // namespace
}  // namespace smlaunch::py
