#include "exec/rank_tags.hpp"

#include <algorithm>
#include <array>
#include <limits>

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

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// ORTE prints a number; PMIx prints the namespace part after '@', which is a
// number for mpirun jobs, or a whole namespace like prterun-host-1234.
bool is_job_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
}

bool is_host_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > ' ' && c != ']' && c != '[' && c != ',' && u != 0x7f;
}

// A cursor over the line; each take_* returns what it consumed ("" or false
// when the bytes do not fit).
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool take(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool take(std::string_view word) {
    if (text_.substr(pos_).starts_with(word)) {
      pos_ += word.size();
      return true;
    }
    return false;
  }
  template <typename Pred>
  std::string_view take_while(Pred pred, std::size_t max_bytes) {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && pos_ - start <= max_bytes && pred(text_[pos_])) ++pos_;
    if (pos_ - start > max_bytes) return {};
    return text_.substr(start, pos_ - start);
  }
  [[nodiscard]] std::size_t pos() const { return pos_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

std::int64_t parse_digits(std::string_view digits) {
  std::int64_t value = 0;
  for (const char c : digits) value = value * 10 + (c - '0');
  return value;
}

}  // namespace

std::optional<RankTag> parse_rank_tag(std::string_view line) {
  if (line.empty() || line.front() != '[') return std::nullopt;  // the common case, cheaply
  Cursor at(line);
  RankTag tag;
  at.take('[');
  tag.job = at.take_while(is_job_char, kMaxJobIdBytes);
  if (tag.job.empty() || !at.take(',')) return std::nullopt;
  tag.rewritten = at.take(kRankLabel);
  tag.rank_text = at.take_while(is_digit, kMaxRankDigits);
  if (tag.rank_text.empty()) return std::nullopt;
  tag.rank = parse_digits(tag.rank_text);
  if (tag.rewritten) {
    if (!at.take(',')) return std::nullopt;
    tag.host = at.take_while(is_host_char, kMaxHostBytes);
    if (tag.host.empty()) return std::nullopt;
  }
  if (!at.take(']') || !at.take('<')) return std::nullopt;
  const auto name = std::find_if(kStreamNames.begin(), kStreamNames.end(),
                                 [&](std::string_view s) { return line.substr(at.pos()).starts_with(s); });
  if (name == kStreamNames.end()) return std::nullopt;
  tag.stream = line.substr(at.pos(), name->size());
  at.take(*name);
  if (!at.take('>') || !at.take(':')) return std::nullopt;
  tag.size = at.pos();
  return tag;
}

std::string_view strip_rank_tag(std::string_view line) {
  const auto tag = parse_rank_tag(line);
  return tag ? line.substr(tag->size) : line;
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
  const auto tag = parse_rank_tag(line);
  if (!tag || tag->rewritten) return line;
  const std::string* host = host_of(tag->rank);
  if (host == nullptr) return line;
  // "[J,R]" -> "[J,mpirank:R,host]"; the rest, from "]<stream>:", unchanged.
  const std::size_t bracket = 1 + tag->job.size() + 1 + tag->rank_text.size();
  scratch.clear();
  scratch.reserve(line.size() + kRankLabel.size() + 1 + host->size());
  scratch.append(line.substr(0, 1 + tag->job.size() + 1));
  scratch.append(kRankLabel);
  scratch.append(tag->rank_text);
  scratch.push_back(',');
  scratch.append(*host);
  scratch.append(line.substr(bracket));
  return scratch;
}

void RankTagSink::line(Stream stream, std::string_view bytes) {
  next_->line(stream, rewriter_->rewrite(bytes, scratch_));
  if (scratch_.capacity() > kRetainedScratch) std::string().swap(scratch_);
}

void RankTagSink::flush() { next_->flush(); }

}  // namespace smlaunch::exec
