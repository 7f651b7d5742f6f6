#include "gate/inbound.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include "core/json_strings.h"
#include "core/utf.h"
#include "gate/config.h"
#include "gate/text_policy.h"

namespace glassbox::gate {

namespace {

using net::Provider;
using net::Usage;

std::optional<uint64_t> ParseCount(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// Strips "$[3]" from a Gemini JSON-array stream path, so "$[3].usageMetadata.x"
// reads as "$.usageMetadata.x".
std::string_view ElementPath(std::string_view path, std::string* buffer) {
  if (!path.starts_with("$[")) return path;
  const size_t close = path.find(']');
  if (close == std::string_view::npos) return path;
  *buffer = "$" + std::string(path.substr(close + 1));
  return *buffer;
}

// An OpenAI Chat chunk that only carries usage: "choices":[] and a "usage"
// object (what stream_options.include_usage adds before [DONE]).
bool IsUsageOnlyChatChunk(std::string_view data) {
  bool empty_choices = false, usage = false, other_choice = false;
  JsonWalkOptions walk;
  walk.visit_keys = true;
  (void)ForEachJsonString(
      data,
      [&](const JsonStringVisit& v) {
        if (v.is_key && v.path == "$.usage") usage = true;
        if (v.path.starts_with("$.choices[")) other_choice = true;
      },
      walk);
  empty_choices = data.find("\"choices\":[]") != std::string_view::npos;
  return usage && empty_choices && !other_choice;
}

// Reads usage numbers from any of the providers' response shapes; a later
// value of a field replaces an earlier one.
void ReadUsage(std::string_view raw_path, std::string_view value, Usage* usage) {
  std::string buffer;
  const std::string_view path = ElementPath(raw_path, &buffer);
  std::optional<uint64_t>* field = nullptr;
  // Anthropic: usage.*, message.usage.* (streams); OpenAI Chat:
  // usage.prompt_tokens...; Responses: usage.input_tokens... and
  // response.usage.* in stream events; Gemini: usageMetadata.*.
  for (std::string_view prefix : {"$.usage.", "$.message.usage.", "$.response.usage."}) {
    if (!path.starts_with(prefix)) continue;
    const std::string_view key = path.substr(prefix.size());
    if (key == "input_tokens" || key == "prompt_tokens")
      field = &usage->input_tokens;
    else if (key == "output_tokens" || key == "completion_tokens")
      field = &usage->output_tokens;
    else if (key == "total_tokens")
      field = &usage->total_tokens;
    else if (key == "cache_read_input_tokens" || key == "prompt_tokens_details.cached_tokens" ||
             key == "input_tokens_details.cached_tokens")
      field = &usage->cache_read_tokens;
    else if (key == "cache_creation_input_tokens")
      field = &usage->cache_creation_tokens;
  }
  if (path.starts_with("$.usageMetadata.")) {
    const std::string_view key = path.substr(16);
    if (key == "promptTokenCount")
      field = &usage->input_tokens;
    else if (key == "candidatesTokenCount")
      field = &usage->output_tokens;
    else if (key == "totalTokenCount")
      field = &usage->total_tokens;
    else if (key == "cachedContentTokenCount")
      field = &usage->cache_read_tokens;
  }
  if (field != nullptr) {
    if (auto n = ParseCount(value)) *field = n;
  }
}

void MergeUsage(const Usage& from, Usage* into) {
  if (from.input_tokens) into->input_tokens = from.input_tokens;
  if (from.output_tokens) into->output_tokens = from.output_tokens;
  if (from.total_tokens) into->total_tokens = from.total_tokens;
  if (from.cache_read_tokens) into->cache_read_tokens = from.cache_read_tokens;
  if (from.cache_creation_tokens) into->cache_creation_tokens = from.cache_creation_tokens;
}

// Strips hidden text from every string value of one JSON document (model
// text, thinking, tool arguments; ids and other fields are ASCII and pass
// unchanged), recursing once into strings that hold JSON (OpenAI tool-call
// arguments). `path_prefix` is put before each finding's path.
Status StripJson(std::string_view json, const std::string& path_prefix,
                 std::vector<Finding>* findings, std::string* out, bool* changed) {
  std::function<std::optional<std::string>(std::string_view, const std::string&, int)> edit;
  edit = [&](std::string_view text, const std::string& path,
             int depth) -> std::optional<std::string> {
    if (depth < 2 && LooksLikeJson(text) && MayHoldHiddenText(text)) {
      const StringEdit inner_key = [&](std::string_view key, const std::string& p, bool) {
        return StripHiddenKey(key, path + "<json>" + p.substr(1), findings);
      };
      std::string inner;
      bool inner_changed = false;
      const Status st = EditJsonStrings(
          text,
          [&](std::string_view s, const std::string& p, bool) {
            return edit(s, path + "<json>" + p.substr(1), depth + 1);
          },
          &inner, &inner_changed, 64, nullptr, &inner_key);
      if (st.ok())
        return inner_changed ? std::optional<std::string>(std::move(inner)) : std::nullopt;
    }
    return StripHiddenText(text, path, findings);
  };
  // Keys too: tool-call argument keys and tool_use input keys.
  const StringEdit strip_key = [&](std::string_view key, const std::string& path, bool) {
    return StripHiddenKey(key, path_prefix + path, findings);
  };
  return EditJsonStrings(
      json,
      [&](std::string_view s, const std::string& path, bool) {
        return edit(s, path_prefix + path, 0);
      },
      out, changed, 256, nullptr, &strip_key);
}

Finding GateFinding(std::string_view rule, Severity severity, std::string message) {
  Finding f;
  f.rule = std::string(rule);
  f.severity = severity;
  f.message = std::move(message);
  return f;
}

std::string HexDigest(EVP_MD_CTX* ctx) {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, ctx);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy, digest, &len);
  EVP_MD_CTX_free(copy);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

}  // namespace

InboundResult InboundJson(std::string_view body, const InboundOptions& options) {
  InboundResult r;
  r.original_sha256 = Sha256Hex(body);
  JsonWalkOptions walk;
  walk.visit_keys = false;
  walk.visit_scalars = true;
  walk.max_depth = 256;
  Status st = ForEachJsonString(
      body,
      [&](const JsonStringVisit& v) {
        if (!v.is_string) ReadUsage(v.path, v.decoded, &r.usage);
      },
      walk);
  if (!st.ok() || !utf::IsValidUtf8(body)) {
    r.body = std::string(body);
    r.checked = false;
    r.findings.push_back(GateFinding(
        "gate/unchecked-response", Severity::kMedium,
        fmt::format("the {} response body is not valid JSON in UTF-8 and was forwarded unchecked{}",
                    net::ProviderName(options.provider), st.ok() ? "" : ": " + st.message())));
    return r;
  }
  if (options.strip_hidden && MayHoldHiddenText(body)) {
    std::string out;
    bool changed = false;
    st = StripJson(body, "", &r.findings, &out, &changed);
    if (st.ok() && changed) {
      r.body = std::move(out);
      r.changed = true;
      return r;
    }
  } else if (!options.strip_hidden && MayHoldHiddenText(body)) {
    // Findings only: run the same edit and drop its output.
    std::string out;
    bool changed = false;
    (void)StripJson(body, "", &r.findings, &out, &changed);
  }
  r.body = std::string(body);
  return r;
}

struct InboundStream::Impl {
  InboundOptions options;
  net::SseParser parser;
  EVP_MD_CTX* sha = nullptr;
  std::string pending;        // raw bytes not yet forwarded
  uint64_t pending_base = 0;  // stream offset of pending[0]
  bool broken = false;        // framing failed: forward the rest unchecked
  bool finished = false;
  bool saw_done = false;
  bool saw_error = false;
  bool truncated = false;
  uint64_t unchecked = 0;
  uint64_t in = 0;
  uint64_t out = 0;
  uint64_t events = 0;
  uint64_t text_bytes = 0;
  std::vector<Finding> findings;
  Usage usage;
  // What tag characters spelled, event by event, to report text hidden
  // across several deltas.
  std::string tag_decoded;
  size_t tag_events = 0;
  std::vector<net::SseBlock> blocks;

