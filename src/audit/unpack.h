// Unpacking an agent as it is shipped: the public contract of the audit
// component's container readers. One call, Unpack(), turns a target on disk
// (npm tarball, package directory or node_modules tree, single-file executable
// built by Bun / Node SEA / vercel pkg / deno compile, Electron .asar, a plain
// JavaScript file, or any other native binary) into the JavaScript and JSON
// text it carries, each piece with where it was found.
//
// Every reader treats its input as hostile: sizes and counts are bounded by
// UnpackLimits, nothing is extracted to disk (entries are read into memory),
// links are never followed out of the target, and markers are found by
// structure (validated headers, trailers and tables), never at fixed offsets.
// What could not be read is said in Unpacked::notes, never skipped silently.
//
// Thread-compatible: Unpack has no shared state; callers may unpack several
// targets on several threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace glassbox::audit {

// One piece of code or data found inside the target.
struct Module {
  // Module name or path inside the container ("/$bunfs/root/cli.js",
  // "package/dist/index.js", "/snapshot/app/main.js"); for a plain file or a
  // directory entry, the path as given on the command line joined with the
  // relative path. A module of an executable found inside a tarball or
  // folder is "EXECUTABLE-PATH!MODULE-PATH" (its offset is then inside that
  // executable).
  std::string path;
  // The module's source, always valid UTF-8: converted from latin1 or
  // UTF-16LE when stored that way; invalid UTF-8 bytes are replaced by U+FFFD
  // (and a note says so).
  std::string text;
  // How the bytes were stored in the container: "utf8", "latin1" or
  // "utf16le".
  std::string encoding;
  // Byte offset of the first stored byte in the target file (for an entry of
  // a tarball or a directory: 0, since the entry is a file of its own).
  std::uint64_t offset = 0;
  // Number of stored bytes (before conversion to UTF-8).
  std::uint64_t stored_bytes = 0;
  // The container also holds compiled bytecode (Bun bytecode, V8 code cache,
  // pkg's compiled scripts) for this module; the source in `text` may then be
  // what runs or may be a decoy: the analysis should say so.
  bool has_bytecode = false;
  // The container holds a source map for this module.
  bool has_sourcemap = false;
  // The module is the container's entry point (Bun entry_point_id, Node SEA
  // main script, pkg entrypoint, package.json "main"/"bin" not resolved).
  bool entry_point = false;
  // Which reader produced it: "npm-tarball", "directory", "bun-sea",
  // "node-sea", "pkg", "deno", "asar" or "file".
  std::string container;
};

// A printable run found in a native binary that holds no known container.
struct NativeString {
  std::uint64_t offset = 0;  // byte offset in the file named by `path`
  std::string text;          // UTF-8
  std::string encoding;      // "ascii" or "utf16le"
  // Empty for the target itself; for an executable inside a tarball or
  // folder, its path there (as in Module::path before the "!").
  std::string path;
};

struct Unpacked {
  // What the target turned out to be: "npm-tarball", "directory",
  // "bun-sea", "node-sea", "pkg", "deno", "asar", "javascript" (a plain
  // source file) or "native" (a binary with no known container: see
  // `strings`).
  std::string kind;
  // For executables: the object format, "elf", "mach-o", "pe" or "" when
  // not an executable.
  std::string object_format;
  // Where the payload was found. Bun: "section" (.bun / __BUN,__bun) or
  // "trailer" (appended to the file). Node SEA: "resource" (ELF note or
  // Mach-O section) or "magic" (found by its header, e.g. in a PE resource).
  // pkg: "payload". deno: "note" (ELF), "section" or "trailer" (Deno 1).
  // Empty otherwise.
  std::string layout;
  std::vector<Module> modules;
  // Printable ASCII and UTF-16LE runs of at least
  // UnpackLimits::min_string_length characters, in file order: of the target
  // when kind == "native", and of every executable inside a tarball or folder
  // that holds no known payload (vendored tools, addons; `path` says which).
  std::vector<NativeString> strings;
  // Human-readable sentences, one per thing that could not be read or was
  // cut short by a limit ("bun-sea: module 12 '/$bunfs/root/x.node' is
  // binary (loader file), not read"). Empty when everything was read.
  std::vector<std::string> notes;
  // Bytes of the target that were looked at (file size for single files,
  // sum of file sizes for directories).
  std::uint64_t target_bytes = 0;
};

// Bounds on hostile input. Exceeding a per-entry bound skips that entry with
// a note; exceeding a total bound stops reading with a note. Neither is an
// error: the caller still gets what was read.
struct UnpackLimits {
  // Largest target file accepted at all (an Unpack error beyond it).
  std::uint64_t max_file_bytes = std::uint64_t{4} << 30;
  // Total bytes of module text returned.
  std::uint64_t max_total_bytes = std::uint64_t{1} << 30;
  // Largest single module or archive entry read.
  std::uint64_t max_entry_bytes = std::uint64_t{256} << 20;
  // Modules or archive/directory entries looked at.
  std::size_t max_entries = 200000;
  // Directory depth followed when the target is a directory.
  int max_depth = 64;
  // Native strings: minimum run length in characters, and most runs kept.
  std::size_t min_string_length = 6;
  std::size_t max_strings = 2000000;
  // Wall-clock seconds the container readers of one Unpack call may spend
  // validating and reading tables; past it they stop with a note.
  double max_seconds = 60;
  // Notes of one shape (the same sentence with other names and numbers)
  // kept before the rest are summed up in one note with their count.
  std::size_t max_notes_per_kind = 20;
};

// Reads `target` (a path) and returns what it holds. Errors (Status) only for
// a target that cannot be read at all: missing, unreadable, larger than
// max_file_bytes, or a tarball that is not one. A container whose markers are
// found but whose structure is damaged is not an error: what could be read is
// returned with notes, and the file falls back to `native` strings when no
// module could be read.
Result<Unpacked> Unpack(const std::string& target, const UnpackLimits& limits = {});

// Same, on bytes already in memory; `name` is used for paths and messages
// and its extension (".tgz", ".asar", ".js", ...) as a hint only. For tests,
// fuzzing and callers that already hold the bytes. Directories are not
// possible here.
Result<Unpacked> UnpackBytes(std::string_view bytes, const std::string& name,
                             const UnpackLimits& limits = {});

}  // namespace glassbox::audit
