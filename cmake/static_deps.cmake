# Linking the third-party libraries statically.
#
# `glassbox` starts in about 1 ms when its libraries are linked in; with 40
# shared libraries (libgit2 alone brings Kerberos, mbedTLS, libssh2) the dynamic
# loader spent ~17 million instructions resolving symbols before main(), which
# dominated short scans such as a pre-commit hook. With GLASSBOX_STATIC_DEPS
# (the default) every dependency Debian ships as a static archive is linked in;
# the few it does not (fmt, toml++, Kerberos, acl, zstd, lz4) stay shared.

# glassbox_find_pkg(PREFIX MODULE [EXTRA_MODULES m...] [EXTRA_LIBS l...])
# makes PkgConfig::PREFIX like pkg_check_modules(PREFIX REQUIRED IMPORTED_TARGET
# MODULE). With GLASSBOX_STATIC_DEPS the target links MODULE's static archive
# and everything MODULE's "pkg-config --static" lists, followed by the static
# lists of EXTRA_MODULES (dependencies that the .pc file names only as -l
# flags) and EXTRA_LIBS (ones it does not name at all).
function(glassbox_find_pkg prefix module)
  cmake_parse_arguments(GB "" "" "EXTRA_MODULES;EXTRA_LIBS" ${ARGN})
  if(NOT GLASSBOX_STATIC_DEPS)
    pkg_check_modules(${prefix} REQUIRED IMPORTED_TARGET GLOBAL ${module})
    return()
  endif()
  pkg_check_modules(${prefix} REQUIRED ${module})
  set(names ${${prefix}_STATIC_LIBRARIES})
  set(dirs ${${prefix}_STATIC_LIBRARY_DIRS})
  foreach(extra IN LISTS GB_EXTRA_MODULES)
    string(MAKE_C_IDENTIFIER "GB_EXTRA_${extra}" extra_prefix)
    pkg_check_modules(${extra_prefix} REQUIRED ${extra})
    list(APPEND names ${${extra_prefix}_STATIC_LIBRARIES})
    list(APPEND dirs ${${extra_prefix}_STATIC_LIBRARY_DIRS})
  endforeach()
  list(APPEND names ${GB_EXTRA_LIBS})
  set(libs)
  foreach(name IN LISTS names)
    glassbox_resolve_lib(path ${name} "${dirs}" ${module})
    list(APPEND libs ${path})
  endforeach()
  add_library(PkgConfig::${prefix} INTERFACE IMPORTED GLOBAL)
  set_target_properties(PkgConfig::${prefix} PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${${prefix}_INCLUDE_DIRS}"
    INTERFACE_COMPILE_OPTIONS "${${prefix}_CFLAGS_OTHER}"
    INTERFACE_LINK_LIBRARIES "${libs}")
endfunction()

# Sets `out` to lib<name>.a when there is one, else to the shared library
# (lib<name>.so, or lib<name>.so.N when no -dev package is installed), else to
# -l<name> for the C library's own parts. Fails naming the library otherwise.
function(glassbox_resolve_lib out name dirs module)
  if(name MATCHES "^(c|m|dl|rt|pthread|resolv)$")
    set(${out} "-l${name}" PARENT_SCOPE)
    return()
  endif()
  string(MAKE_C_IDENTIFIER "${name}" id)
  find_library(GLASSBOX_STATIC_LIB_${id} NAMES lib${name}.a HINTS ${dirs})
  if(GLASSBOX_STATIC_LIB_${id})
    set(${out} "${GLASSBOX_STATIC_LIB_${id}}" PARENT_SCOPE)
    return()
  endif()
  find_library(GLASSBOX_SHARED_LIB_${id} NAMES ${name} HINTS ${dirs})
  if(NOT GLASSBOX_SHARED_LIB_${id})
    file(GLOB candidates
         /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/lib${name}.so.*
         /lib/${CMAKE_LIBRARY_ARCHITECTURE}/lib${name}.so.*)
    list(SORT candidates)
    if(candidates)
      list(GET candidates 0 first)
      set(GLASSBOX_SHARED_LIB_${id} "${first}" CACHE FILEPATH "Shared lib${name} for static linking" FORCE)
    endif()
  endif()
  if(NOT GLASSBOX_SHARED_LIB_${id})
    message(FATAL_ERROR "glassbox: ${module} needs lib${name}, found neither lib${name}.a nor lib${name}.so; "
                        "run scripts/bootstrap.sh, or configure with -DGLASSBOX_STATIC_DEPS=OFF")
  endif()
  set(${out} "${GLASSBOX_SHARED_LIB_${id}}" PARENT_SCOPE)
endfunction()