  explicit Impl(InboundOptions o) : options(o), parser(net::SseOptions{o.max_event_bytes}) {
    sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sha, EVP_sha256(), nullptr);
  }
  ~Impl() { EVP_MD_CTX_free(sha); }

  void Unchecked(uint64_t bytes, std::string message) {
    unchecked += bytes;
    findings.push_back(GateFinding("gate/unchecked-stream", Severity::kMedium, std::move(message)));
  }

  // Rebuilds one SSE block with new data: the first data line carries the
  // new data (one line per line of it), further data lines are dropped,
  // every other line (event:, id:, comments) and each line's ending is kept.
  static std::string RewriteBlock(std::string_view raw, std::string_view data) {
    std::string out;
    bool data_written = false;
    size_t i = 0;
    while (i < raw.size()) {
      size_t end = raw.find_first_of("\r\n", i);
      size_t next;
      if (end == std::string_view::npos) {
        end = next = raw.size();
      } else if (raw[end] == '\r' && end + 1 < raw.size() && raw[end + 1] == '\n') {
        next = end + 2;
      } else {
        next = end + 1;
      }
      const std::string_view line = raw.substr(i, end - i);
      const std::string_view ending = raw.substr(end, next - end);
      const bool is_data = line == "data" || line.starts_with("data:");
      if (!is_data) {
        out.append(raw.substr(i, next - i));
      } else if (!data_written) {
        data_written = true;
        size_t p = 0;
        while (true) {
          const size_t nl = data.find('\n', p);
          out.append("data: ");
          out.append(
              data.substr(p, nl == std::string_view::npos ? std::string_view::npos : nl - p));
          out.append(ending.empty() ? std::string_view("\n") : ending);
          if (nl == std::string_view::npos) break;
          p = nl + 1;
        }
      }
      i = next;
    }
    return out;
  }

