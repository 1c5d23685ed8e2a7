#include "exec/rank_tags.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>

namespace smlaunch::exec {
namespace {

// Longer job ids or host names are not tags (a PMIx namespace is at most
// 255 bytes; so is a host name).
constexpr std::size_t kMaxJobIdBytes = 255;
constexpr std::size_t kMaxHostBytes = 255;
// 18 decimal digits always fit in int64.
constexpr std::size_t kMaxRankDigits = 18;
constexpr std::string_view kRankLabel = "mpirank:";
constexpr std::array<std::string_view, 3> kStreamNames = {"stdout", "stderr", "stddiag"};
// Above this the scratch buffer is freed after a line, as in LineSplitter.
constexpr std::size_t kRetainedScratch = 64 * 1024;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// ORTE prints a number; PMIx prints the namespace part after '@', which is a
// number for mpirun jobs, or a whole namespace like prterun-host-1234.
bool is_job_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
}

bool is_host_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > ' ' && c != ']' && c != '[' && c != ',' && u != 0x7f;
}

// The end of the run of bytes from `from` satisfying `pred`, or npos when
// the run is empty or longer than `max_bytes` (then it is not a tag).
template <typename Pred>
std::size_t run_end(std::string_view s, std::size_t from, std::size_t max_bytes, Pred pred) {
  std::size_t i = from;
  const std::size_t limit = std::min(s.size(), from + max_bytes + 1);
  while (i < limit && pred(s[i])) ++i;
  if (i == from || i - from > max_bytes) return std::string_view::npos;
  return i;
}

bool has_at(std::string_view s, std::size_t at, char c) {
  return at < s.size() && s[at] == c;
}

std::int64_t parse_digits(std::string_view digits) {
  std::int64_t value = 0;
  for (const char c : digits) value = value * 10 + (c - '0');
  return value;
}

// Where the parts of a tag are: offsets into the line. Left uninitialised
// and filled by parse_span (zeroing or copying a RankTag on every line made
// GCC emit slow `rep stos`/`rep movs` on this hot path).
struct TagSpan {
  std::size_t rank_begin;  // the job is [1, rank_begin - 1), or - kRankLabel when rewritten
  std::size_t job_end;
  std::size_t rank_end;
  std::size_t host_end;  // == rank_end when not rewritten
  std::size_t stream_begin;
  std::size_t size;
  bool rewritten;
};

// The shortest tag, "[1,0]<stdout>:".
constexpr std::size_t kShortestTag = 14;
// The 8 bytes "stdout>:" / "stderr>:" as one word, in memory order.
std::uint64_t word_of(const char* bytes) {
  std::uint64_t word = 0;
  std::memcpy(&word, bytes, sizeof word);
  return word;
}

// The shape of nearly every line, "[" digits "," digits "]<stdout>:" (or
// stderr): fills `span` as parse_span would and says yes, or says no and
// leaves the line to parse_span (which may still find a tag).
bool parse_common_span(std::string_view line, TagSpan& span) {
  const char* const p = line.data();
  const std::size_t n = line.size();
  if (n < kShortestTag || p[0] != '[') return false;
  std::size_t at = 1;
  const std::size_t job_limit = std::min(n, 1 + kMaxJobIdBytes);
  while (at < job_limit && is_digit(p[at])) ++at;
  if (at == 1 || at >= n || p[at] != ',') return false;
  span.job_end = at;
  span.rank_begin = ++at;
  const std::size_t rank_limit = std::min(n, at + kMaxRankDigits + 1);
  while (at < rank_limit && is_digit(p[at])) ++at;
  if (at == span.rank_begin || at - span.rank_begin > kMaxRankDigits) return false;
  span.rank_end = span.host_end = at;
  static constexpr std::string_view kStdoutEnd = "stdout>:";
  static constexpr std::string_view kStderrEnd = "stderr>:";
  if (at + 2 + kStdoutEnd.size() > n || p[at] != ']' || p[at + 1] != '<') return false;
  at += 2;
  const std::uint64_t word = word_of(p + at);
  if (word != word_of(kStdoutEnd.data()) && word != word_of(kStderrEnd.data())) return false;
  span.stream_begin = at;
  span.size = at + kStdoutEnd.size();
  span.rewritten = false;
  return true;
}

