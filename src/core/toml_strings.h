// Reading a list of strings out of a TOML rule file, with the message every
// rule loader gives for a malformed one.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace glassbox {

// Appends the strings of the array `node` (the value of `key`) to *out. A
// missing key (nullptr) is fine; anything but an array of strings is an error
// naming `where` and `key`.
Status ReadTomlStrings(const toml::node* node, std::string_view key, const std::string& where,
                       std::vector<std::string>* out);

}  // namespace glassbox