  // Decides what to forward for one complete block.
  void Handle(const net::SseBlock& block, std::string_view raw, std::string* forward) {
    if (!block.dispatch) {
      forward->append(raw);
      return;
    }
    ++events;
    Result<net::ProviderEvent> ev = net::ParseProviderEvent(options.provider, block);
    if (!ev.ok()) {
      Unchecked(raw.size(),
                fmt::format("stream event {} ({} bytes at offset {}) was forwarded unchecked: {}",
                            events, raw.size(), block.begin, ev.status().message()));
      forward->append(raw);
      return;
    }
    if (ev->is_error) saw_error = true;
    if (ev->is_done) saw_done = true;
    // OpenAI Responses events: "response.completed" ends the stream, and
    // its usage sits under response.usage.
    const std::string_view type =
        block.type != "message" ? std::string_view(block.type) : std::string_view(ev->type);
    if (type == "response.completed" || type == "response.incomplete" || type == "response.failed")
      saw_done = true;
    if (type == "response.failed" || type == "error") saw_error = true;
    MergeUsage(ev->usage, &usage);
    for (const net::TextPiece& piece : ev->pieces) text_bytes += piece.text.size();
    if (options.drop_usage_chunk && ev->usage.any() && IsUsageOnlyChatChunk(block.data)) return;
    if (type.starts_with("response.")) {
      JsonWalkOptions walk;
      walk.visit_keys = false;
      walk.visit_scalars = true;
      Usage u;
      (void)ForEachJsonString(
          block.data,
          [&](const JsonStringVisit& v) {
            if (!v.is_string) ReadUsage(v.path, v.decoded, &u);
          },
          walk);
      MergeUsage(u, &usage);
    }
    if (!MayHoldHiddenText(block.data)) {
      forward->append(raw);
      return;
    }
    const size_t before = findings.size();
    std::string data;
    bool changed = false;
    const Status st =
        StripJson(block.data, fmt::format("event[{}]", events), &findings, &data, &changed);
    for (size_t k = before; k < findings.size(); ++k) {
      findings[k].byte_offset += block.begin;  // relative to the stream, roughly: the event's start
      if (findings[k].rule == "unicode/tag-characters") {
        tag_decoded += findings[k].decoded;
        ++tag_events;
      }
    }
    if (!st.ok() || !changed || !options.strip_hidden) {
      forward->append(raw);
      return;
    }
    forward->append(RewriteBlock(raw, data));
  }

