# Install rules and the Debian package (CPack): the binary, its man page
# (help2man, from the same --help text), bash and zsh completions (from
# `fleetrun completion`), the example plans and the plan schema.
#   cmake --install build --prefix /usr/local
#   cpack --config build/CPackConfig.cmake -B build/package   # build/package/fleetrun_*.deb
include(GNUInstallDirs)

set(FLEETRUN_GENERATED ${PROJECT_BINARY_DIR}/generated)
add_custom_command(
  OUTPUT ${FLEETRUN_GENERATED}/fleetrun.bash ${FLEETRUN_GENERATED}/_fleetrun
  COMMAND ${CMAKE_COMMAND} -E make_directory ${FLEETRUN_GENERATED}
  COMMAND fleetrun completion bash > ${FLEETRUN_GENERATED}/fleetrun.bash
  COMMAND fleetrun completion zsh > ${FLEETRUN_GENERATED}/_fleetrun
  DEPENDS fleetrun
  COMMENT "Shell completions from fleetrun's own command definitions")
set(FLEETRUN_GENERATED_FILES ${FLEETRUN_GENERATED}/fleetrun.bash ${FLEETRUN_GENERATED}/_fleetrun)

find_program(FLEETRUN_HELP2MAN help2man)
if(FLEETRUN_HELP2MAN)
  add_custom_command(
    OUTPUT ${FLEETRUN_GENERATED}/fleetrun.1
    COMMAND ${CMAKE_COMMAND} -E make_directory ${FLEETRUN_GENERATED}
    COMMAND ${FLEETRUN_HELP2MAN} --no-info --section 1
            --name "preview, apply and resume bulk operations on Losant devices"
            --output ${FLEETRUN_GENERATED}/fleetrun.1 $<TARGET_FILE:fleetrun>
    DEPENDS fleetrun
    COMMENT "The man page from fleetrun --help")
  list(APPEND FLEETRUN_GENERATED_FILES ${FLEETRUN_GENERATED}/fleetrun.1)
  install(FILES ${FLEETRUN_GENERATED}/fleetrun.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man page (scripts/setup.sh installs it)")
endif()
add_custom_target(fleetrun_generated ALL DEPENDS ${FLEETRUN_GENERATED_FILES})

install(TARGETS fleetrun RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${FLEETRUN_GENERATED}/fleetrun.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME fleetrun)
install(FILES ${FLEETRUN_GENERATED}/_fleetrun DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/plans/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/fleetrun/examples
        FILES_MATCHING PATTERN "*.yaml")
install(FILES ${PROJECT_SOURCE_DIR}/plans/plan.schema.json DESTINATION ${CMAKE_INSTALL_DATADIR}/fleetrun)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/PLAN-FORMAT.md ${PROJECT_SOURCE_DIR}/docs/CLI.md
              ${PROJECT_SOURCE_DIR}/docs/STATE.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fleetrun)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "preview, apply and resume bulk operations on Losant devices")
set(CPACK_PACKAGE_CONTACT "fleetrun maintainers <fleetrun@example.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # the run-time libraries, found by dpkg-shlibdeps
set(CPACK_STRIP_FILES ON)
include(CPack)
