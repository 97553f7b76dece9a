# Included by tests/assurance/CMakeLists.txt. cli_keys.cpp (src/app) is compiled in directly so
# the keygen/verify commands are tested without the whole binary.
secplat_test(assurance_signing_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/signing_test.cpp ${PROJECT_SOURCE_DIR}/src/app/cli_keys.cpp
  LIBS secplat_assurance_signing secplat_trust)
