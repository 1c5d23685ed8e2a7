// Rank tags (B77, D18): under `mpirun --tag-output` (Open MPI 4) or
// `--output tag` (Open MPI 5) every line of a rank starts with a tag naming
// the job and the rank; smlaunch rewrites it to also name the rank's host:
//
//   [1,10]<stdout>:hello   ->   [1,mpirank:10,algo-2]<stdout>:hello
//
// The two Open MPI generations print slightly different tags:
//  * Open MPI 4 (ORTE), orte/mca/iof/base/iof_base_output.c,
//    orte_iof_base_write_output: "[%s,%s]<%s>:" from ORTE_LOCAL_JOBID_PRINT
//    and ORTE_VPID_PRINT, suffix stdout/stderr/stddiag; no space after ':'.
//  * Open MPI 5 (PRRTE, formatting done by PMIx), openpmix
//    src/common/pmix_iof.c, pmix_iof_prep_output: "[%s,%s]<%s>: " where the
//    job is the part of the namespace after its last '@' (the whole
//    namespace when it has none); a space follows ':'.
// Only the bracket is rewritten, so whatever follows ':' (the Open MPI 5
// space, the user's bytes) is kept as it was, and both forms work.
//
// The reference rewrote every match anywhere in the line, for single-digit
// job ids only, and named hosts algo-(rank/pph+1) (D18). Here only a tag at
// the very start of the line is touched, job ids and ranks have any length,
// and the host comes from the real placement: mpirun --host h1:s1,h2:s2
// -map-by slot puts ranks 0..s1-1 on h1, the next s2 on h2, and so on; with
// fewer processes than slots the hosts still fill in order. A rank beyond
// the slots (the plan never starts one) keeps its tag unchanged rather than
// naming a host it may not be on.
//
// Nearly every line has the same shape, "[1,<digits>]<stdout>:", so the
// parser tries that shape first (digits only, an 8-byte compare for the
// stream) and falls back to the general grammar for anything else; a test
// compares both against a reference grammar on random lines. The sink
// rewrites a whole block of lines into one reused buffer, with the text that
// replaces a rank ("mpirank:<R>,<host>") prepared once per rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exec/relay.hpp"

namespace smlaunch::exec {

/// A tag found at the start of a line.
struct RankTag {
  std::string_view job;        // as printed ("1", or a PMIx namespace part)
  std::string_view rank_text;  // the rank's digits as printed
  std::int64_t rank = 0;
  std::string_view stream;  // "stdout", "stderr" or "stddiag"
  std::string_view host;    // set only in the rewritten form
  bool rewritten = false;   // [J,mpirank:R,host]<s>: rather than [J,R]<s>:
  std::size_t size = 0;     // bytes of the tag, through its ':'
};

/// The tag at the very start of `line`, in the Open MPI form or in the form
/// rewrite() produces; nullopt when the line does not start with one.
[[nodiscard]] std::optional<RankTag> parse_rank_tag(std::string_view line);

/// `line` without its leading tag and the tag's ':' (the Open MPI 5 space
/// after it is kept); `line` itself when it has no tag.
[[nodiscard]] std::string_view strip_rank_tag(std::string_view line);

/// A growable byte buffer that, unlike std::string, neither zeroes what it
/// grows into nor checks its capacity on every small copy: a block of lines
/// is rewritten into it with plain memcpy.
class ByteBuffer {
 public:
  /// Room for `bytes` more bytes at the end; write them, then commit().
  char* reserve_more(std::size_t bytes) {
    if (capacity_ - size_ < bytes) grow(bytes);
    return data_.get() + size_;
  }
  void commit(std::size_t bytes) { size_ += bytes; }
  void clear() { size_ = 0; }
  /// Frees the memory (after an exceptionally large block).
  void release() {
    data_.reset();
    size_ = capacity_ = 0;
  }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] std::string_view view() const { return {data_.get(), size_}; }

 private:
  void grow(std::size_t bytes);

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// A host and the number of slots mpirun was given for it.
struct HostSlots {
  std::string host;
  std::int64_t slots = 0;
};

/// Rewrites Open MPI rank tags to name each rank's host.
class RankTagRewriter {
 public:
  /// Hosts in --host order with their slots; hosts with slots <= 0 get no
  /// ranks.
  explicit RankTagRewriter(std::vector<HostSlots> hosts);
  /// Every host with the same slots (the plan's hosts and processes_per_host).
  RankTagRewriter(const std::vector<std::string>& hosts, std::int64_t slots_per_host);

  /// The host mpirun -map-by slot places `rank` on; nullptr for a negative
  /// rank or one beyond the slots.
  [[nodiscard]] const std::string* host_of(std::int64_t rank) const;

  /// `line` with a leading Open MPI tag rewritten to [J,mpirank:R,host];
  /// the result views `line` when there is nothing to rewrite (no tag, an
  /// already rewritten tag, a rank beyond the slots), else `scratch`, which
  /// it overwrites. Every byte after the tag's bracket is kept.
  [[nodiscard]] std::string_view rewrite(std::string_view line, std::string& scratch) const;

  /// Appends rewrite(line) to `out` (`scratch` as for rewrite(), used only
  /// for the rare line the prepared replacements do not cover).
  void append_rewritten(std::string_view line, ByteBuffer& out, std::string& scratch) const;

 private:
  // "mpirank:<R>,<host>" is prepared for the first ranks of the placement,
  // up to this many bytes: 4096 ranks (512 hosts of 8 GPUs) named like
  // algo-512 take under 100 KiB; ranks beyond it take the general path.
  static constexpr std::size_t kPreparedBytes = 256 * 1024;

  std::vector<HostSlots> hosts_;
  std::vector<std::int64_t> slot_ends_;       // cumulative: host i has ranks [ends[i-1], ends[i])
  std::string prepared_;                      // "mpirank:0,h1mpirank:1,h1..." back to back
  std::vector<std::uint32_t> prepared_ends_;  // rank r's text ends at prepared_ends_[r]
};

/// A LineSink that rewrites each line's tag and hands it to the next sink.
class RankTagSink final : public LineSink {
 public:
  RankTagSink(const RankTagRewriter& rewriter, LineSink& next) : rewriter_(&rewriter), next_(&next) {}
  void line(Stream stream, std::string_view bytes) override;
  /// The block rewritten into one buffer and handed on in pieces of about
  /// kBlockBytes, whole lines each.
  void lines(Stream stream, std::string_view block) override;
  void flush() override;

  /// What the rewritten block is handed on in (a 64 KiB read grows by a few
  /// percent, so one piece per read).
  static constexpr std::size_t kBlockBytes = 256 * 1024;

 private:
  const RankTagRewriter* rewriter_;
  LineSink* next_;
  std::string scratch_;
  ByteBuffer block_;
};

}  // namespace smlaunch::exec
