# libsignet: the relying-party validation library (included from lib/CMakeLists.txt).
# One set of objects, built with hidden visibility, gives both libsignet.a
# (target signet_static) and libsignet.so (target signet_shared, exports
# limited by libsignet.map). The few lib/util helpers libsignet needs are
# compiled in, so both archives are self-contained.
set(SIGNET_LIB_SOURCES alg.c claims.c dpop.c fetch.c issuer.c json.c jwk.c jws.c tokcache.c
    verifier.c)
list(TRANSFORM SIGNET_LIB_SOURCES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
set(SIGNET_UTIL_USED b64url.c hex.c sha256.c thumbprint.c err.c)
list(TRANSFORM SIGNET_UTIL_USED PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/util/)

add_library(signet_obj OBJECT ${SIGNET_LIB_SOURCES} ${SIGNET_UTIL_USED})
target_include_directories(signet_obj PUBLIC ${PROJECT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(signet_obj PRIVATE SIGNET_VERSION_STRING="${PROJECT_VERSION}")
target_link_libraries(signet_obj PUBLIC OpenSSL::Crypto PkgConfig::JANSSON PkgConfig::CURL
                      Threads::Threads)
set_target_properties(signet_obj PROPERTIES C_VISIBILITY_PRESET hidden
                      POSITION_INDEPENDENT_CODE ON)
if(SIGNET_FUZZ)
  # Coverage feedback from the library itself, not only from the fuzz targets.
  target_compile_options(signet_obj PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
endif()

add_library(signet_static STATIC $<TARGET_OBJECTS:signet_obj>)
target_include_directories(signet_static PUBLIC ${PROJECT_SOURCE_DIR}/include
                           ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(signet_static PUBLIC OpenSSL::Crypto PkgConfig::JANSSON PkgConfig::CURL
                      Threads::Threads m)
set_target_properties(signet_static PROPERTIES OUTPUT_NAME signet)

set(SIGNET_MAP ${CMAKE_CURRENT_SOURCE_DIR}/libsignet.map)
add_library(signet_shared SHARED $<TARGET_OBJECTS:signet_obj>)
target_include_directories(signet_shared PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(signet_shared PRIVATE OpenSSL::Crypto PkgConfig::JANSSON PkgConfig::CURL
                      Threads::Threads m)
target_link_options(signet_shared PRIVATE -Wl,--version-script=${SIGNET_MAP}
                    $<$<NOT:$<OR:$<BOOL:${SIGNET_SANITIZE}>,$<BOOL:${SIGNET_FUZZ}>>>:-Wl,--no-undefined>)
set_target_properties(signet_shared PROPERTIES OUTPUT_NAME signet
                      VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                      LINK_DEPENDS ${SIGNET_MAP})

# A complete example using only the public API and the shared library
# (built, never installed).
add_executable(verify_example ${PROJECT_SOURCE_DIR}/examples/verify_example.c)
target_link_libraries(verify_example PRIVATE signet_shared)

# signet.pc for the build tree; the installed one is generated at install time
# so that it names the prefix actually used (`cmake --install --prefix P`).
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/signet.pc.in ${CMAKE_CURRENT_BINARY_DIR}/signet.pc @ONLY)

# `cmake --install BUILD --component libsignet` installs just the library.
install(TARGETS signet_static signet_shared
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT libsignet
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT libsignet)
install(FILES ${PROJECT_SOURCE_DIR}/include/signet/error.h
              ${PROJECT_SOURCE_DIR}/include/signet/verify.h
              ${PROJECT_SOURCE_DIR}/include/signet/signet.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/signet COMPONENT libsignet)
install(CODE "
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  configure_file(\"${CMAKE_CURRENT_SOURCE_DIR}/signet.pc.in\"
                 \"${CMAKE_CURRENT_BINARY_DIR}/pc-install/signet.pc\" @ONLY)
  file(INSTALL \"${CMAKE_CURRENT_BINARY_DIR}/pc-install/signet.pc\"
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
" COMPONENT libsignet)
