#include "core/toml_strings.h"

#include <fmt/format.h>

namespace glassbox {

Status ReadTomlStrings(const toml::node* node, std::string_view key, const std::string& where,
                       std::vector<std::string>* out) {
  if (node == nullptr) return Status::Ok();
  const toml::array* arr = node->as_array();
  if (arr == nullptr)
    return Status::Error(fmt::format("{}: '{}' must be an array of strings", where, key));
  for (const toml::node& item : *arr) {
    const auto* s = item.as_string();
    if (s == nullptr)
      return Status::Error(fmt::format("{}: '{}' must hold only strings", where, key));
    out->push_back(s->get());
  }
  return Status::Ok();
}

}  // namespace glassbox
