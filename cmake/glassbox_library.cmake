# One helper makes every component target, in the manner of absl_cc_library:
#   glassbox_cc_library(NAME core SRCS a.cc b.cc DEPS fmt::fmt)
# makes glassbox_core with the alias glassbox::core. Headers are included as
# "core/foo.h", relative to src/.
function(glassbox_cc_library)
  cmake_parse_arguments(GB "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(glassbox_${GB_NAME} STATIC ${GB_SRCS})
  add_library(glassbox::${GB_NAME} ALIAS glassbox_${GB_NAME})
  target_include_directories(glassbox_${GB_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(glassbox_${GB_NAME} PUBLIC ${GB_DEPS} PRIVATE ${GB_PRIVATE_DEPS})
endfunction()

# glassbox_cc_test(NAME core_utf SRCS utf_test.cc DEPS glassbox::core)
function(glassbox_cc_test)
  cmake_parse_arguments(GB "" "NAME" "SRCS;DEPS" ${ARGN})
  if(NOT GLASSBOX_TESTS)
    return()
  endif()
  add_executable(${GB_NAME}_test ${GB_SRCS})
  target_link_libraries(${GB_NAME}_test PRIVATE ${GB_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${GB_NAME}_test PRIVATE GLASSBOX_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${GB_NAME} COMMAND ${GB_NAME}_test)
endfunction()

# glassbox_embed_files(OUTPUT var FUNCTION Name GLOBS rules/x/*.toml ...)
# Generates a source that returns the matching files' text as
# std::vector<glassbox::EmbeddedFile> from glassbox::Name(), rebuilt when a
# file changes; sets `var` to the generated file for a target's SRCS.
function(glassbox_embed_files)
  cmake_parse_arguments(GB "" "OUTPUT;FUNCTION" "GLOBS" ${ARGN})
  file(GLOB files CONFIGURE_DEPENDS ${GB_GLOBS})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_${GB_FUNCTION}.cc)
  # A CMake list would split the command line; pass the files joined by '|'.
  string(REPLACE ";" "|" files_arg "${files}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DFUNCTION=${GB_FUNCTION} "-DFILES=${files_arg}"
            -DBASE=${PROJECT_SOURCE_DIR}/rules -P ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    COMMENT "Embedding ${GB_FUNCTION}"
    VERBATIM)
  set(${GB_OUTPUT} ${out} PARENT_SCOPE)
endfunction()
