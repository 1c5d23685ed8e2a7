// Finding error names in relayed lines (D17, D19). ErrorCapture asks, for
// every line a healthy job prints, "does any of ~100 names occur here?", so
// this scan sits on the relay's hot path: at 1 GB/s it may spend well under
// a nanosecond per byte, and nearly every line says no.
//
// The question has a fixed answer (the earliest match, the longest name at
// that offset, names only at word boundaries; see NameMatcher), and the
// obvious way to get it is to try every name at every offset. The approach
// here gives the same answer, only skips the offsets where no name can start:
//
//  * a pair filter: one byte per pair of bytes (a 64 KiB table) is set for
//    the first two bytes of every name (for a one-byte name, for its byte
//    followed by anything). An offset whose two bytes are not in the table
//    cannot start a name, whatever the names are. Ordinary log text ("step
//    812 loss 0.42 ...") rarely hits: the names start with a capital and a
//    lowercase letter, or with rarer pairs ("mp", "nc", "OR");
//  * the filter is probed 16 offsets at a time and the results OR-ed, with
//    no branch inside (two loads per byte), and only a block with a hit is
//    probed again offset by offset, so the hits are visited in offset order;
//  * at a hit, the word-boundary rule and the names that start with that
//    byte (longest first, their second byte compared before memcmp) decide,
//    exactly as a plain scan would. The last byte of a text has no pair and
//    is checked on its own (only a one-byte name can start there).
//
// So the cost is linear in the text (one table probe per byte plus a bounded
// check per hit) and the result is that of the naive scan; a randomised
// test compares the two (tests/unit/name_matcher_test.cpp). It is about a
// third of a nanosecond per byte on the benchmark machine, less than the
// rank-tag rewrite before it (bench/relay_bench.cpp). A SIMD filter (Hyperscan's
// "Teddy") or an Aho-Corasick automaton would also be linear but takes far
// more code to read; they are the next step if this scan ever dominates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smlaunch::exec {

/// Where a name was found.
struct NameMatch {
  std::size_t offset = 0;
  std::string_view name;  // views the matcher's copy
};

/// Finds the earliest of a set of names in a text, at word boundaries: where
/// a name starts with an identifier character ([A-Za-z0-9_]) the byte before
/// it must not be one, and where it ends with one the byte after it must not
/// be one (so `errors_impl.InvalidArgumentError:` matches
/// `InvalidArgumentError`, `TFOpError` does not match `OpError`). Case
/// sensitive. The result does not depend on the order the names were given in.
class NameMatcher {
 public:
  /// Empty names and duplicates are dropped.
  explicit NameMatcher(std::vector<std::string> names);
  /// The match with the smallest offset, the longest name at that offset;
  /// nullopt when none occurs. Linear in the text for a fixed set of names.
  [[nodiscard]] std::optional<NameMatch> find(std::string_view text) const;

 private:
  // The longest name that matches at `at` with its boundaries, if any.
  [[nodiscard]] std::optional<NameMatch> match_at(std::string_view text, std::size_t at) const;
  // Non-zero when some name may start with the two bytes at `p`.
  [[nodiscard]] std::uint8_t may_start(const char* p) const {
    return pair_filter_[static_cast<unsigned char>(p[0]) |
                        (static_cast<std::size_t>(static_cast<unsigned char>(p[1])) << 8)];
  }

  static constexpr std::size_t kPairs = 256 * 256;

  std::vector<std::string> names_;              // by first byte, then longest first, then bytes
  std::array<std::uint32_t, 257> bucket_ = {};  // names starting with byte b: [bucket_[b], bucket_[b+1])
  std::array<std::uint8_t, kPairs> pair_filter_ = {};  // [a | b << 8]: 1 when some name starts "ab"
};

}  // namespace smlaunch::exec
