#pragma once
// Waiting for something another process does, in tests: checked every 10 ms
// until it holds, or the test fails saying what did not happen. No fixed
// sleep decides what a test sees; the deadline is generous (builds with
// sanitizers run several times slower) and only reached when something is wrong.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace fleetrun::testing {

inline constexpr std::chrono::seconds k_default_wait{60};

template <class Condition>
void wait_until(Condition condition, const std::string& what, std::chrono::milliseconds deadline = k_default_wait)
{
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) FAIL("waited " << deadline.count() << " ms for " << what);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

} // namespace fleetrun::testing
