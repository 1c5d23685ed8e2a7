// Error capture (B79-B84, D17, D19, D42): while the job's output is relayed,
// remember enough of it to say in output/failure what went wrong.
//
// The reference started capturing at the first line that contained, as a
// plain substring, any known error name, and then kept every later line of
// that stream for the rest of the run, with a linear `not in` check per line
// (quadratic, unbounded, and it never actually de-duplicated). A benign early
// `Exception` or `SUPPORTED` (it contains `ORTE`) was enough to start it. The
// class was then picked from a set() of names whose order changed per run.
//
// Here, per stream (as in the reference, B79):
//  * lines are compared without their rank tag (any job id, any rank) and
//    without surrounding whitespace; blank lines are ignored;
//  * names match at word boundaries (NameMatcher): `ORTE` does not fire on
//    `SUPPORTED`, `OpError` not on `TFOpError`, `NotFoundError` not on
//    `FileNotFoundError`;
//  * capture starts at the first line containing a trigger name; that line is
//    kept for good, then the most recent *distinct* lines after it, de-
//    duplicated by a 64-bit hash so the same traceback from 64 ranks is kept
//    once, within kStreamCaptureBytes and kMaxCapturedLines (oldest evicted
//    first). Each line costs one hash, one copy and O(1) set/deque work, so
//    ten million lines after the trigger take linear time and the memory
//    stays bounded; lines longer than kMaxCapturedLineBytes are cut;
//  * before anything triggers, only the last few lines of each stream are
//    kept (a fixed ring), so a program that fails without a recognisable
//    error still leaves its last words in the failure file. This is the
//    path every line of a healthy job takes, so it is kept cheap: a block of
//    lines (LineSink::lines) is scanned for names in one pass, as one text,
//    through a pair filter (name_matcher.hpp). Any name in a line's content
//    is also a match in the block (a tag ends in ':', blanks and '\n' are
//    word boundaries), so a block without a match has no trigger line, and
//    only its last lines are copied into the ring: the ones that would still
//    be there after pushing every line. A match in the block is checked
//    again on its own line (it may sit in a tag, or span two lines), and the
//    scan goes on after that line;
//  * the message puts the stream that triggered first first, so it starts
//    with the first trigger line, and the first 1024 characters of the
//    failure file name the class, the exit code and that line;
//  * the reported class follows B83/B84 made deterministic (D19): the
//    earliest *class name* (framework classes and the user's extra names) in
//    the message, by position, the longest at equal positions; Python's
//    built-in names and the MPI names only start the capture, as in the
//    reference; none found -> ExecuteUserScriptError.
// All name lists are static (D42): nothing is imported to enumerate them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "exec/name_matcher.hpp"
#include "exec/relay.hpp"

namespace smlaunch::exec {

/// The class reported when no class name is found (B83).
inline constexpr std::string_view kDefaultErrorClass = "ExecuteUserScriptError";
/// What the failure message holds at most, both streams together (the
/// separators aside).
inline constexpr std::size_t kCaptureBytes = 64 * 1024;
inline constexpr std::size_t kStreamCaptureBytes = kCaptureBytes / 2;
/// Bounds the per-line bookkeeping when lines are tiny.
inline constexpr std::size_t kMaxCapturedLines = 1024;
/// Longer captured lines are cut (at a UTF-8 character start) and end in "...".
inline constexpr std::size_t kMaxCapturedLineBytes = 2048;
/// Lines kept per stream before anything triggered, and their length limit.
inline constexpr std::size_t kFallbackLines = 10;
inline constexpr std::size_t kFallbackLineBytes = 512;

/// B152: Python's built-in names (and three TensorFlow ones) that start the
/// capture, exactly as the reference lists them.
[[nodiscard]] std::span<const std::string_view> python_error_names();
/// B153: `mpirun.real`, `ORTE`.
[[nodiscard]] std::span<const std::string_view> mpi_error_names();
/// Further names and phrases that start the capture but are not classes:
/// Open MPI 4/5 launcher errors, CUDA/NCCL messages, newer Python names.
[[nodiscard]] std::span<const std::string_view> extra_trigger_names();
/// Framework exception classes that both start the capture and are reported
/// as the class (what the reference imported, B133-B135, plus PyTorch's).
[[nodiscard]] std::span<const std::string_view> framework_error_classes();

/// Watches both streams' lines (feed it the lines before or after the rank
/// tag rewrite) and keeps the error text for the failure file.
class ErrorCapture final : public LineSink {
 public:
  /// `extra_class_names`: the user's (or a runner's) error classes, added to
  /// the triggers and to the reportable classes (B80).
  explicit ErrorCapture(const std::vector<std::string>& extra_class_names = {});
  ErrorCapture(const ErrorCapture&) = delete;
  ErrorCapture& operator=(const ErrorCapture&) = delete;

