#include "exec/relay.hpp"

#include <cstring>

namespace smlaunch::exec {

std::string_view to_string(Stream stream) {
  return stream == Stream::Stdout ? "stdout" : "stderr";
}

void LineSplitter::feed(std::string_view chunk) {
  const char* const data = chunk.data();
  const std::size_t size = chunk.size();
  std::size_t start = 0;
  while (start < size) {
    const void* found = std::memchr(data + start, '\n', size - start);
    if (found == nullptr) break;
    const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(found) - data) + 1;
    if (pending_.empty()) {
      sink_->line(stream_, chunk.substr(start, end - start));  // no copy
    } else {
      pending_.append(data + start, end - start);
      emit_pending();
    }
    start = end;
  }
  if (start < size) pending_.append(data + start, size - start);
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

void TeeSink::flush() {
  first_->flush();
  second_->flush();
}

}  // namespace smlaunch::exec
