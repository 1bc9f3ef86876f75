# `cmake --install` lays out lib, headers and executables and exports a Focus
# package, so C++ users can `find_package(Focus)` and link `Focus::focus`.
include(CMakePackageConfigHelpers)

install(TARGETS focus_sentencepiece LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS focus EXPORT FocusTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY lib/include/focus DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT FocusTargets NAMESPACE Focus:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Focus)

configure_package_config_file(cmake/FocusConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/FocusConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Focus)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/FocusConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/FocusConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/FocusConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Focus)
install(DIRECTORY models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/focus/models FILES_MATCHING PATTERN "*.json")