  void line(Stream stream, std::string_view bytes) override;
  /// The same as line() for each line of `block`, scanned as one text.
  void lines(Stream stream, std::string_view block) override;

  /// Whether a trigger name has been seen on either stream.
  [[nodiscard]] bool triggered() const;
  /// The trigger name of the stream that triggered first, if any.
  [[nodiscard]] std::optional<std::string_view> trigger_name() const;
  /// The ErrorMessage text: the first trigger line, the distinct lines kept
  /// after it, then the other stream's capture, one per line, de-duplicated;
  /// without any trigger, the last lines of stderr (else stdout); "" when
  /// nothing was printed.
  [[nodiscard]] std::string message() const;
  /// The class to report for a failed job (see the file comment).
  [[nodiscard]] std::string error_class() const;
  /// error_class() for a message() already computed.
  [[nodiscard]] std::string error_class_for(std::string_view message) const;

 private:
  // The most recent distinct lines within a byte and line budget.
  class DistinctTail {
   public:
    DistinctTail(std::size_t budget_bytes, std::size_t max_lines)
        : budget_(budget_bytes), max_lines_(max_lines) {}
    // Whether a line with this hash is held (or reserved).
    [[nodiscard]] bool contains(std::size_t hash) const { return hashes_.contains(hash); }
    // Appends a line not held yet, evicting the oldest to stay in budget.
    void push(std::string_view line, std::size_t hash);
    // Marks the trigger line, kept outside the tail, as held.
    void reserve_hash(std::size_t hash) { hashes_.insert(hash); }
    [[nodiscard]] const std::deque<std::pair<std::string, std::size_t>>& lines() const { return lines_; }

   private:
    std::size_t budget_;
    std::size_t max_lines_;
    std::size_t bytes_ = 0;
    std::deque<std::pair<std::string, std::size_t>> lines_;  // text, hash
    std::unordered_set<std::size_t> hashes_;
  };

  // The last lines of a stream before any trigger: consecutive repeats
  // dropped, each cut to a byte limit, in a ring whose strings keep their
  // memory. Every line of a healthy job passes through push().
  class RecentLines {
   public:
    RecentLines(std::size_t max_lines, std::size_t max_line_bytes)
        : ring_(max_lines), max_line_bytes_(max_line_bytes) {}
    void push(std::string_view content);
    // push(content of each line) for a block of whole lines, but only for
    // those whose content can still be in the ring afterwards.
    void push_lines(std::string_view block);
    // Oldest first.
    [[nodiscard]] std::vector<std::string_view> lines() const;

   private:
    std::vector<std::string> ring_;
    std::size_t next_ = 0;
    std::size_t count_ = 0;
    // A member rather than the constant on purpose: see push().
    std::size_t max_line_bytes_;
  };

  struct StreamCapture {
    // Before a trigger.
    RecentLines recent{kFallbackLines, kFallbackLineBytes};
    // After a trigger.
    bool triggered = false;
    std::uint64_t trigger_sequence = 0;
    std::string trigger_name;
    std::string trigger_line;
    // The trigger line and the joining newlines fit in kStreamCaptureBytes.
    DistinctTail tail{kStreamCaptureBytes - kMaxCapturedLineBytes - 2, kMaxCapturedLines};
  };

  [[nodiscard]] std::vector<const StreamCapture*> by_trigger_order() const;

  NameMatcher triggers_;
  NameMatcher classes_;
  std::array<StreamCapture, 2> streams_;
  std::uint64_t sequence_ = 0;
};

/// The ExtraInfo line (B82, D20): `OutOfMemory: Process killed by SIGKILL
/// (signal 9)` for exit code 137 (a shell's 128+9), -9 (Python's convention)
/// or a SIGKILL death; `Process killed by <SIGNAME> (signal <n>)` (or
/// `signal <n>` for one without a name here) for any other signal death;
/// nullopt otherwise. `term_signal` is 0 when the
/// process exited.
[[nodiscard]] std::optional<std::string> extra_info_for(int exit_code, int term_signal);
/// As above, but `SMTrainingCompiler Error: Error occurred in
/// SMTrainingCompiler.` when `error_text` mentions one of B155's paths (B82).
[[nodiscard]] std::optional<std::string> extra_info_for(int exit_code, int term_signal,
                                                        std::string_view error_text);
/// Whether `error_text` contains one of SM_TRAINING_COMPILER_PATHS (B155).
[[nodiscard]] bool mentions_training_compiler(std::string_view error_text);

/// What the failure file says about a failed job.
struct FailureSummary {
  std::string error_class;
  std::string message;
  std::optional<std::string> extra_info;
};

/// The class, message and extra info for a job that failed with `exit_code`
/// (or was killed by `term_signal`, else 0).
[[nodiscard]] FailureSummary summarize_failure(const ErrorCapture& capture, int exit_code, int term_signal);

}  // namespace smlaunch::exec
