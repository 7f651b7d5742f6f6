#include "probe/sandbox.h"

#include <set>

#include <linux/filter.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace glassbox::probe {
namespace {

std::string Ipv4Packet(uint8_t protocol, const uint8_t dest[4], uint16_t src_port,
                       uint16_t dest_port, uint8_t tcp_flags, uint16_t fragment = 0) {
  std::string p(20, '\0');
  p[0] = 0x45;
  p[6] = static_cast<char>(fragment >> 8);
  p[7] = static_cast<char>(fragment & 0xff);
  p[9] = static_cast<char>(protocol);
  for (int i = 0; i < 4; ++i) p[16 + i] = static_cast<char>(dest[i]);
  std::string l4(protocol == 6 ? 20 : 8, '\0');
  l4[0] = static_cast<char>(src_port >> 8);
  l4[1] = static_cast<char>(src_port & 0xff);
  l4[2] = static_cast<char>(dest_port >> 8);
  l4[3] = static_cast<char>(dest_port & 0xff);
  if (protocol == 6) l4[13] = static_cast<char>(tcp_flags);
  return p + l4;
}

TEST(ParseIpPacket, Ipv4TcpSynAndNotTheRest) {
  const uint8_t dest[4] = {203, 0, 113, 7};
  PacketDestination d;
  ASSERT_TRUE(ParseIpPacket(Ipv4Packet(6, dest, 40000, 9000, 0x02), &d));
  EXPECT_TRUE(d.tcp_syn);
  EXPECT_FALSE(d.udp);
  EXPECT_EQ(d.dest_ip, "203.0.113.7");
  EXPECT_EQ(d.dest_port, 9000);
  EXPECT_EQ(d.src_port, 40000);
  ASSERT_TRUE(ParseIpPacket(Ipv4Packet(6, dest, 40000, 9000, 0x12), &d));  // SYN-ACK
  EXPECT_FALSE(d.tcp_syn);
  ASSERT_TRUE(ParseIpPacket(Ipv4Packet(17, dest, 5000, 443, 0), &d));
  EXPECT_TRUE(d.udp);
  EXPECT_EQ(d.dest_port, 443);
  // A later fragment carries no ports; a cut header is refused; ICMP is not ours.
  EXPECT_FALSE(ParseIpPacket(Ipv4Packet(17, dest, 5000, 443, 0, 0x0010), &d));
  EXPECT_FALSE(ParseIpPacket(Ipv4Packet(6, dest, 1, 2, 0x02).substr(0, 30), &d));
  EXPECT_FALSE(ParseIpPacket(Ipv4Packet(1, dest, 1, 2, 0), &d));
  EXPECT_FALSE(ParseIpPacket("", &d));
  std::string bad_ihl = Ipv4Packet(6, dest, 1, 2, 0x02);
  bad_ihl[0] = 0x4f;  // a 60-byte header in a 40-byte packet
  EXPECT_FALSE(ParseIpPacket(bad_ihl, &d));
}

TEST(ParseIpPacket, Ipv6Udp) {
  std::string p(40, '\0');
  p[0] = 0x60;
  p[6] = 17;
  const uint8_t dest[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
  for (int i = 0; i < 16; ++i) p[24 + i] = static_cast<char>(dest[i]);
  std::string udp = std::string("\x13\x88\x01\xbb", 4) + std::string(4, '\0');
  PacketDestination d;
  ASSERT_TRUE(ParseIpPacket(p + udp, &d));
  EXPECT_TRUE(d.udp);
  EXPECT_EQ(d.dest_ip, "2001:db8::5");
  EXPECT_EQ(d.dest_port, 443);
  EXPECT_EQ(d.src_port, 5000);
  EXPECT_FALSE(ParseIpPacket(p + udp.substr(0, 4), &d));
}

TEST(ValidateSandboxSpec, NamesTheBadField) {
  SandboxSpec ok{"/tmp/x", "wks-berlin-042", "li.wei", "Asia/Shanghai"};
  EXPECT_TRUE(ValidateSandboxSpec(ok).ok());
  SandboxSpec relative = ok;
  relative.work_dir = "tmp/x";
  EXPECT_NE(ValidateSandboxSpec(relative).message().find("absolute"), std::string::npos);
  SandboxSpec zone = ok;
  zone.timezone = "../../etc/passwd";
  EXPECT_NE(ValidateSandboxSpec(zone).message().find("timezone"), std::string::npos);
  SandboxSpec host = ok;
  host.hostname = "bad host";
  EXPECT_NE(ValidateSandboxSpec(host).message().find("host name"), std::string::npos);
  SandboxSpec user = ok;
  user.username = "Root";
  EXPECT_NE(ValidateSandboxSpec(user).message().find("user name"), std::string::npos);
}

TEST(FindExecutable, SearchesPathInOrder) {
  Result<std::string> sh = FindExecutable("sh", "/nonexistent:/bin:/usr/bin");
  ASSERT_TRUE(sh.ok()) << sh.status().message();
  EXPECT_EQ(*sh, "/bin/sh");
  EXPECT_FALSE(FindExecutable("no-such-program-xyz", "/bin:/usr/bin").ok());
  EXPECT_FALSE(FindExecutable("/etc/passwd", "").ok());  // not executable
  EXPECT_FALSE(FindExecutable("", "/bin").ok());
}

TEST(AgentReadOnlyPaths, PackageInterpreterAndScript) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/glassbox-ro-paths.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  // An npm project: .bin/agent -> ../pkg/cli.js with "#!/usr/bin/env node".
  fs::create_directories(root + "/proj/node_modules/.bin");
  fs::create_directories(root + "/proj/node_modules/pkg");
  std::ofstream(root + "/proj/node_modules/pkg/cli.js") << "#!/usr/bin/env node\nconsole.log(1)\n";
  fs::permissions(root + "/proj/node_modules/pkg/cli.js", fs::perms::owner_all);
  fs::create_symlink("../pkg/cli.js", root + "/proj/node_modules/.bin/agent");
  fs::create_directories(root + "/bin");
  std::ofstream(root + "/bin/node") << "";
  fs::permissions(root + "/bin/node", fs::perms::owner_all);
  std::ofstream(root + "/script.js") << "";
  std::vector<std::string> paths = AgentReadOnlyPaths(
      {root + "/proj/node_modules/.bin/agent", root + "/script.js", "--flag", "/nonexistent"},
      root + "/bin:/usr/bin");
  std::set<std::string> got(paths.begin(), paths.end());
  EXPECT_TRUE(got.count(root + "/proj")) << "the project holding node_modules";
  EXPECT_TRUE(got.count(root + "/bin")) << "the interpreter #! names through env";
  EXPECT_TRUE(got.count(root)) << "the script's folder";
  EXPECT_EQ(got.size(), 3u);
  // Right below "/": the file alone, never the whole folder.
  paths = AgentReadOnlyPaths({"sh", "/tmp"}, "/usr/bin:/bin");
  for (const std::string& p : paths) EXPECT_NE(p, "/tmp");
  fs::remove_all(root);
}

// Regression: a script that requires a sibling folder of its package
// ("../agents/lib.js") failed inside the sandbox, which showed only the
// script's own folder.
TEST(AgentReadOnlyPaths, ScriptBringsThePackageAboveIt) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/glassbox-ro-pkg.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  fs::create_directories(root + "/pkg/hostile");
  fs::create_directories(root + "/pkg/agents");
  std::ofstream(root + "/pkg/package.json") << "{}";
  std::ofstream(root + "/pkg/hostile/a.js") << "";
  std::ofstream(root + "/loose.js") << "";
  std::vector<std::string> paths =
      AgentReadOnlyPaths({"sh", root + "/pkg/hostile/a.js", root + "/loose.js"}, "/usr/bin:/bin");
  std::set<std::string> got(paths.begin(), paths.end());
  EXPECT_TRUE(got.count(root + "/pkg")) << "the folder with the package.json";
  EXPECT_FALSE(got.count(root + "/pkg/hostile"));
  EXPECT_TRUE(got.count(root)) << "no package.json above: the script's folder";
  fs::remove_all(root);
}

TEST(AgentSeccompFilter, BuildsAProgram) {
  Result<std::string> bpf = AgentSeccompFilter();
  ASSERT_TRUE(bpf.ok()) << bpf.status().message();
  EXPECT_EQ(bpf->size() % sizeof(sock_filter), 0u);
  EXPECT_GT(bpf->size() / sizeof(sock_filter), 50u);  // one test per refused call at least
}

}  // namespace
}  // namespace glassbox::probe
