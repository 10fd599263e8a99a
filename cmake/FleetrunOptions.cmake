# Build options shared by every target: warnings, sanitizers, ccache.

option(FLEETRUN_WERROR "Treat compiler warnings as errors" OFF)
option(FLEETRUN_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

find_program(FLEETRUN_CCACHE ccache)
if(FLEETRUN_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${FLEETRUN_CCACHE}")
endif()

# Every target of ours links this interface library to get the warning set.
add_library(fleetrun_warnings INTERFACE)
target_compile_options(fleetrun_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow=local
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(FLEETRUN_WERROR)
  target_compile_options(fleetrun_warnings INTERFACE -Werror)
endif()

option(FLEETRUN_FUZZ "Build libFuzzer targets (needs clang; see docs/RELIABILITY.md)" OFF)
if(FLEETRUN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FLEETRUN_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++-16")
  endif()
  # Clang 16 supports what libstdc++ 12's <expected> needs (P0848) but does not
  # say so in __cpp_concepts yet.
  add_compile_options(-Wno-builtin-macro-redefined -D__cpp_concepts=202002L
                      -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# Debian's hardening (dpkg-buildflags with hardening=+all): fortified libc
# calls, stack protector, format checks, read-only relocations bound at start.
# Not with the sanitizers (they replace what fortify checks) and not without
# optimisation (_FORTIFY_SOURCE needs it).
option(FLEETRUN_HARDEN "Build with Debian's hardening flags (optimised builds)" ON)
if(FLEETRUN_HARDEN AND NOT FLEETRUN_SANITIZE AND NOT FLEETRUN_FUZZ AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_options(-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong -Wformat
                      -Werror=format-security)
  add_link_options(-Wl,-z,relro -Wl,-z,now)
endif()

if(FLEETRUN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# A convenience target that builds everything with warnings as errors is simply
# `cmake -DFLEETRUN_WERROR=ON`; CI does that.
