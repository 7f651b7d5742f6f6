#include "net/http.h"

#include <algorithm>
#include <charconv>

namespace glassbox::net {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool IsValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); });
}

bool IsValidHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const HeaderField& f : fields_) {
    if (EqualsIgnoreCase(f.name, name)) return std::string_view(f.value);
  }
  return std::nullopt;
}

void Headers::Add(std::string name, std::string value) {
  fields_.push_back(HeaderField{std::move(name), std::move(value)});
}

void Headers::Set(std::string_view name, std::string value) {
  auto first = std::find_if(fields_.begin(), fields_.end(),
                            [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); });
  if (first == fields_.end()) {
    fields_.push_back(HeaderField{std::string(name), std::move(value)});
    return;
  }
  first->value = std::move(value);
  auto rest = std::remove_if(first + 1, fields_.end(),
                             [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); });
  fields_.erase(rest, fields_.end());
}

size_t Headers::Remove(std::string_view name) {
  auto rest = std::remove_if(fields_.begin(), fields_.end(),
                             [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); });
  size_t n = static_cast<size_t>(fields_.end() - rest);
  fields_.erase(rest, fields_.end());
  return n;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 529:
      return "Overloaded";
    default:
      return "Unknown";
  }
}

bool ParseRequestTarget(std::string_view method, std::string_view target, ParsedTarget* out) {
  *out = ParsedTarget{};
  if (target.empty()) return false;
  if (method == "CONNECT") {
    // authority-form: host:port, no scheme, no path.
    if (target.find('/') != std::string_view::npos || target.find(':') == std::string_view::npos) {
      return false;
    }
    out->authority = std::string(target);
    return true;
  }
  std::string_view rest = target;
  if (target[0] != '/') {
    if (target == "*") {  // asterisk-form (OPTIONS *)
      out->path = "*";
      return true;
    }
    size_t sep = target.find("://");
    if (sep == std::string_view::npos) return false;
    std::string scheme(target.substr(0, sep));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), Lower);
    if (scheme != "http" && scheme != "https") return false;
    std::string_view after = target.substr(sep + 3);
    size_t slash = after.find_first_of("/?");
    std::string_view authority = after.substr(0, slash);
    if (authority.empty()) return false;
    out->scheme = std::move(scheme);
    out->authority = std::string(authority);
    out->absolute_form = true;
    rest = slash == std::string_view::npos ? std::string_view("/") : after.substr(slash);
  }
  size_t q = rest.find('?');
  out->path = std::string(rest.substr(0, q));
  if (out->path.empty()) out->path = "/";
  if (q != std::string_view::npos) out->query = std::string(rest.substr(q + 1));
  return true;
}

std::string Url::Origin() const { return scheme + "://" + HostHeader(); }

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) h += ":" + std::to_string(port);
  return h;
}

bool ParseUrl(std::string_view text, Url* out, std::string* error) {
  *out = Url{};
  auto fail = [&](const char* why) {
    *error = "'" + std::string(text) + "' is not a usable URL: " + why;
    return false;
  };
  size_t sep = text.find("://");
  if (sep == std::string_view::npos)
    return fail("expected http://host[:port][/path] or https://...");
  std::string scheme(text.substr(0, sep));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), Lower);
  if (scheme != "http" && scheme != "https") return fail("the scheme must be http or https");
  std::string_view after = text.substr(sep + 3);
  size_t slash = after.find_first_of("/?#");
  std::string_view authority = after.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view() : after.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos)
    return fail("a base URL takes no query or fragment");
  if (authority.find('@') != std::string_view::npos)
    return fail("credentials in the URL are not supported");
  std::string_view host = authority;
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    std::string_view tail = authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail[0] != ':') return fail("unexpected text after ']'");
      port_text = tail.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port_text = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return fail("the host is empty");
  uint16_t port = scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return fail("the port must be a number from 1 to 65535");
    }
    port = static_cast<uint16_t>(value);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out->scheme = std::move(scheme);
  out->host = std::string(host);
  out->port = port;
  out->base_path = std::string(path);
  return true;
}

}  // namespace glassbox::net
