// Query strings ("a=1&key=x&alt=sse") as the gate and the fake providers read
// them. Values are returned as written (not percent-decoded): the parameters
// glassbox reads (API keys, "alt") are URL-safe.
#pragma once

#include <string>
#include <string_view>

namespace glassbox {

// The value of the first parameter called `name`; "" when absent or bare.
std::string QueryParam(std::string_view query, std::string_view name);

// `query` without any parameter called `name`, the others in their order.
std::string WithoutQueryParam(std::string_view query, std::string_view name);

}  // namespace glassbox
