// libgit2 without its TLS stream start-up (static builds).
//
// git_libgit2_init() starts libgit2's mbedTLS stream, which reads and parses
// the system's whole CA bundle: about 50 million instructions, 3.4 ms, on
// every `glassbox scan` inside a git work tree (a pre-commit hook pays it on
// each commit). glassbox opens local repositories only and never fetches, so
// the static link wraps that start-up (-Wl,--wrap, see the top-level
// CMakeLists.txt) with this function, which starts nothing. An https remote
// opened through libgit2 would fail to connect; none is ever opened.
// Its name is the one --wrap gives it (reserved and not Google style, on purpose):
// NOLINTNEXTLINE(bugprone-reserved-identifier,readability-identifier-naming)
extern "C" int __wrap_git_mbedtls_stream_global_init(void) { return 0; }