// Called for every line, so written out by hand: "[" job "," ["mpirank:"]
// rank ["," host] "]<" stream ">:". Says whether the line starts with a tag.
bool parse_span(std::string_view line, TagSpan& span) {
  if (parse_common_span(line, span)) return true;
  if (line.empty() || line.front() != '[') return false;
  span.job_end = run_end(line, 1, kMaxJobIdBytes, [](char c) { return is_job_char(c); });
  if (span.job_end == std::string_view::npos || !has_at(line, span.job_end, ',')) return false;
  std::size_t at = span.job_end + 1;
  span.rewritten = line.substr(at).starts_with(kRankLabel);
  if (span.rewritten) at += kRankLabel.size();
  span.rank_begin = at;
  span.rank_end = run_end(line, at, kMaxRankDigits, [](char c) { return is_digit(c); });
  if (span.rank_end == std::string_view::npos) return false;
  at = span.host_end = span.rank_end;
  if (span.rewritten) {
    if (!has_at(line, at, ',')) return false;
    span.host_end = run_end(line, at + 1, kMaxHostBytes, [](char c) { return is_host_char(c); });
    if (span.host_end == std::string_view::npos) return false;
    at = span.host_end;
  }
  if (!has_at(line, at, ']') || !has_at(line, at + 1, '<')) return false;
  at += 2;
  for (const std::string_view name : kStreamNames) {
    if (line.substr(at).starts_with(name) && has_at(line, at + name.size(), '>') &&
        has_at(line, at + name.size() + 1, ':')) {
      span.stream_begin = at;
      span.size = at + name.size() + 2;
      return true;
    }
  }
  return false;
}

std::string_view rank_text_of(std::string_view line, const TagSpan& span) {
  return line.substr(span.rank_begin, span.rank_end - span.rank_begin);
}

}  // namespace

std::optional<RankTag> parse_rank_tag(std::string_view line) {
  TagSpan span;
  if (!parse_span(line, span)) return std::nullopt;
  RankTag tag;
  tag.job = line.substr(1, span.job_end - 1);
  tag.rank_text = rank_text_of(line, span);
  tag.rank = parse_digits(tag.rank_text);
  tag.stream = line.substr(span.stream_begin, span.size - 2 - span.stream_begin);
  tag.rewritten = span.rewritten;
  if (span.rewritten) tag.host = line.substr(span.rank_end + 1, span.host_end - span.rank_end - 1);
  tag.size = span.size;
  return tag;
}

std::string_view strip_rank_tag(std::string_view line) {
  TagSpan span;
  return parse_span(line, span) ? line.substr(span.size) : line;
}

RankTagRewriter::RankTagRewriter(std::vector<HostSlots> hosts) : hosts_(std::move(hosts)) {
  slot_ends_.reserve(hosts_.size());
  std::int64_t end = 0;
  for (const auto& h : hosts_) {
    const std::int64_t slots = std::max<std::int64_t>(h.slots, 0);
    end = slots > std::numeric_limits<std::int64_t>::max() - end ? std::numeric_limits<std::int64_t>::max()
                                                                 : end + slots;
    slot_ends_.push_back(end);
  }
  // What append_rewritten() puts in place of the rank digits, for the first
  // ranks: exactly what rewrite() builds for a rank printed without leading
  // zeros.
  for (std::int64_t rank = 0; prepared_.size() < kPreparedBytes; ++rank) {
    const std::string* host = host_of(rank);
    if (host == nullptr) break;
    prepared_.append(kRankLabel);
    prepared_.append(std::to_string(rank));
    prepared_.push_back(',');
    prepared_.append(*host);
    prepared_ends_.push_back(static_cast<std::uint32_t>(prepared_.size()));
  }
}

void ByteBuffer::grow(std::size_t bytes) {
  const std::size_t capacity = std::max(size_ + bytes, 2 * capacity_);
  auto data = std::make_unique_for_overwrite<char[]>(capacity);
  if (size_ > 0) std::memcpy(data.get(), data_.get(), size_);
  data_ = std::move(data);
  capacity_ = capacity;
}

namespace {
std::vector<HostSlots> uniform_slots(const std::vector<std::string>& hosts, std::int64_t slots_per_host) {
  std::vector<HostSlots> out;
  out.reserve(hosts.size());
  for (const auto& h : hosts) out.push_back(HostSlots{h, slots_per_host});
  return out;
}
}  // namespace

