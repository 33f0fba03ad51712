# The trust boundary as CMake sees it (STYLE.md, "Layout"; the same graph as
# scripts/layers.sh, which checks the #includes and the built binaries).
# sg_layers_check(), called once every target exists, fails the configuration
# when
#   1. a checked target links, directly, an internal library its folder may
#      not depend on (or an internal library this file does not know);
#   2. a binary's link closure (its LINK_LIBRARIES, then the
#      INTERFACE_LINK_LIBRARIES of each target reached, which for a static
#      library include its PRIVATE dependencies) reaches a forbidden library;
#   3. a checked target compiles a source file from outside its folder.
# Test, fuzz and bench targets are not checked: they may link everything.

# Internal libraries each target may link directly. Every internal target
# (sg_*, signet_*) must appear here as a key.
set(SG_LAYERS_TARGETS
    sg_util signet_obj signet_static signet_shared verify_example resource_server
    sg_audit_rd sg_store sg_keystore sg_common sg_oauth sg_telemetry sg_audit sg_signer sg_front
    signet-signer signetd signet signet-authenticator)
set(SG_LAYERS_EDGES_sg_util "")
set(SG_LAYERS_EDGES_signet_obj "")
set(SG_LAYERS_EDGES_signet_static "")
set(SG_LAYERS_EDGES_signet_shared "")
set(SG_LAYERS_EDGES_verify_example signet_shared)
set(SG_LAYERS_EDGES_resource_server signet_shared)
set(SG_LAYERS_EDGES_sg_audit_rd sg_util)
set(SG_LAYERS_EDGES_sg_store sg_util)
set(SG_LAYERS_EDGES_sg_keystore sg_store sg_util)
set(SG_LAYERS_EDGES_sg_common sg_util)
set(SG_LAYERS_EDGES_sg_oauth sg_util signet_static)
set(SG_LAYERS_EDGES_sg_telemetry sg_common sg_store sg_audit_rd sg_util signet_static)
set(SG_LAYERS_EDGES_sg_audit sg_audit_rd sg_util)
set(SG_LAYERS_EDGES_sg_signer sg_audit sg_keystore sg_store sg_common sg_audit_rd sg_util)
set(SG_LAYERS_EDGES_signet-signer sg_signer)
set(SG_LAYERS_EDGES_sg_front sg_oauth sg_util signet_static)
set(SG_LAYERS_EDGES_signetd sg_front sg_telemetry sg_oauth sg_store sg_common sg_util signet_static)
# The approver on a person's device: the JSON door, base64url, thumbprints.
set(SG_LAYERS_EDGES_signet-authenticator sg_util)
set(SG_LAYERS_EDGES_signet sg_audit sg_keystore sg_telemetry sg_oauth sg_store sg_common
    sg_audit_rd sg_util signet_static)

# Regexes no item of a binary's link closure may match (target names, and
# the library files and flags imported targets resolve to).
set(SG_LAYERS_FORBID_signetd
    "^sg_audit$" "^sg_keystore$" "^sg_signer$" "P11KIT" "p11-kit")
set(SG_LAYERS_FORBID_signet-signer
    "^sg_telemetry$" "^sg_oauth$" "^signet_static$" "^signet_shared$"
    "^PkgConfig::MHD$" "microhttpd" "^PkgConfig::ARGON2$" "argon2" "^sg_front$" "fido2" "cbor"
    "qrencode" "QRENCODE")
set(SG_LAYERS_FORBID_signet-authenticator
    "^sg_(store|keystore|signer|audit|audit_rd|front|telemetry|common|oauth)$" "P11KIT" "p11-kit"
    "^PkgConfig::(MHD|ARGON2|SQLITE|SECCOMP|CBOR|FIDO2)$" "microhttpd" "argon2" "sqlite")
set(SG_LAYERS_FORBID_signet_static "^sg_")
set(SG_LAYERS_FORBID_signet_shared "^sg_")

# The folders (relative to the source tree) each target's sources come from.
set(SG_LAYERS_DIRS_sg_util lib/util lib)
set(SG_LAYERS_DIRS_signet_obj lib lib/util)
set(SG_LAYERS_DIRS_sg_audit_rd src/audit)
set(SG_LAYERS_DIRS_sg_store src/store)
set(SG_LAYERS_DIRS_sg_keystore src/store)
set(SG_LAYERS_DIRS_sg_common src/common)
set(SG_LAYERS_DIRS_sg_oauth src/common)
set(SG_LAYERS_DIRS_sg_telemetry src/telemetry)
set(SG_LAYERS_DIRS_sg_audit src/signer)
set(SG_LAYERS_DIRS_sg_signer src/signer)
set(SG_LAYERS_DIRS_signet-signer src/signer)
set(SG_LAYERS_DIRS_signetd src/signetd)
set(SG_LAYERS_DIRS_sg_front src/signetd)
set(SG_LAYERS_DIRS_signet src/cli)
set(SG_LAYERS_DIRS_signet-authenticator src/authenticator)

