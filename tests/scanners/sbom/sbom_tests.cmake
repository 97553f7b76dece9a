# Hook for tests/scanners/CMakeLists.txt (included OPTIONAL there): the sbom tests are their own
# binary (sbom_test) plus the schema-validation ctest, defined in this directory's CMakeLists.txt.
if(NOT TARGET sbom_test)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_BINARY_DIR}/sbom)
endif()
