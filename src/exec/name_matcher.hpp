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
// test compares the two (tests/unit/name_matcher_test.cpp). That is about a
// third of a nanosecond per byte, which made this scan the largest part of
// the relay once lines travelled in blocks (bench/relay_bench.cpp). So, where
// the CPU has AVX2 (checked at run time), a coarser filter runs first, 32
// offsets at a time (Hyperscan's "Teddy", reduced to its core):
//
//  * the names are put in 8 buckets; each bucket keeps the low and the high
//    nibbles of its names' first bytes and of their second bytes, as four
//    16-entry tables of bucket bits, so a byte's bucket set is two table
//    lookups (one vpshufb each) and an AND;
//  * an offset passes when some bucket admits both its byte and the next
//    one. A bucket admits every combination of its nibbles, so names share
//    a bucket only when that adds few ordinary pairs: the buckets are formed
//    by merging, greedily, the pair that adds the least weight of admitted
//    pairs, lowercase text and digits weighing most;
//  * the offsets that pass go through the exact pair filter and the check
//    above, in offset order, so the answer is the same; the test runs both
//    scans against the naive one.
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
  /// Which scan find() uses: the SIMD filter when the CPU has it, or the
  /// portable one (for tests that compare the two).
  enum class Scan { Fastest, Portable };
  /// Empty names and duplicates are dropped.
  explicit NameMatcher(std::vector<std::string> names, Scan scan = Scan::Fastest);
  /// The match with the smallest offset, the longest name at that offset;
  /// nullopt when none occurs. Linear in the text for a fixed set of names.
  [[nodiscard]] std::optional<NameMatch> find(std::string_view text) const;

 private:
  // The longest name that matches at `at` with its boundaries, if any.
  [[nodiscard]] std::optional<NameMatch> match_at(std::string_view text, std::size_t at) const;
  // find() with the pair filter alone, from offset `at` on.
  [[nodiscard]] std::optional<NameMatch> find_from(std::string_view text, std::size_t at) const;
  // find() with the SIMD filter first (only when simd_ is set).
  [[nodiscard]] std::optional<NameMatch> find_simd(std::string_view text) const;
  // Fills nibbles_ from names_.
  void build_buckets();
  // Non-zero when some name may start with the two bytes at `p`.
  [[nodiscard]] std::uint8_t may_start(const char* p) const {
    return pair_filter_[static_cast<unsigned char>(p[0]) |
                        (static_cast<std::size_t>(static_cast<unsigned char>(p[1])) << 8)];
  }

  static constexpr std::size_t kPairs = 256 * 256;

  std::vector<std::string> names_;              // by first byte, then longest first, then bytes
  std::array<std::uint32_t, 257> bucket_ = {};  // names starting with byte b: [bucket_[b], bucket_[b+1])
  std::array<std::uint8_t, kPairs> pair_filter_ = {};  // [a | b << 8]: 1 when some name starts "ab"
  // For the SIMD filter: bucket bits by the low nibble of a first byte, by
  // its high nibble, then the same for second bytes (16 entries each).
  std::array<std::uint8_t, 64> nibbles_ = {};
  bool simd_ = false;
};

}  // namespace smlaunch::exec
