#include "core/byte_codec.h"

#include <fmt/format.h>

#include <cstring>

namespace glassbox {

void ByteWriter::U32(uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void ByteWriter::String(std::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

void ByteWriter::List(const std::vector<std::string>& list) {
  U32(static_cast<uint32_t>(list.size()));
  for (const std::string& s : list) String(s);
}

void ByteWriter::Double(double d) {
  char b[8];
  std::memcpy(b, &d, 8);
  out_.append(b, 8);
}

ByteReader::ByteReader(std::string_view bytes, std::string_view magic) {
  if (bytes.substr(0, magic.size()) != magic) {
    error_ = fmt::format("the data does not start with \"{}\"", magic);
    return;
  }
  rest_ = bytes.substr(magic.size());
}

bool ByteReader::Take(size_t n, std::string_view what, std::string_view* out) {
  if (!ok()) return false;
  if (rest_.size() < n) {
    error_ = fmt::format("{} needs {} bytes but {} are left", what, n, rest_.size());
    return false;
  }
  *out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return true;
}

uint32_t ByteReader::U32(std::string_view what) {
  std::string_view b;
  if (!Take(4, what, &b)) return 0;
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[static_cast<size_t>(i)]);
  return v;
}

std::string ByteReader::String(std::string_view what) {
  const uint32_t n = U32(what);
  std::string_view b;
  if (!Take(n, what, &b)) return {};
  return std::string(b);
}

std::vector<std::string> ByteReader::List(std::string_view what) {
  const uint32_t n = U32(what);
  std::vector<std::string> out;
  // Every entry takes at least 4 bytes: a damaged count cannot make us reserve much.
  if (!ok() || n > rest_.size() / 4) {
    if (ok()) error_ = fmt::format("{} claims {} entries in {} bytes", what, n, rest_.size());
    return out;
  }
  out.reserve(n);
  for (uint32_t i = 0; i < n && ok(); ++i) out.push_back(String(what));
  return out;
}

double ByteReader::Double(std::string_view what) {
  std::string_view b;
  if (!Take(8, what, &b)) return 0;
  double d;
  std::memcpy(&d, b.data(), 8);
  return d;
}

}  // namespace glassbox
