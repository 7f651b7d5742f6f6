#include "gate/translate/json_util.h"

#include <charconv>
#include <memory>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace glassbox::gate::translate::internal {

Result<json::object> ParseObject(std::string_view body, std::string_view what, json::storage_ptr storage) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, std::move(storage));
  if (ec) return Status::Error(std::string(what) + " is not JSON: " + ec.message());
  if (!v.is_object()) return Status::Error(std::string(what) + " is not a JSON object");
  return std::move(v.as_object());
}

namespace {
constexpr size_t kArenaBytes = size_t{1} << 20;
struct ThreadArena {
  std::unique_ptr<unsigned char[]> buffer;
  bool in_use = false;
};
thread_local ThreadArena thread_arena;
}  // namespace

ParseArena::ParseArena() {
  ThreadArena& a = thread_arena;
  if (!a.in_use) {
    if (!a.buffer) a.buffer = std::make_unique<unsigned char[]>(kArenaBytes);
    a.in_use = owns_buffer_ = true;
    storage_ = json::make_shared_resource<json::monotonic_resource>(a.buffer.get(), kArenaBytes);
  } else {
    storage_ = json::make_shared_resource<json::monotonic_resource>();
  }
}

ParseArena::~ParseArena() {
  storage_ = {};
  if (owns_buffer_) thread_arena.in_use = false;
}

std::optional<int64_t> ExactInt(const json::value& v) {
  boost::system::error_code ec;
  const int64_t n = v.to_number<int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

const json::value* Get(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

const json::object* GetObject(const json::object& o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* GetArray(const json::object& o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
}

std::string_view GetString(const json::object& o, std::string_view key) {
  const json::value* v = Get(o, key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string_view(v->as_string().data(), v->as_string().size());
}

bool IsString(const json::object& o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_string();
}

std::string Path(std::string_view base, size_t index) {
  return std::string(base) + "[" + std::to_string(index) + "]";
}

Status Untranslatable(std::string_view field, std::string_view reason) {
  return Status::Error(std::string(field) + ": " + std::string(reason));
}

namespace {

// Appends `s` as a JSON string literal. Boost.JSON's parser has checked the
// UTF-8, so only '"', '\\' and control characters need escapes; runs
// without them (nearly all of a prompt) are found 16 bytes at a time and
// appended whole. Boost 1.81's serialize() escapes byte by byte (about
// 4 ms per MB here); this is about 30 times faster.
void AppendString(std::string_view s, std::string* out) {
  out->push_back('"');
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    const char* run = p;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), limit = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(x, limit), limit);  // x <= 0x1F
      const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)), control);
      const int mask = _mm_movemask_epi8(hit);
      if (mask != 0) {
        p += __builtin_ctz(static_cast<unsigned>(mask));
        break;
      }
      p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) ++p;
    out->append(run, static_cast<size_t>(p - run));
    if (p == end) break;
    const unsigned char c = static_cast<unsigned char>(*p++);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(esc, 6);
      }
    }
  }
  out->push_back('"');
}

void AppendValue(const json::value& v, std::string* out) {
  switch (v.kind()) {
    case json::kind::null:
      out->append("null");
      return;
    case json::kind::bool_:
      out->append(v.get_bool() ? "true" : "false");
      return;
    case json::kind::int64:
    case json::kind::uint64: {
      char digits[24];
      auto [end, ec] = v.is_int64() ? std::to_chars(digits, digits + sizeof(digits), v.get_int64())
                                    : std::to_chars(digits, digits + sizeof(digits), v.get_uint64());
      out->append(digits, static_cast<size_t>(end - digits));
      return;
    }
    case json::kind::double_:
      out->append(json::serialize(v));  // Boost's shortest round-trip form
      return;
    case json::kind::string:
      AppendString(std::string_view(v.get_string().data(), v.get_string().size()), out);
      return;
    case json::kind::array: {
      out->push_back('[');
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out->push_back(',');
        first = false;
        AppendValue(e, out);
      }
      out->push_back(']');
      return;
    }
    case json::kind::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out->push_back(',');
        first = false;
        AppendString(std::string_view(kv.key().data(), kv.key().size()), out);
        out->push_back(':');
        AppendValue(kv.value(), out);
      }
      out->push_back('}');
      return;
    }
  }
}

// An upper bound hint for the output size (strings dominate).
size_t SizeHint(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return v.get_string().size() + 8;
    case json::kind::array: {
      size_t n = 2;
      for (const json::value& e : v.get_array()) n += SizeHint(e) + 1;
      return n;
    }
    case json::kind::object: {
      size_t n = 2;
      for (const auto& kv : v.get_object()) n += kv.key().size() + 4 + SizeHint(kv.value());
      return n;
    }
    default:
      return 24;
  }
}

}  // namespace

std::string Dump(const json::value& v) {
  std::string out;
  out.reserve(SizeHint(v));
  AppendValue(v, &out);
  return out;
}

Result<json::object> ParseArguments(std::string_view text, std::string_view what) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::Error(std::string(what) + ": the tool call's arguments are not a JSON object");
  }
  return std::move(v.as_object());
}

std::string WithPrefix(std::string_view id, std::string_view prefix) {
  if (id.starts_with(prefix)) return std::string(id);
  return std::string(prefix) + std::string(id);
}

void CapMaxTokens(json::object* chat, uint64_t cap, std::vector<std::string>* notes) {
  if (cap == 0) return;
  auto it = chat->find("max_tokens");
  if (it == chat->end() || !it->value().is_number()) return;
  const double asked = it->value().to_number<double>();
  if (asked <= static_cast<double>(cap)) return;
  notes->push_back("max_tokens " + Dump(it->value()) + " lowered to the upstream's max_tokens " + std::to_string(cap));
  it->value() = cap;
}

std::string ToolCallId(std::string_view id, std::string_view response_id, size_t index) {
  if (!id.empty()) return std::string(id);
  return "call_" + std::string(response_id) + "_" + std::to_string(index);
}

void AppendSse(std::string* out, std::string_view type, const json::value& data) {
  if (!type.empty()) {
    out->append("event: ");
    out->append(type);
    out->push_back('\n');
  }
  out->append("data: ");
  AppendValue(data, out);
  out->append("\n\n");
}

std::string_view ChatFinishToAnthropic(std::string_view finish) {
  if (finish == "length") return "max_tokens";
  if (finish == "tool_calls" || finish == "function_call") return "tool_use";
  if (finish == "content_filter") return "refusal";
  return "end_turn";
}

}  // namespace glassbox::gate::translate::internal
