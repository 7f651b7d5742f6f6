// Minimal, bounds-checked header walks of ELF, Mach-O and PE files. Written
// for hostile input: every table size is checked against the file before use
// and counts are capped, so a fuzzed header costs at most a few thousand
// iterations.
#include "audit/object_file.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <string>

namespace glassbox::audit {
namespace {

constexpr std::uint32_t kMaxTableEntries = 65536;

bool InRange(std::string_view file, std::uint64_t offset, std::uint64_t size) {
  return offset <= file.size() && size <= file.size() - offset;
}

template <typename T>
std::optional<T> Read(std::string_view file, std::uint64_t offset, bool big_endian = false) {
  if (!InRange(file, offset, sizeof(T))) return std::nullopt;
  unsigned char b[sizeof(T)];
  std::memcpy(b, file.data() + offset, sizeof(T));
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    size_t k = big_endian ? i : sizeof(T) - 1 - i;
    v = static_cast<T>((v << 8) | b[k]);
  }
  return v;
}

// A fixed-size, NUL-padded name field equal to `want`.
bool NameIs(std::string_view file, std::uint64_t offset, size_t field, std::string_view want) {
  if (!InRange(file, offset, field) || want.size() > field) return false;
  std::string_view got(file.data() + offset, field);
  got = got.substr(0, std::min(got.find('\0'), got.size()));
  return got == want;
}

// --- ELF -------------------------------------------------------------------

struct ElfHeader {
  bool is64 = false;
  bool big_endian = false;
  std::uint64_t phoff = 0, shoff = 0;
  std::uint32_t phentsize = 0, phnum = 0, shentsize = 0, shnum = 0, shstrndx = 0;
};

std::optional<ElfHeader> ReadElfHeader(std::string_view file) {
  if (file.size() < 52 || std::memcmp(file.data(),
                                      "\x7f"
                                      "ELF",
                                      4) != 0)
    return std::nullopt;
  ElfHeader h;
  h.is64 = file[4] == 2;
  h.big_endian = file[5] == 2;
  bool be = h.big_endian;
  if (h.is64) {
    if (file.size() < 64) return std::nullopt;
    h.phoff = *Read<std::uint64_t>(file, 32, be);
    h.shoff = *Read<std::uint64_t>(file, 40, be);
    h.phentsize = *Read<std::uint16_t>(file, 54, be);
    h.phnum = *Read<std::uint16_t>(file, 56, be);
    h.shentsize = *Read<std::uint16_t>(file, 58, be);
    h.shnum = *Read<std::uint16_t>(file, 60, be);
    h.shstrndx = *Read<std::uint16_t>(file, 62, be);
  } else {
    h.phoff = *Read<std::uint32_t>(file, 28, be);
    h.shoff = *Read<std::uint32_t>(file, 32, be);
    h.phentsize = *Read<std::uint16_t>(file, 42, be);
    h.phnum = *Read<std::uint16_t>(file, 44, be);
    h.shentsize = *Read<std::uint16_t>(file, 46, be);
    h.shnum = *Read<std::uint16_t>(file, 48, be);
    h.shstrndx = *Read<std::uint16_t>(file, 50, be);
  }
  return h;
}

struct ElfSection {
  std::uint32_t name = 0, type = 0;
  std::uint64_t offset = 0, size = 0;
};

std::optional<ElfSection> ReadElfSection(std::string_view file, const ElfHeader& h,
                                         std::uint32_t i) {
  if (h.shentsize < (h.is64 ? 64u : 40u)) return std::nullopt;
  std::uint64_t at = h.shoff + std::uint64_t{i} * h.shentsize;
  if (!InRange(file, at, h.shentsize)) return std::nullopt;
  bool be = h.big_endian;
  ElfSection s;
  s.name = *Read<std::uint32_t>(file, at, be);
  s.type = *Read<std::uint32_t>(file, at + 4, be);
  if (h.is64) {
    s.offset = *Read<std::uint64_t>(file, at + 24, be);
    s.size = *Read<std::uint64_t>(file, at + 32, be);
  } else {
    s.offset = *Read<std::uint32_t>(file, at + 16, be);
    s.size = *Read<std::uint32_t>(file, at + 20, be);
  }
  return s;
}

std::optional<FileSpan> FindElfSection(std::string_view file, std::string_view name) {
  auto h = ReadElfHeader(file);
  if (!h || h->shnum == 0 || h->shstrndx >= h->shnum) return std::nullopt;
  auto strtab = ReadElfSection(file, *h, h->shstrndx);
  if (!strtab || !InRange(file, strtab->offset, strtab->size)) return std::nullopt;
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(h->shnum, kMaxTableEntries); ++i) {
    auto s = ReadElfSection(file, *h, i);
    if (!s) return std::nullopt;
    if (s->name >= strtab->size || s->type == 8 /*SHT_NOBITS*/) continue;
    std::string_view names(file.data() + strtab->offset + s->name, strtab->size - s->name);
    names = names.substr(0, std::min(names.find('\0'), names.size()));
    if (names == name && InRange(file, s->offset, s->size)) return FileSpan{s->offset, s->size};
  }
  return std::nullopt;
}

