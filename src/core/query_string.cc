#include "core/query_string.h"

namespace glassbox {
namespace {

// Calls fn(pair, name_of_pair) for each '&'-separated pair.
template <typename Fn>
void ForEachPair(std::string_view query, Fn fn) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!fn(pair, pair.substr(0, pair.find('=')))) return;
    if (amp == std::string_view::npos) return;
    query.remove_prefix(amp + 1);
  }
}

}  // namespace

std::string QueryParam(std::string_view query, std::string_view name) {
  std::string value;
  ForEachPair(query, [&](std::string_view pair, std::string_view key) {
    if (key != name) return true;
    if (key.size() < pair.size()) value = std::string(pair.substr(key.size() + 1));
    return false;
  });
  return value;
}

std::string WithoutQueryParam(std::string_view query, std::string_view name) {
  std::string out;
  ForEachPair(query, [&](std::string_view pair, std::string_view key) {
    if (key != name) {
      if (!out.empty()) out.push_back('&');
      out.append(pair);
    }
    return true;
  });
  return out;
}

}  // namespace glassbox
