// The output relay, line splitting part (D16): the job's stdout and stderr
// arrive as byte chunks cut wherever the pipe happened to be read, and leave
// as whole lines, unchanged, on the same stream.
//
// The reference decoded each 64 KiB read, strip()ped the whole chunk and split
// it on '\n' (B76). So a line written in two pieces became two lines, a line
// over 64 KiB was cut, blank lines and the indentation of traceback `  File`
// lines vanished at chunk edges, invalid UTF-8 became U+FFFD, and stderr
// went to stdout. Here:
//
//  * a line is the bytes up to and including '\n', whatever their length or
//    encoding; '\r' is an ordinary byte (CRLF stays CRLF);
//  * bytes inside a chunk that complete a line are handed on as a view into
//    the chunk itself, without copying; only the unfinished tail of a chunk
//    is copied, into the one pending-line buffer. That buffer is the line
//    (a 10 MB line needs 10 MB) and is the only memory the splitter keeps;
//    it is released once it has grown past kRetainedCapacity;
//  * the splitter reads a chunk only up to its first '\n' (when a line is
//    pending) and back from its end to its last '\n' (memchr, memrchr);
//    the lines between go on as one block, so each byte is looked at at most
//    once, the cost is linear in the input whatever the chunking, and any
//    chunking of the same bytes produces the same lines;
//  * at the end of the stream a final line without '\n' is emitted as is:
//    no newline is invented;
//  * one splitter per stream, and the stream travels with every line, so a
//    sink can keep stdout on stdout and stderr on stderr.
//
// The lines a chunk completes travel as one block (LineSink::lines), not one
// virtual call per line: at 1 GB/s of ~100-byte lines a call per line and
// sink was a fifth of the relay's time. Only the line that the chunk
// finishes from the pending buffer goes through line() on its own. A sink
// that does not care where lines end (the display) takes the block as it
// is; the rank-tag rewrite builds the rewritten block in one reused buffer;
// the error capture scans the block once for names. A sink that overrides
// only line() still gets every line, one at a time (the default lines()).
//
// Sinks may batch the lines of one chunk (one write() for many lines):
// flush() is called after every chunk, so nothing waits for more input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smlaunch::exec {

/// The stream of the job a line came from (and goes to).
enum class Stream { Stdout, Stderr };

/// "stdout" or "stderr".
[[nodiscard]] std::string_view to_string(Stream stream);

/// Receives whole lines. Implementations: the writer to the launcher's own
/// stdout/stderr (platform layer), the rank-tag rewriter, the error capture.
class LineSink {
 public:
  virtual ~LineSink() = default;
  /// One line: its bytes including the '\n', except for a final line that
  /// had none. The view is valid only during the call.
  virtual void line(Stream stream, std::string_view bytes) = 0;
  /// Several whole lines one after another, as they arrived: `block` is not
  /// empty and ends with '\n'. The view is valid only during the call. The
  /// default hands each line to line(), in order; a sink for which the
  /// block's bytes are all that matters overrides it to take them at once.
  virtual void lines(Stream stream, std::string_view block);
  /// Called after each chunk's lines and at the end of the stream: a sink
  /// that batches writes must write what it holds now.
  virtual void flush() {}
};

/// Cuts one stream's byte chunks into lines for a sink.
class LineSplitter {
 public:
  /// Above this capacity the pending-line buffer is freed after its line is
  /// emitted, so one huge line does not pin its memory for the whole run.
  static constexpr std::size_t kRetainedCapacity = 64 * 1024;

  LineSplitter(Stream stream, LineSink& sink) : stream_(stream), sink_(&sink) {}

  /// Emits every line that `chunk` completes (the one it finishes from
  /// earlier chunks through line(), the rest as one block through lines()),
  /// keeps the unfinished rest, then flushes the sink. An empty chunk only
  /// flushes.
  void feed(std::string_view chunk);
  /// End of stream: emits the pending partial line (if any, without adding a
  /// newline) and flushes the sink. The splitter may be fed again afterwards.
  void finish();
  /// Bytes of the unfinished line held so far.
  [[nodiscard]] std::size_t pending_bytes() const { return pending_.size(); }

 private:
  void emit_pending();

  Stream stream_;
  LineSink* sink_;
  std::string pending_;
};

/// Forwards every line (and flush) to two sinks, `first` then `second`
/// (e.g. the output writer and the error capture).
class TeeSink final : public LineSink {
 public:
  TeeSink(LineSink& first, LineSink& second) : first_(&first), second_(&second) {}
  void line(Stream stream, std::string_view bytes) override;
  void lines(Stream stream, std::string_view block) override;
  void flush() override;

 private:
  LineSink* first_;
  LineSink* second_;
};

}  // namespace smlaunch::exec