RankTagRewriter::RankTagRewriter(const std::vector<std::string>& hosts, std::int64_t slots_per_host)
    : RankTagRewriter(uniform_slots(hosts, slots_per_host)) {}

const std::string* RankTagRewriter::host_of(std::int64_t rank) const {
  if (rank < 0) return nullptr;
  // The first host whose cumulative end is beyond the rank (hosts with no
  // slots have the same end as the host before them and are skipped).
  const auto it = std::upper_bound(slot_ends_.begin(), slot_ends_.end(), rank);
  if (it == slot_ends_.end()) return nullptr;
  return &hosts_[static_cast<std::size_t>(it - slot_ends_.begin())].host;
}

std::string_view RankTagRewriter::rewrite(std::string_view line, std::string& scratch) const {
  TagSpan span;
  if (!parse_span(line, span) || span.rewritten) return line;
  const std::string_view rank_text = rank_text_of(line, span);
  const std::string* host = host_of(parse_digits(rank_text));
  if (host == nullptr) return line;
  // "[J,R]" -> "[J,mpirank:R,host]"; the rest, from "]<stream>:", unchanged.
  scratch.clear();
  scratch.reserve(line.size() + kRankLabel.size() + 1 + host->size());
  scratch.append(line.substr(0, span.rank_begin));
  scratch.append(kRankLabel);
  scratch.append(rank_text);
  scratch.push_back(',');
  scratch.append(*host);
  scratch.append(line.substr(span.rank_end));
  return scratch;
}

void RankTagRewriter::append_rewritten(std::string_view line, ByteBuffer& out, std::string& scratch) const {
  TagSpan span;
  if (parse_common_span(line, span)) {
    const std::size_t digits = span.rank_end - span.rank_begin;
    const char* const rank_text = line.data() + span.rank_begin;
    const std::int64_t rank = parse_digits({rank_text, digits});
    // Printed as std::to_string would print it: the prepared text fits.
    if (rank < static_cast<std::int64_t>(prepared_ends_.size()) && (rank_text[0] != '0' || digits == 1)) {
      const auto r = static_cast<std::size_t>(rank);
      const std::size_t from = r == 0 ? 0 : prepared_ends_[r - 1];
      const std::size_t middle = prepared_ends_[r] - from;
      const std::size_t tail = line.size() - span.rank_end;
      char* to = out.reserve_more(span.rank_begin + middle + tail);
      std::memcpy(to, line.data(), span.rank_begin);
      std::memcpy(to + span.rank_begin, prepared_.data() + from, middle);
      std::memcpy(to + span.rank_begin + middle, line.data() + span.rank_end, tail);
      out.commit(span.rank_begin + middle + tail);
      return;
    }
  }
  const std::string_view rewritten = rewrite(line, scratch);
  std::memcpy(out.reserve_more(rewritten.size()), rewritten.data(), rewritten.size());
  out.commit(rewritten.size());
}

void RankTagSink::lines(Stream stream, std::string_view block) {
  block_.clear();
  const char* const data = block.data();
  const std::size_t size = block.size();
  for (std::size_t start = 0; start < size;) {
    const void* found = std::memchr(data + start, '\n', size - start);
    const std::size_t end =
        found == nullptr ? size : static_cast<std::size_t>(static_cast<const char*>(found) - data) + 1;
    rewriter_->append_rewritten(block.substr(start, end - start), block_, scratch_);
    if (block_.size() >= kBlockBytes) {
      next_->lines(stream, block_.view());
      block_.clear();
    }
    start = end;
  }
  if (block_.size() > 0) next_->lines(stream, block_.view());
  block_.clear();
  if (block_.capacity() > 2 * kBlockBytes) block_.release();
  if (scratch_.capacity() > kRetainedScratch) std::string().swap(scratch_);
}

void RankTagSink::line(Stream stream, std::string_view bytes) {
  next_->line(stream, rewriter_->rewrite(bytes, scratch_));
  if (scratch_.capacity() > kRetainedScratch) std::string().swap(scratch_);
}

void RankTagSink::flush() {
  next_->flush();
}

}  // namespace smlaunch::exec
