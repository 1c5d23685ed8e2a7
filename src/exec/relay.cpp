#include "exec/relay.hpp"

#include <cstring>

namespace smlaunch::exec {
namespace {

// The byte after the last '\n' of `data[0, size)`; 0 when there is none.
std::size_t after_last_newline(const char* data, std::size_t size) {
  if (size == 0) return 0;  // data may be null
  const void* found = ::memrchr(data, '\n', size);
  return found == nullptr ? 0 : static_cast<std::size_t>(static_cast<const char*>(found) - data) + 1;
}

}  // namespace

std::string_view to_string(Stream stream) {
  return stream == Stream::Stdout ? "stdout" : "stderr";
}

void LineSink::lines(Stream stream, std::string_view block) {
  const char* const data = block.data();
  const std::size_t size = block.size();
  std::size_t start = 0;
  while (start < size) {
    const void* found = std::memchr(data + start, '\n', size - start);
    const std::size_t end =
        found == nullptr ? size : static_cast<std::size_t>(static_cast<const char*>(found) - data) + 1;
    line(stream, block.substr(start, end - start));
    start = end;
  }
}

void LineSplitter::feed(std::string_view chunk) {
  if (!pending_.empty() && !chunk.empty()) {
    // The line that earlier chunks began, if this one finishes it.
    const void* found = std::memchr(chunk.data(), '\n', chunk.size());
    if (found == nullptr) {
      pending_.append(chunk);
      sink_->flush();
      return;
    }
    const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(found) - chunk.data()) + 1;
    pending_.append(chunk.substr(0, end));
    emit_pending();
    chunk.remove_prefix(end);
  }
  // Every whole line left, as one block (views the chunk: no copy).
  const std::size_t whole = after_last_newline(chunk.data(), chunk.size());
  if (whole > 0) sink_->lines(stream_, chunk.substr(0, whole));
  if (whole < chunk.size()) pending_.append(chunk.substr(whole));
  sink_->flush();
}

void LineSplitter::finish() {
  if (!pending_.empty()) emit_pending();
  sink_->flush();
}

void LineSplitter::emit_pending() {
  sink_->line(stream_, pending_);
  if (pending_.capacity() > kRetainedCapacity) {
    std::string().swap(pending_);
  } else {
    pending_.clear();
  }
}

void TeeSink::line(Stream stream, std::string_view bytes) {
  first_->line(stream, bytes);
  second_->line(stream, bytes);
}

void TeeSink::lines(Stream stream, std::string_view block) {
  first_->lines(stream, block);
  second_->lines(stream, block);
}

void TeeSink::flush() {
  first_->flush();
  second_->flush();
}

}  // namespace smlaunch::exec