# The names a link-library list mentions: $<LINK_ONLY:x> unwrapped, any other
# generator expression taken as linking every name in it (a superset, which
# is the safe side for a check that forbids), directory markers (::@...)
# dropped, ALIAS targets resolved.
function(_sg_layers_names out)
  set(names "")
  foreach(item IN LISTS ARGN)
    if(item MATCHES "^::@")
      continue()
    endif()
    if(item MATCHES "^\\$<LINK_ONLY:([^$<>]+)>$")
      set(item "${CMAKE_MATCH_1}")
    endif()
    if(item MATCHES "\\$<")
      string(REGEX MATCHALL "[A-Za-z0-9_.+/:-]+" parts "${item}")
      foreach(p IN LISTS parts)
        string(REGEX REPLACE "^:+|:+$" "" p "${p}")
        if(p AND NOT p MATCHES "^(LINK_ONLY|CONFIG|BOOL|NOT|AND|OR|TARGET_NAME_IF_EXISTS|COMPILE_LANGUAGE|LINK_LANGUAGE|C|Debug|Release|RelWithDebInfo|MinSizeRel)$")
          list(APPEND names "${p}")
        endif()
      endforeach()
      continue()
    endif()
    if(TARGET "${item}")
      get_target_property(aliased "${item}" ALIASED_TARGET)
      if(aliased)
        set(item "${aliased}")
      endif()
    endif()
    list(APPEND names "${item}")
  endforeach()
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

function(_sg_layers_direct tgt out)
  get_target_property(libs "${tgt}" LINK_LIBRARIES)
  if(NOT libs)
    set(libs "")
  endif()
  _sg_layers_names(names ${libs})
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

# Everything TGT's link line can contain.
function(_sg_layers_closure tgt out)
  _sg_layers_direct("${tgt}" todo)
  set(seen "")
  while(todo)
    list(POP_FRONT todo item)
    if(item IN_LIST seen)
      continue()
    endif()
    list(APPEND seen "${item}")
    if(TARGET "${item}")
      get_target_property(iface "${item}" INTERFACE_LINK_LIBRARIES)
      if(iface)
        _sg_layers_names(more ${iface})
        list(APPEND todo ${more})
      endif()
    endif()
  endwhile()
  set(${out} "${seen}" PARENT_SCOPE)
endfunction()

function(sg_layers_check)
  set(errors "")
  foreach(tgt IN LISTS SG_LAYERS_TARGETS)
    if(NOT TARGET "${tgt}")
      list(APPEND errors "${tgt}: declared in cmake/Layers.cmake but not defined")
      continue()
    endif()
    # 1. Direct edges.
    _sg_layers_direct("${tgt}" direct)
    foreach(dep IN LISTS direct)
      if(dep MATCHES "^(sg_|signet)" AND NOT dep MATCHES "::")
        if(NOT dep IN_LIST SG_LAYERS_TARGETS)
          list(APPEND errors "${tgt} links ${dep}, a library cmake/Layers.cmake does not know: declare its folder's edges there")
        elseif(NOT dep IN_LIST SG_LAYERS_EDGES_${tgt})
          string(REPLACE ";" " " allowed "${SG_LAYERS_EDGES_${tgt}}")
          list(APPEND errors "${tgt} may not link ${dep} (allowed: ${allowed})")
        endif()
      endif()
    endforeach()
    # 2. Forbidden libraries anywhere in the closure.
    if(DEFINED SG_LAYERS_FORBID_${tgt})
      _sg_layers_closure("${tgt}" closure)
      foreach(item IN LISTS closure)
        foreach(re IN LISTS SG_LAYERS_FORBID_${tgt})
          if(item MATCHES "${re}")
            list(APPEND errors "${tgt} must not link ${item} (forbidden: ${re}), even indirectly")
          endif()
        endforeach()
      endforeach()
    endif()
    # 3. Sources from the target's own folder(s) only.
    if(DEFINED SG_LAYERS_DIRS_${tgt})
      get_target_property(srcs "${tgt}" SOURCES)
      get_target_property(srcdir "${tgt}" SOURCE_DIR)
      foreach(src IN LISTS srcs)
        if(src MATCHES "\\$<")
          continue()
        endif()
        cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY "${srcdir}" NORMALIZE)
        cmake_path(RELATIVE_PATH src BASE_DIRECTORY "${PROJECT_SOURCE_DIR}")
        cmake_path(GET src PARENT_PATH dir)
        if(NOT dir IN_LIST SG_LAYERS_DIRS_${tgt})
          string(REPLACE ";" " " own "${SG_LAYERS_DIRS_${tgt}}")
          list(APPEND errors "${tgt} compiles ${src}, outside ${own}")
        endif()
      endforeach()
    endif()
  endforeach()
  # Every internal library is declared (a new sg_* library needs its edges).
  get_property(subdirs DIRECTORY "${PROJECT_SOURCE_DIR}" PROPERTY SUBDIRECTORIES)
  set(all "")
  while(subdirs)
    list(POP_FRONT subdirs d)
    if(d MATCHES "^${PROJECT_SOURCE_DIR}/(tests|fuzz|bench)(/|$)")
      continue()
    endif()
    get_property(ts DIRECTORY "${d}" PROPERTY BUILDSYSTEM_TARGETS)
    list(APPEND all ${ts})
    get_property(more DIRECTORY "${d}" PROPERTY SUBDIRECTORIES)
    list(APPEND subdirs ${more})
  endwhile()
  foreach(t IN LISTS all)
    if(NOT t IN_LIST SG_LAYERS_TARGETS)
      list(APPEND errors "target ${t} (outside tests/fuzz/bench) is not declared in cmake/Layers.cmake")
    endif()
  endforeach()
  if(errors)
    list(JOIN errors "\n  " text)
    message(FATAL_ERROR "layers: the targets break the allowed graph (cmake/Layers.cmake):\n  ${text}")
  endif()
  message(STATUS "layers: link edges and sources follow the allowed graph")
endfunction()
