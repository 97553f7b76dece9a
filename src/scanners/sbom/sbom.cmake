# Hook for src/scanners/CMakeLists.txt (included OPTIONAL there): builds secplat_sbom from this
# directory's CMakeLists.txt and links it into secplat_scanners.
if(NOT TARGET secplat_sbom)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_BINARY_DIR}/sbom)
endif()
list(APPEND SECPLAT_SCANNERS_LIBS secplat_sbom)