// Walks the notes in [offset, offset+size) and appends the descriptors named
// `name`.
void WalkElfNotes(std::string_view file, bool be, std::uint64_t offset, std::uint64_t size,
                  std::string_view name, std::vector<FileSpan>* out) {
  if (!InRange(file, offset, size)) return;
  std::uint64_t at = offset, end = offset + size;
  for (int n = 0; n < 100000 && at + 12 <= end; ++n) {
    std::uint64_t namesz = *Read<std::uint32_t>(file, at, be);
    std::uint64_t descsz = *Read<std::uint32_t>(file, at + 4, be);
    std::uint64_t name_at = at + 12;
    std::uint64_t desc_at = name_at + ((namesz + 3) & ~std::uint64_t{3});
    std::uint64_t next = desc_at + ((descsz + 3) & ~std::uint64_t{3});
    if (desc_at > end || descsz > end - desc_at) return;
    std::string_view got(file.data() + name_at, namesz);
    if (!got.empty() && got.back() == '\0') got.remove_suffix(1);
    if (got == name) {
      FileSpan span{desc_at, descsz};
      bool seen = std::any_of(out->begin(), out->end(),
                              [&](const FileSpan& s) { return s.offset == span.offset; });
      if (!seen) out->push_back(span);
    }
    at = next;
  }
}

// --- Mach-O ----------------------------------------------------------------

std::optional<FileSpan> FindMachOSectionThin(std::string_view file, std::uint64_t base,
                                             std::string_view segment, std::string_view section) {
  std::string_view slice = file.substr(std::min<std::uint64_t>(base, file.size()));
  auto magic = Read<std::uint32_t>(slice, 0);
  if (!magic || *magic != 0xfeedfacf) return std::nullopt;  // 64-bit little-endian only
  auto ncmds_field = Read<std::uint32_t>(slice, 16);
  if (!ncmds_field) return std::nullopt;
  std::uint32_t ncmds = *ncmds_field;
  std::uint64_t at = 32;
  for (std::uint32_t c = 0; c < std::min(ncmds, kMaxTableEntries); ++c) {
    auto cmd = Read<std::uint32_t>(slice, at);
    auto cmdsize = Read<std::uint32_t>(slice, at + 4);
    if (!cmd || !cmdsize || *cmdsize < 8) return std::nullopt;
    if (*cmd == 0x19 /*LC_SEGMENT_64*/ && NameIs(slice, at + 8, 16, segment)) {
      auto nsects = Read<std::uint32_t>(slice, at + 64);
      if (!nsects) return std::nullopt;
      for (std::uint32_t s = 0; s < std::min(*nsects, kMaxTableEntries); ++s) {
        std::uint64_t sect = at + 72 + std::uint64_t{s} * 80;
        if (sect + 80 > at + *cmdsize) break;
        if (!NameIs(slice, sect, 16, section)) continue;
        auto size = Read<std::uint64_t>(slice, sect + 40);
        auto offset = Read<std::uint32_t>(slice, sect + 48);
        if (!size || !offset || !InRange(slice, *offset, *size)) return std::nullopt;
        return FileSpan{base + *offset, *size};
      }
    }
    at += *cmdsize;
  }
  return std::nullopt;
}

