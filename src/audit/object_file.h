// Section lookup in executables (ELF, Mach-O, PE), for the audit readers that
// find an embedded payload by the section or note the packer put it in.
// Parses only headers, every offset bounds-checked against the file: a
// damaged or truncated header yields "not found", never a read out of range.
// Internal to the audit component.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glassbox::audit {

enum class ObjectFormat { kNone, kElf, kMachO, kPe };

// "elf", "mach-o", "pe" or "" for kNone.
const char* ObjectFormatName(ObjectFormat format);

// Recognises the format by its magic bytes: ELF (64- and 32-bit), Mach-O
// (64-bit thin, or a fat/universal file), PE (MZ with a valid PE header).
ObjectFormat DetectObjectFormat(std::string_view file);

// Why the file's headers cannot be right ("the section header table (40
// entries at offset 9000) runs past the end of the file"), or "" when they
// look sound or the format is not checked. ELF: the program and section
// header tables, the section name table and every section's and segment's
// range. Mach-O and PE: the load command / section table range.
std::string ObjectDamage(std::string_view file);

// A cheap test on the first bytes of a file (64 are enough): true when they
// start like an ELF, Mach-O or PE ("MZ") file. DetectObjectFormat on the
// whole file confirms.
bool MayBeObjectFile(std::string_view head);

// A byte range of the file.
struct FileSpan {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// The file range of a section. ELF and PE: by section name (`section`, e.g.
// ".bun"; PE names are cut to 8 bytes); `segment` is ignored. Mach-O: by
// segment and section name (e.g. "__BUN", "__bun"), in a thin 64-bit file or
// in any slice of a fat file. nullopt when absent or out of the file.
std::optional<FileSpan> FindSection(std::string_view file, std::string_view segment,
                                    std::string_view section);

// ELF only: the descriptors of every note called `name` (e.g.
// "NODE_SEA_BLOB") in PT_NOTE segments and SHT_NOTE sections, deduplicated.
std::vector<FileSpan> FindElfNotes(std::string_view file, std::string_view name);

}  // namespace glassbox::audit
