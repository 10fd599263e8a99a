#include "sandbox/token_bucket.hpp"

#include <catch2/catch.hpp>

using fleetrun::sandbox::TokenBucket;
using namespace std::chrono_literals;

TEST_CASE("a bucket allows its burst, then one token per 1/rate seconds", "[token_bucket]")
{
  const auto t0 = TokenBucket::Clock::time_point{};
  TokenBucket bucket(10, 3, t0);
  CHECK_FALSE(bucket.try_take(t0).has_value());
  CHECK_FALSE(bucket.try_take(t0).has_value());
  CHECK_FALSE(bucket.try_take(t0).has_value());
  const auto wait = bucket.try_take(t0);
  REQUIRE(wait.has_value());
  CHECK(*wait == Approx(0.1));
  CHECK(bucket.try_take(t0 + 50ms).has_value());
  CHECK_FALSE(bucket.try_take(t0 + 100ms).has_value());
}

TEST_CASE("a bucket never holds more than its burst", "[token_bucket]")
{
  const auto t0 = TokenBucket::Clock::time_point{};
  TokenBucket bucket(100, 2, t0);
  const auto later = t0 + 10s;
  CHECK_FALSE(bucket.try_take(later).has_value());
  CHECK_FALSE(bucket.try_take(later).has_value());
  CHECK(bucket.try_take(later).has_value());
}

TEST_CASE("rate 0 is unlimited", "[token_bucket]")
{
  TokenBucket bucket(0, 0, TokenBucket::Clock::time_point{});
  for (int i = 0; i < 1000; ++i) REQUIRE_FALSE(bucket.try_take(TokenBucket::Clock::time_point{}).has_value());
}