std::optional<FileSpan> FindMachOSection(std::string_view file, std::string_view segment,
                                         std::string_view section) {
  auto magic = Read<std::uint32_t>(file, 0, /*big_endian=*/true);
  if (magic && *magic == 0xcafebabe) {
    auto count = Read<std::uint32_t>(file, 4, true);
    if (!count || *count > 64) return std::nullopt;  // > 64 also rules out Java class files
    std::uint32_t n = *count;
    for (std::uint32_t i = 0; i < n; ++i) {
      auto offset = Read<std::uint32_t>(file, 8 + i * 20 + 8, true);
      if (!offset) return std::nullopt;
      if (auto found = FindMachOSectionThin(file, *offset, segment, section)) return found;
    }
    return std::nullopt;
  }
  return FindMachOSectionThin(file, 0, segment, section);
}

// --- PE --------------------------------------------------------------------

std::optional<std::uint64_t> PeHeaderOffset(std::string_view file) {
  if (file.size() < 64 || file[0] != 'M' || file[1] != 'Z') return std::nullopt;
  std::uint64_t pe = *Read<std::uint32_t>(file, 0x3c);
  if (!InRange(file, pe, 24) || std::memcmp(file.data() + pe, "PE\0\0", 4) != 0)
    return std::nullopt;
  return pe;
}

std::optional<FileSpan> FindPeSection(std::string_view file, std::string_view name) {
  auto pe = PeHeaderOffset(file);
  if (!pe) return std::nullopt;
  std::uint32_t nsections = *Read<std::uint16_t>(file, *pe + 6);
  std::uint32_t optional_size = *Read<std::uint16_t>(file, *pe + 20);
  std::uint64_t table = *pe + 24 + optional_size;
  std::string_view want = name.substr(0, 8);
  for (std::uint32_t i = 0; i < nsections; ++i) {
    std::uint64_t at = table + std::uint64_t{i} * 40;
    if (!InRange(file, at, 40)) return std::nullopt;
    if (!NameIs(file, at, 8, want)) continue;
    std::uint64_t virtual_size = *Read<std::uint32_t>(file, at + 8);
    std::uint64_t raw_size = *Read<std::uint32_t>(file, at + 16);
    std::uint64_t raw_offset = *Read<std::uint32_t>(file, at + 20);
    std::uint64_t size = virtual_size != 0 ? std::min(virtual_size, raw_size) : raw_size;
    if (!InRange(file, raw_offset, size)) return std::nullopt;
    return FileSpan{raw_offset, size};
  }
  return std::nullopt;
}

}  // namespace

const char* ObjectFormatName(ObjectFormat format) {
  switch (format) {
    case ObjectFormat::kElf:
      return "elf";
    case ObjectFormat::kMachO:
      return "mach-o";
    case ObjectFormat::kPe:
      return "pe";
    case ObjectFormat::kNone:
      break;
  }
  return "";
}

namespace {

std::string ElfDamage(std::string_view file) {
  auto h = ReadElfHeader(file);
  if (!h) return "the ELF header is cut short";
  if (file[4] != 1 && file[4] != 2)
    return fmt::format("unknown ELF class {}", static_cast<int>(file[4]));
  if (h->phnum > 0) {
    if (h->phentsize < (h->is64 ? 56u : 32u))
      return fmt::format("program header entries of {} bytes", h->phentsize);
    if (!InRange(file, h->phoff, std::uint64_t{h->phnum} * h->phentsize)) {
      return fmt::format(
          "the program header table ({} entries at offset {}) runs past the end of the file",
          h->phnum, h->phoff);
    }
    for (std::uint32_t i = 0; i < h->phnum; ++i) {
      const std::uint64_t at = h->phoff + std::uint64_t{i} * h->phentsize;
      const bool be = h->big_endian;
      const std::uint64_t offset =
          h->is64 ? *Read<std::uint64_t>(file, at + 8, be) : *Read<std::uint32_t>(file, at + 4, be);
      const std::uint64_t filesz = h->is64 ? *Read<std::uint64_t>(file, at + 32, be)
                                           : *Read<std::uint32_t>(file, at + 16, be);
      if (!InRange(file, offset, filesz)) {
        return fmt::format("segment {} ({} bytes at offset {}) runs past the end of the file", i,
                           filesz, offset);
      }
    }
  }
  if (h->shnum > 0) {
    if (h->shentsize < (h->is64 ? 64u : 40u))
      return fmt::format("section header entries of {} bytes", h->shentsize);
    if (!InRange(file, h->shoff, std::uint64_t{h->shnum} * h->shentsize)) {
      return fmt::format(
          "the section header table ({} entries at offset {}) runs past the end of the file",
          h->shnum, h->shoff);
    }
    if (h->shstrndx >= h->shnum)
      return fmt::format("the section name table index {} is out of range", h->shstrndx);
    for (std::uint32_t i = 0; i < h->shnum; ++i) {
      auto sec = ReadElfSection(file, *h, i);
      if (!sec) return fmt::format("section {} cannot be read", i);
      if (sec->type != 8 /*SHT_NOBITS*/ && sec->type != 0 &&
          !InRange(file, sec->offset, sec->size)) {
        return fmt::format("section {} ({} bytes at offset {}) runs past the end of the file", i,
                           sec->size, sec->offset);
      }
    }
  }
  return "";
}

}  // namespace

