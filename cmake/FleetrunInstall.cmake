# Install rules and the Debian package (CPack): the binary (hardened:
# cmake/FleetrunOptions.cmake), its manual pages, bash and zsh completions
# (from `fleetrun completion`), the example plans and the plan schema, the
# docs with Debian's changelog and copyright, and the systemd template units.
# scripts/package_test.sh's lintian run (tests/package_test.sh) checks it.
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

# The manual pages: fleetrun(1) and fleetrun-<command>(1) from the command
# definitions themselves (`fleetrun man`, cli/man_pages.hpp), fleetrun-plan(5)
# from docs/PLAN-FORMAT.md with pandoc; gzip -9n as Debian wants them.
set(FLEETRUN_MAN ${FLEETRUN_GENERATED}/man)
add_custom_command(
  OUTPUT ${FLEETRUN_MAN}/man1.stamp
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${FLEETRUN_MAN}/man1
  COMMAND fleetrun man ${FLEETRUN_MAN}/man1
  COMMAND sh -c "gzip -9nf \"$0\"/*.1" ${FLEETRUN_MAN}/man1
  COMMAND ${CMAKE_COMMAND} -E touch ${FLEETRUN_MAN}/man1.stamp
  DEPENDS fleetrun
  COMMENT "Manual pages from fleetrun's own command definitions"
  VERBATIM)
list(APPEND FLEETRUN_GENERATED_FILES ${FLEETRUN_MAN}/man1.stamp)
install(DIRECTORY ${FLEETRUN_MAN}/man1/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1.gz")

find_program(FLEETRUN_PANDOC pandoc)
if(FLEETRUN_PANDOC)
  add_custom_command(
    OUTPUT ${FLEETRUN_MAN}/fleetrun-plan.5.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${FLEETRUN_MAN}
    COMMAND ${FLEETRUN_PANDOC} -s -f gfm -t man --lua-filter ${PROJECT_SOURCE_DIR}/deploy/debian/man-page.lua
            --include-before-body ${PROJECT_SOURCE_DIR}/deploy/debian/fleetrun-plan.5.name -M title=FLEETRUN-PLAN -M section=5 -M "footer=fleetrun ${PROJECT_VERSION}"
            -M "header=fleetrun manual" -M date=2026-12-07 ${PROJECT_SOURCE_DIR}/docs/PLAN-FORMAT.md
            -o ${FLEETRUN_MAN}/fleetrun-plan.5
    COMMAND gzip -9nf ${FLEETRUN_MAN}/fleetrun-plan.5
    DEPENDS ${PROJECT_SOURCE_DIR}/docs/PLAN-FORMAT.md ${PROJECT_SOURCE_DIR}/deploy/debian/man-page.lua
            ${PROJECT_SOURCE_DIR}/deploy/debian/fleetrun-plan.5.name
    COMMENT "fleetrun-plan(5) from docs/PLAN-FORMAT.md"
    VERBATIM)
  list(APPEND FLEETRUN_GENERATED_FILES ${FLEETRUN_MAN}/fleetrun-plan.5.gz)
  install(FILES ${FLEETRUN_MAN}/fleetrun-plan.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
else()
  message(STATUS "pandoc not found: no fleetrun-plan(5) (scripts/setup.sh installs it)")
endif()

# Debian's changelog of a native package, compressed as policy asks.
add_custom_command(
  OUTPUT ${FLEETRUN_GENERATED}/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${FLEETRUN_GENERATED}
  COMMAND ${CMAKE_COMMAND} -E copy ${PROJECT_SOURCE_DIR}/deploy/debian/changelog ${FLEETRUN_GENERATED}/changelog
  COMMAND gzip -9nf ${FLEETRUN_GENERATED}/changelog
  DEPENDS ${PROJECT_SOURCE_DIR}/deploy/debian/changelog
  COMMENT "The Debian changelog"
  VERBATIM)
list(APPEND FLEETRUN_GENERATED_FILES ${FLEETRUN_GENERATED}/changelog.gz)
add_custom_target(fleetrun_generated ALL DEPENDS ${FLEETRUN_GENERATED_FILES})

install(TARGETS fleetrun RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${FLEETRUN_GENERATED}/fleetrun.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME fleetrun)
install(FILES ${FLEETRUN_GENERATED}/_fleetrun DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/plans/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/fleetrun/examples
        FILES_MATCHING PATTERN "*.yaml")
install(FILES ${PROJECT_SOURCE_DIR}/plans/plan.schema.json DESTINATION ${CMAKE_INSTALL_DATADIR}/fleetrun)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/PLAN-FORMAT.md ${PROJECT_SOURCE_DIR}/docs/CLI.md
              ${PROJECT_SOURCE_DIR}/docs/STATE.md ${PROJECT_SOURCE_DIR}/docs/SCHEDULING.md
              ${PROJECT_SOURCE_DIR}/docs/RELIABILITY.md ${PROJECT_SOURCE_DIR}/docs/SANDBOX.md
              ${PROJECT_SOURCE_DIR}/deploy/debian/copyright ${FLEETRUN_GENERATED}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The schedule: the systemd template units (disabled; docs/SCHEDULING.md) and
# the other recipes as examples.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/fleetrun@.service ${PROJECT_SOURCE_DIR}/deploy/systemd/fleetrun@.timer
        DESTINATION lib/systemd/system)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/cron ${PROJECT_SOURCE_DIR}/deploy/kubernetes
                  ${PROJECT_SOURCE_DIR}/deploy/container DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# Debian's hardening asks for no notes of the compiler in the shipped binary.
if(CMAKE_OBJCOPY)
  install(CODE "execute_process(COMMAND ${CMAKE_OBJCOPY} --remove-section=.comment
                \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/fleetrun\")")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fleetrun)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "preview, apply and resume bulk operations on Losant devices")
# The extended description Debian shows below the summary (CPack indents it
# and marks the empty lines).
set(CPACK_PACKAGE_DESCRIPTION "fleetrun runs bulk operations on the devices of a Losant IoT application:
a YAML plan names device queries and steps (delete, patch, remove data,
send a command, export, create, restore).

It previews a plan without changing anything, applies it through the Losant
REST API in batches, records every batch and every job the API enqueues in
an SQLite state file, and resumes an interrupted run exactly where it
stopped, sending no batch twice. Rate limits are learned from the API's
answers. A built-in sandbox serves a Losant-compatible Devices API for
rehearsals without credentials.

The package installs the fleetrun command, manual pages, shell completions,
example plans and systemd template units (fleetrun@.service and
fleetrun@.timer, not enabled) for scheduled maintenance.")
set(CPACK_PACKAGE_CONTACT "fleetrun maintainers <fleetrun@example.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # the run-time libraries, found by dpkg-shlibdeps
set(CPACK_STRIP_FILES ON)
include(CPack)
