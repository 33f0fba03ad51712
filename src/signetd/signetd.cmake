# signetd: the OAuth 2.0 token service (included from src/CMakeLists.txt when
# src/signetd/*.c exist and libmicrohttpd was found).
if(NOT TARGET PkgConfig::ARGON2)
  message(FATAL_ERROR "signetd needs libargon2 (apt install libargon2-dev)")
endif()

add_executable(signetd ${SG_SIGNETD_SOURCES})
target_include_directories(signetd PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(signetd PRIVATE sg_audit sg_core sg_util signet_static PkgConfig::MHD
                      PkgConfig::ARGON2 OpenSSL::Crypto PkgConfig::JANSSON PkgConfig::SECCOMP
                      Threads::Threads)
install(TARGETS signetd DESTINATION ${CMAKE_INSTALL_SBINDIR})

# `signet client add` hashes secrets with argon2id (src/cli/cmd_client.c).
target_link_libraries(signet PRIVATE PkgConfig::ARGON2)
