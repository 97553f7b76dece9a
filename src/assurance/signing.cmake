# Bundle signing and verification (ECDSA P-256 keys, DSSE in-toto attestations, detached
# cosign-format signatures). Included by src/assurance/CMakeLists.txt; kept separate from the
# scan pipeline library so `secplat verify`/`keygen` need nothing else.
add_library(secplat_assurance_signing STATIC
  ${CMAKE_CURRENT_LIST_DIR}/attestation.cpp
  ${CMAKE_CURRENT_LIST_DIR}/bundle_verify.cpp
  ${CMAKE_CURRENT_LIST_DIR}/signing_key.cpp)
target_include_directories(secplat_assurance_signing PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(secplat_assurance_signing
  PUBLIC secplat_crypto secplat_core
  PRIVATE OpenSSL::Crypto)
