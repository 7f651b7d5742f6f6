// Internal to the audit component's unpacking: one reader per container
// format, each given the whole target's bytes (mapped) and appending what it
// reads to an Unpacked. Only src/audit/*.cc and their tests include this.
//
// Reader contract: `Read*` returns true when it recognised its container by
// structure (a validated header, trailer or table), false when the bytes are
// not its format (and then it has changed nothing). A recognised but damaged
// container still returns true, with notes saying what could not be read.
// Readers never throw, never write to disk, and respect the limits.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/unpack.h"

namespace glassbox::audit::internal {

// Budget shared by the readers of one Unpack call.
class Budget {
 public:
  explicit Budget(const UnpackLimits& limits);
  const UnpackLimits& limits() const { return limits_; }
  // True once the time budget (UnpackLimits::max_seconds) is used up; the
  // first time, a note names `reader`. Cheap: the clock is read on every
  // 256th call only, so loops call it once per step.
  bool OutOfTime(std::string_view reader, Unpacked* out);
  // Accounts for one more entry of `bytes` stored bytes. False (with a note
  // appended to *out, once per reason) when a limit stops it.
  bool Admit(std::uint64_t bytes, const std::string& what, Unpacked* out);

 private:
  const UnpackLimits& limits_;
  std::uint64_t total_bytes_ = 0;
  std::size_t entries_ = 0;
  bool noted_total_ = false;
  bool noted_entries_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::uint32_t calls_ = 0;
  bool out_of_time_ = false;
};

// Bounds the notes: past UnpackLimits::max_notes_per_kind notes of one shape
// (the sentence with quoted names and numbers blanked), the rest are replaced
// by one note with their count. Order is kept.
void CapNotes(std::size_t per_kind, std::vector<std::string>* notes);

// Converts stored bytes to UTF-8 text. `encoding` is "utf8", "latin1" or
// "utf16le"; for "utf8", invalid sequences become U+FFFD and *replaced counts
// them.
std::string ToUtf8(std::string_view bytes, std::string_view encoding, std::uint64_t* replaced);

// Guesses how text bytes are stored: "utf16le" when most odd bytes are zero
// and the length is even, "utf8" when the bytes are valid UTF-8, else
// "latin1".
std::string GuessEncoding(std::string_view bytes);

// True when the bytes look like text (no NUL in the first 8 KiB and few
// control bytes), i.e. worth returning as a module.
bool LooksLikeText(std::string_view bytes);

// True when a runtime would load a file of this name as code or data
// (.js, .mjs, .cjs, .jsx, .json): such a file is read as a module whatever
// bytes it holds (a NUL in a comment must not hide it from the analysis).
bool RuntimeLoads(std::string_view path);

// Adds a module read from `stored` (a view into the target or an archive
// entry), converting it to UTF-8 and accounting for it in `budget`. Returns
// false when a limit refused it (a note says so).
bool AddModule(std::string path, std::string_view stored, std::string encoding,
               std::uint64_t offset, std::string container, Budget* budget, Unpacked* out,
               Module** added = nullptr);

// Same for bytes the caller owns (an archive entry read into memory): valid
// UTF-8 is moved into the module instead of copied.
bool AddOwnedModule(std::string path, std::string&& stored, std::uint64_t offset,
                    std::string container, Budget* budget, Unpacked* out);

// Little-endian reads with bounds: nullopt when [at, at+size) is outside.
std::optional<std::uint32_t> ReadU32(std::string_view bytes, std::uint64_t at);
std::optional<std::uint64_t> ReadU64(std::string_view bytes, std::uint64_t at);

// The readers, in the order Unpack tries them on a single file.
bool ReadBunSea(std::string_view file, Budget* budget, Unpacked* out);       // bun_sea.cc
bool ReadNodeSea(std::string_view file, Budget* budget, Unpacked* out);      // node_sea.cc
bool ReadPkgPayload(std::string_view file, Budget* budget, Unpacked* out);   // pkg_payload.cc
bool ReadDenoPayload(std::string_view file, Budget* budget, Unpacked* out);  // deno_payload.cc
bool ReadAsar(std::string_view file, const std::string& name, Budget* budget,
              Unpacked* out);  // asar.cc
// unpack.cc: the four readers above in turn; returns the kind ("bun-sea",
// ...) of the first that recognises its container, or nullptr.
const char* ReadExecutablePayload(std::string_view bytes, Budget* budget, Unpacked* out);
// unpack.cc: an executable found inside a tarball or directory at `path`:
// its modules are appended with paths "PATH!MODULE" (offsets inside that
// executable) and a note; without a known payload, a note names it.
void ReadNestedExecutable(std::string_view bytes, const std::string& path,
                          const std::string& container, Budget* budget, Unpacked* out);
// npm_tarball.cc: gzip/plain tar read in memory with libarchive. Returns
// false when libarchive does not recognise an archive.
// `file_mapping`: `file` is a read-only mapping of the tarball on disk, whose
// pages may be given back (madvise) once decompressed; false for bytes the
// caller owns, which are never touched.
bool ReadNpmTarball(std::string_view file, const std::string& name, Budget* budget, Unpacked* out,
                    bool file_mapping = false);
// npm_tarball.cc: a gzip or zstd stream (an asset compressed by the
// packager), decompressed in memory up to max_bytes. nullopt with *error
// when the bytes are neither, are damaged, or exceed max_bytes.
std::optional<std::string> Decompress(std::string_view bytes, std::uint64_t max_bytes,
                                      std::string* error);
// native_strings.cc: printable ASCII and UTF-16LE runs.
void ReadNativeStrings(std::string_view file, const UnpackLimits& limits, Unpacked* out);

}  // namespace glassbox::audit::internal
