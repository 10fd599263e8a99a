#pragma once
// Upper bounds on wall time ("a dripped answer ends within 10 s") are the
// point of a few tests, and are checked in the release build. Under
// ASan+UBSan everything runs several times slower, so the sanitizer build
// checks what those tests say and not how fast: no wall-time assertion there.

#include <catch2/catch.hpp>

namespace fleetrun::testing {

#ifdef FLEETRUN_SANITIZED_BUILD
inline constexpr bool k_wall_time_checked = false;
#else
inline constexpr bool k_wall_time_checked = true;
#endif

} // namespace fleetrun::testing

// CHECK(bound) in the release build only.
#define CHECK_WALL_TIME(...)                                                                                           \
  do {                                                                                                                 \
    if constexpr (::fleetrun::testing::k_wall_time_checked) CHECK(__VA_ARGS__);                                        \
  } while (false)
