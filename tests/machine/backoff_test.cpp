#include "machine/backoff.hpp"

#include <catch2/catch.hpp>

using namespace fleetrun::machine;
using namespace std::chrono_literals;

TEST_CASE("backoff grows exponentially with full jitter, up to the cap", "[backoff]")
{
  BackoffPolicy policy;
  policy.base = 100ms;
  policy.cap = 1000ms;
  std::mt19937_64 rng(1);
  for (int attempt = 2; attempt <= 10; ++attempt) {
    const auto ceiling = std::min<std::int64_t>(1000, 100LL << (attempt - 2));
    std::int64_t largest = 0;
    for (int i = 0; i < 200; ++i) {
      const auto delay = backoff_delay(policy, attempt, std::nullopt, rng).count();
      CHECK(delay >= 0);
      CHECK(delay <= ceiling);
      largest = std::max(largest, delay);
    }
    CHECK(largest > ceiling / 2); // spread over the whole range, not stuck low
  }
}

TEST_CASE("Retry-After is a floor, with a little jitter above it", "[backoff]")
{
  std::mt19937_64 rng(2);
  for (int i = 0; i < 100; ++i) {
    const auto delay = backoff_delay(BackoffPolicy{}, 2, 3.0, rng).count();
    CHECK(delay >= 3000);
    CHECK(delay <= 3300);
  }
}
