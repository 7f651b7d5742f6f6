#include "net/sse.h"

#include <cstring>

#include "core/utf.h"

namespace glassbox::net {
namespace {

constexpr unsigned char kBom[3] = {0xEF, 0xBB, 0xBF};

// Appends `bytes` as UTF-8, each maximal invalid subpart replaced by U+FFFD
// (what the WHATWG "UTF-8 decode" of the stream produces; CR and LF never
// occur inside a sequence, so decoding line by line is the same).
void AppendDecoded(std::string_view bytes, std::string* out) {
  if (utf::IsAscii(bytes)) {
    out->append(bytes);
    return;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (size_t i = 0; i < bytes.size();) {
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, bytes.size() - i, &len);
    if (cp == utf::kInvalidCodePoint) {
      utf::AppendUtf8(0xFFFD, out);
    } else {
      out->append(bytes.substr(i, len));
    }
    i += len;
  }
}

}  // namespace

bool SseParser::CheckSize(uint64_t position) {
  if (position - block_begin_ <= options_.max_event_bytes) return true;
  status_ = Status::Error("SSE event starting at byte " + std::to_string(block_begin_) +
                          " exceeds the maximum event size of " +
                          std::to_string(options_.max_event_bytes) + " bytes");
  pending_.clear();
  pending_.shrink_to_fit();
  return false;
}

Status SseParser::Feed(std::string_view chunk, std::vector<SseBlock>* out) {
  if (!status_.ok()) return status_;
  if (finished_) return Status::Error("SSE parser fed after Finish()");
  if (chunk.empty()) return Status::Ok();
  const uint64_t base = fed_;
  fed_ += chunk.size();
  const size_t n = chunk.size();
  size_t i = 0;

  if (!bom_checked_) {
    // Gather the stream's first bytes while they are a prefix of the BOM.
    while (i < n && pending_.size() < 3 &&
           static_cast<unsigned char>(chunk[i]) == kBom[pending_.size()]) {
      pending_.push_back(chunk[i]);
      ++i;
    }
    if (pending_.size() == 3) {
      pending_.clear();  // the BOM stays inside the first block's range
      bom_checked_ = true;
    } else if (i < n) {
      bom_checked_ = true;  // not a BOM: the gathered bytes start the first line
    } else {
      return Status::Ok();
    }
  }

  if (after_cr_ && i < n) {
    after_cr_ = false;
    if (chunk[i] == '\n') ++i;
    if (!CheckSize(base + i)) return status_;
    if (dispatch_pending_) {
      dispatch_pending_ = false;
      EmitBlock(base + i, true, out);
    }
  }

  while (i < n) {
    size_t j = i;
    while (j < n && chunk[j] != '\n' && chunk[j] != '\r') ++j;
    if (j == n) {
      if (!CheckSize(base + n)) return status_;
      pending_.append(chunk.substr(i));
      break;
    }
    size_t end = j + 1;
    bool cr_at_end = false;
    if (chunk[j] == '\r') {
      if (j + 1 < n) {
        if (chunk[j + 1] == '\n') end = j + 2;
      } else {
        cr_at_end = true;
      }
    }
    if (!CheckSize(base + end)) return status_;
    std::string_view line = chunk.substr(i, j - i);
    if (!pending_.empty()) {
      pending_.append(line);
      line = pending_;
    }
    const bool blank = line.empty();
    if (!blank) ProcessLine(line);
    pending_.clear();
    i = end;
    if (cr_at_end) {
      after_cr_ = true;
      dispatch_pending_ = blank;
    } else if (blank) {
      EmitBlock(base + end, true, out);
    }
  }
  return Status::Ok();
}

Status SseParser::Finish(std::vector<SseBlock>* out) {
  if (!status_.ok()) return status_;
  if (finished_) return Status::Error("SSE parser finished twice");
  finished_ = true;
  if (dispatch_pending_) {
    dispatch_pending_ = false;
    EmitBlock(fed_, true, out);
  }
  after_cr_ = false;
  if (!pending_.empty()) {
    ProcessLine(pending_);
    pending_.clear();
  }
  if (block_begin_ < fed_) EmitBlock(fed_, false, out);
  return Status::Ok();
}

void SseParser::ProcessLine(std::string_view line) {
  if (line[0] == ':') {
    ++comments_;
    return;
  }
  std::string_view name = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    name = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  // Field names are compared as bytes: any non-ASCII byte makes a name that
  // matches none of the four, which is what decoding first would give too.
  if (name == "data") {
    AppendDecoded(value, &data_);
    data_.push_back('\n');
    has_data_ = true;
  } else if (name == "event") {
    type_.clear();
    AppendDecoded(value, &type_);
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) {
      last_event_id_.clear();
      AppendDecoded(value, &last_event_id_);
    }
  } else if (name == "retry") {
    if (value.empty()) return;
    uint64_t ms = 0;
    for (const char c : value) {
      if (c < '0' || c > '9') return;
      if (ms > (UINT64_MAX - 9) / 10) return;  // too large to be a delay
      ms = ms * 10 + static_cast<uint64_t>(c - '0');
    }
    retry_ = ms;
  }
  // Any other field is ignored.
}

void SseParser::EmitBlock(uint64_t end, bool complete, std::vector<SseBlock>* out) {
  SseBlock block;
  block.begin = block_begin_;
  block.end = end;
  block.complete = complete;
  block.dispatch = has_data_;
  block.type = type_.empty() ? "message" : std::move(type_);
  if (has_data_) {
    data_.pop_back();  // the '\n' after the last data line
    block.data = std::move(data_);
  }
  block.last_event_id = last_event_id_;
  block.retry = retry_;
  block.comment_lines = comments_;
  out->push_back(std::move(block));

  block_begin_ = end;
  has_data_ = false;
  data_.clear();
  type_.clear();
  retry_.reset();
  comments_ = 0;
}

}  // namespace glassbox::net