  void Forward(std::string* forward) {
    for (const net::SseBlock& block : blocks) {
      const std::string_view raw =
          std::string_view(pending).substr(block.begin - pending_base, block.end - block.begin);
      Handle(block, raw, forward);
    }
    if (!blocks.empty()) {
      const uint64_t consumed = blocks.back().end - pending_base;
      pending.erase(0, consumed);
      pending_base += consumed;
    }
    blocks.clear();
  }
};

uint64_t InboundStream::output_text_bytes() const { return impl_->text_bytes; }

InboundStream::InboundStream(InboundOptions options) : impl_(std::make_unique<Impl>(options)) {}
InboundStream::~InboundStream() = default;

std::string InboundStream::Feed(std::string_view bytes) {
  Impl& s = *impl_;
  std::string forward;
  if (s.finished) return forward;
  s.in += bytes.size();
  EVP_DigestUpdate(s.sha, bytes.data(), bytes.size());
  if (s.broken) {
    s.unchecked += bytes.size();
    s.out += bytes.size();
    return std::string(bytes);
  }
  s.pending.append(bytes);
  const Status st = s.parser.Feed(bytes, &s.blocks);
  s.Forward(&forward);
  if (!st.ok()) {
    s.broken = true;
    s.Unchecked(s.pending.size(),
                fmt::format("the stream's framing broke at offset {} ({}); the rest was forwarded "
                            "unchecked",
                            s.pending_base, st.message()));
    forward.append(s.pending);
    s.pending_base += s.pending.size();
    s.pending.clear();
  }
  s.out += forward.size();
  return forward;
}

std::string InboundStream::Finish() {
  Impl& s = *impl_;
  std::string forward;
  if (s.finished) return forward;
  s.finished = true;
  if (!s.broken) {
    const Status st = s.parser.Finish(&s.blocks);
    for (const net::SseBlock& block : s.blocks) {
      if (!block.complete) {
        const std::string_view raw = std::string_view(s.pending).substr(
            block.begin - s.pending_base, block.end - block.begin);
        const bool blank = raw.find_first_not_of("\r\n") == std::string_view::npos;
        if (!blank) {
          s.truncated = true;
          s.Unchecked(
              raw.size(),
              fmt::format("the stream ended inside an event ({} bytes at offset {}); they were "
                          "forwarded unchecked",
                          raw.size(), block.begin));
        }
      }
    }
    // Complete blocks first, then the incomplete tail as it came.
    std::vector<net::SseBlock> complete_blocks;
    for (net::SseBlock& b : s.blocks) {
      if (b.complete) complete_blocks.push_back(std::move(b));
    }
    s.blocks = std::move(complete_blocks);
    s.Forward(&forward);
    forward.append(s.pending);
    s.pending_base += s.pending.size();
    s.pending.clear();
    (void)st;
  }
  if (s.tag_events > 1) {
    Finding f = GateFinding("unicode/tag-characters", Severity::kHigh,
                            fmt::format("tag characters spread over {} stream events spell \"{}\"",
                                        s.tag_events, s.tag_decoded));
    f.decoded = s.tag_decoded;
    s.findings.push_back(std::move(f));
  }
  s.out += forward.size();
  return forward;
}

bool InboundStream::complete() const {
  return impl_->finished && impl_->saw_done && !impl_->truncated && !impl_->broken;
}
bool InboundStream::saw_error() const { return impl_->saw_error; }
uint64_t InboundStream::unchecked_bytes() const { return impl_->unchecked; }
uint64_t InboundStream::bytes_in() const { return impl_->in; }
uint64_t InboundStream::bytes_out() const { return impl_->out; }
std::string InboundStream::original_sha256() const { return HexDigest(impl_->sha); }
const std::vector<Finding>& InboundStream::findings() const { return impl_->findings; }
const net::Usage& InboundStream::usage() const { return impl_->usage; }

}  // namespace glassbox::gate
