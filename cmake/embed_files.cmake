# Writes a C++ source that holds the given files' text, so data files (rules)
# ship inside the binary. Invoked at build time:
#   cmake -DOUT=x.cc -DFUNCTION=Name -DFILES="a|b" -DBASE=dir -P embed_files.cmake
set(body "// Generated from ${BASE} by cmake/embed_files.cmake. Do not edit.\n#include \"core/secrets.h\"\n\nnamespace glassbox {\n\nconst std::vector<EmbeddedFile>& ${FUNCTION}() {\n  static const std::vector<EmbeddedFile> kFiles = {\n")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(f IN LISTS FILES)
  file(READ "${f}" content)
  file(RELATIVE_PATH rel "${BASE}" "${f}")
  string(APPEND body "      {\"${rel}\", R\"glassbox_embed(${content})glassbox_embed\"},\n")
endforeach()
string(APPEND body "  };\n  return kFiles;\n}\n\n}  // namespace glassbox\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