std::string ObjectDamage(std::string_view file) {
  switch (DetectObjectFormat(file)) {
    case ObjectFormat::kElf:
      return ElfDamage(file);
    case ObjectFormat::kMachO: {
      auto magic = Read<std::uint32_t>(file, 0);
      if (!magic || (*magic != 0xfeedfacf && *magic != 0xfeedface)) return "";
      const std::uint64_t header = *magic == 0xfeedfacf ? 32 : 28;
      auto sizeofcmds = Read<std::uint32_t>(file, 20);
      if (!sizeofcmds || !InRange(file, header, *sizeofcmds))
        return "the load commands run past the end of the file";
      return "";
    }
    default:
      return "";
  }
}

ObjectFormat DetectObjectFormat(std::string_view file) {
  if (file.size() >= 52 && std::memcmp(file.data(),
                                       "\x7f"
                                       "ELF",
                                       4) == 0)
    return ObjectFormat::kElf;
  auto le = Read<std::uint32_t>(file, 0);
  if (le && (*le == 0xfeedfacf || *le == 0xfeedface)) return ObjectFormat::kMachO;
  auto be = Read<std::uint32_t>(file, 0, true);
  if (be && *be == 0xcafebabe) {
    auto n = Read<std::uint32_t>(file, 4, true);
    if (n && *n > 0 && *n <= 64) return ObjectFormat::kMachO;
  }
  if (PeHeaderOffset(file)) return ObjectFormat::kPe;
  return ObjectFormat::kNone;
}

bool MayBeObjectFile(std::string_view head) {
  if (head.size() >= 2 && head[0] == 'M' && head[1] == 'Z') return true;
  return DetectObjectFormat(head) != ObjectFormat::kNone ||
         (head.size() >= 4 && std::memcmp(head.data(),
                                          "\x7f"
                                          "ELF",
                                          4) == 0);
}

std::optional<FileSpan> FindSection(std::string_view file, std::string_view segment,
                                    std::string_view section) {
  switch (DetectObjectFormat(file)) {
    case ObjectFormat::kElf:
      return FindElfSection(file, section);
    case ObjectFormat::kMachO:
      return FindMachOSection(file, segment, section);
    case ObjectFormat::kPe:
      return FindPeSection(file, section);
    case ObjectFormat::kNone:
      break;
  }
  return std::nullopt;
}

std::vector<FileSpan> FindElfNotes(std::string_view file, std::string_view name) {
  std::vector<FileSpan> out;
  auto h = ReadElfHeader(file);
  if (!h) return out;
  bool be = h->big_endian;
  std::uint32_t min_ph = h->is64 ? 56 : 32;
  if (h->phentsize >= min_ph) {
    for (std::uint32_t i = 0; i < std::min<std::uint32_t>(h->phnum, kMaxTableEntries); ++i) {
      std::uint64_t at = h->phoff + std::uint64_t{i} * h->phentsize;
      if (!InRange(file, at, h->phentsize)) break;
      if (*Read<std::uint32_t>(file, at, be) != 4 /*PT_NOTE*/) continue;
      std::uint64_t offset =
          h->is64 ? *Read<std::uint64_t>(file, at + 8, be) : *Read<std::uint32_t>(file, at + 4, be);
      std::uint64_t size = h->is64 ? *Read<std::uint64_t>(file, at + 32, be)
                                   : *Read<std::uint32_t>(file, at + 16, be);
      WalkElfNotes(file, be, offset, size, name, &out);
    }
  }
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(h->shnum, kMaxTableEntries); ++i) {
    auto s = ReadElfSection(file, *h, i);
    if (!s) break;
    if (s->type == 7 /*SHT_NOTE*/) WalkElfNotes(file, be, s->offset, s->size, name, &out);
  }
  return out;
}

}  // namespace glassbox::audit
