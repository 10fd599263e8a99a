#include "runner/rate_limiter.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <deque>
#include <random>
#include <set>

using fleetrun::runner::RateLimiter;
using namespace std::chrono_literals;

namespace {

int sent_in(RateLimiter& limiter, RateLimiter::Clock::time_point start, std::chrono::milliseconds span)
{
  int sent = 0;
  for (auto now = start; now < start + span; now += 1ms) {
    RateLimiter::Clock::duration wait{};
    while (limiter.try_acquire(now, wait)) ++sent;
  }
  return sent;
}

} // namespace

TEST_CASE("the limiter allows the burst, then the rate", "[rate_limiter]")
{
  const auto t0 = RateLimiter::Clock::time_point{};
  RateLimiter limiter(20, 5, t0);
  CHECK(sent_in(limiter, t0, 1000ms) == 5 + 20 - 1); // the burst, then 20/s over the rest of the second
  RateLimiter::Clock::duration wait{};
  while (limiter.try_acquire(t0 + 1000ms, wait)) {
  }
  CHECK(wait > 0ms);
  CHECK(wait <= 50ms);
}

TEST_CASE("told a rate, a 429 steps down to what the server took, and successes bring it back", "[rate_limiter]")
{
  const auto t0 = RateLimiter::Clock::time_point{} + 10s;
  RateLimiter limiter(100, 10, t0);
  limiter.on_throttled(t0);
  CHECK(limiter.current_rate() == Approx(90));
  limiter.on_throttled(t0 + 100ms); // the same burst of 429s
  CHECK(limiter.current_rate() == Approx(90));
  for (int i = 0; i < 40; ++i) limiter.on_success(t0 + 1000ms + std::chrono::milliseconds(i));
  limiter.on_throttled(t0 + 1500ms);
  // The server's bucket was empty at both 429s: it took 40 in the 1.5 s between.
  CHECK(limiter.current_rate() == Approx(0.95 * 40 / 1.5));
  for (int i = 0; i < 100; ++i) limiter.on_success(t0 + 3s);
  CHECK(limiter.current_rate() == Approx(100));
}

TEST_CASE("not told, it sends freely until the first 429, then paces at 95 % of what was accepted", "[rate_limiter]")
{
  const auto t0 = RateLimiter::Clock::time_point{} + 10s;
  RateLimiter limiter(0, 0, t0);
  RateLimiter::Clock::duration no_wait{};
  for (int i = 0; i < 1000; ++i) REQUIRE(limiter.try_acquire(t0, no_wait)); // never holds back
  CHECK(limiter.current_rate() == 0);
  RateLimiter fresh(0, 0, t0);
  for (int i = 0; i < 20; ++i) fresh.on_success(t0 + std::chrono::milliseconds(i * 50)); // 20 accepted in a second
  fresh.on_throttled(t0 + 1s);
  CHECK(fresh.current_rate() == Approx(19));
  CHECK(fresh.accepted_rate(t0 + 1s) == Approx(20));
}

TEST_CASE("learning probes a little higher after two quiet seconds", "[rate_limiter]")
{
  const auto t0 = RateLimiter::Clock::time_point{} + 10s;
  RateLimiter limiter(0, 0, t0);
  for (int i = 0; i < 10; ++i) limiter.on_success(t0);
  limiter.on_throttled(t0);
  CHECK(limiter.current_rate() == Approx(9.5));
  limiter.on_success(t0 + 1s);
  CHECK(limiter.current_rate() == Approx(9.5));
  limiter.on_success(t0 + 2s);
  CHECK(limiter.current_rate() == Approx(9.69));
}

TEST_CASE("a held limiter gives no token until the hold ends", "[rate_limiter]")
{
  const auto t0 = RateLimiter::Clock::time_point{} + 10s;
  RateLimiter limiter(0, 0, t0);
  limiter.hold_until(t0 + 2s);
  RateLimiter::Clock::duration wait{};
  CHECK_FALSE(limiter.try_acquire(t0 + 500ms, wait));
  CHECK(wait == 1500ms);
  CHECK(limiter.try_acquire(t0 + 2s, wait));
}

TEST_CASE("against an unknown limit it reaches 95 % of it within seconds and keeps 429s rare", "[rate_limiter]")
{
  // A simulated server: a token bucket of R per second and burst R, answering
  // a refusal with Retry-After in whole seconds (as most servers do), and a
  // client sending as fast as its limiter allows, 30 ms round trips, its
  // requests in flight starting at 4 and growing by one a success until the
  // first 429 (as the coordinator does), 16 at most.
  for (const double server_rate : {5.0, 20.0, 100.0}) {
    INFO("server rate " << server_rate);
    auto now = RateLimiter::Clock::time_point{} + 10s;
    RateLimiter client(0, 0, now);
    double tokens = server_rate;
    auto last = now;
    int sent = 0;
    int refused = 0;
    int accepted_late = 0; // accepted in the last 10 s of 20
    std::deque<RateLimiter::Clock::time_point> in_flight;
    std::size_t in_flight_limit = 4;
    bool learned = false;
    const auto end = now + 20s;
    for (; now < end; now += 1ms) {
      while (!in_flight.empty() && in_flight.front() + 30ms <= now) {
        const auto arrived = in_flight.front() + 15ms; // the server counts it half way
        in_flight.pop_front();
        tokens = std::min(server_rate, tokens + std::chrono::duration<double>(arrived - last).count() * server_rate);
        last = arrived;
        if (tokens >= 1) {
          tokens -= 1;
          client.on_success(now);
          if (!learned) in_flight_limit = std::min<std::size_t>(16, in_flight_limit + 1);
          if (now >= end - 10s) ++accepted_late;
        } else {
          ++refused;
          learned = true;
          client.on_throttled(now);
          client.hold_until(now + std::chrono::seconds(static_cast<int>(std::ceil((1 - tokens) / server_rate))));
        }
      }
      RateLimiter::Clock::duration wait{};
      while (in_flight.size() < in_flight_limit && client.try_acquire(now, wait)) {
        in_flight.push_back(now);
        ++sent;
      }
    }
    CHECK(accepted_late >= 0.95 * server_rate * 10 * 0.97); // 95 % of the limit, give or take a probe's 429
    // The first 429 costs what was in flight when the server's bucket ran
    // dry; after that, a probe's now and then.
    CHECK(refused <= 8 + 0.02 * sent);
    INFO("server " << server_rate << "/s: " << sent << " sent, " << refused << " refused, " << accepted_late
                   << " accepted in the last 10 s");
  }
}

TEST_CASE("a learned rate from an earlier run is where a resume starts", "[rate_limiter]")
{
  const auto t0 = RateLimiter::Clock::time_point{};
  RateLimiter limiter(100, 100, t0);
  limiter.start_at(12.5, t0);
  CHECK(limiter.current_rate() == Approx(12.5));
  CHECK(sent_in(limiter, t0, 1000ms) <= 26); // no burst of 100
}

TEST_CASE("a limiter that allows for requests in flight never runs ahead of the server's bucket", "[rate_limiter]")
{
  // Four requests in flight with latencies of 0-20 ms against a server bucket
  // of the same rate and burst. Idle spells let the server's bucket overflow
  // while requests travel; the client's bucket, full and the same size, would
  // then hold tokens the server no longer has.
  const double rate = 100;
  const double burst = 100;
  const int concurrency = 4;
  for (const bool allowance : {false, true}) {
    const auto t0 = RateLimiter::Clock::time_point{} + 1h;
    RateLimiter client(rate, burst, t0);
    if (allowance) client.allow_in_flight(concurrency);
    double server_tokens = burst;
    auto server_last = t0;
    std::mt19937_64 rng(7);
    std::multiset<RateLimiter::Clock::time_point> arrivals;
    int refused = 0;
    int sent = 0;
    auto now = t0;
    for (int round = 0; round < 40; ++round) {
      const auto busy_until = now + 1500ms; // a busy spell, then an idle one
      for (; now < busy_until; now += 1ms) {
        while (!arrivals.empty() && *arrivals.begin() <= now) {
          const auto at = *arrivals.begin();
          arrivals.erase(arrivals.begin());
          server_tokens =
              std::min(burst, server_tokens + std::chrono::duration<double>(at - server_last).count() * rate);
          server_last = at;
          if (server_tokens >= 1) {
            server_tokens -= 1;
          } else {
            ++refused;
          }
        }
        RateLimiter::Clock::duration wait{};
        while (arrivals.size() < concurrency && client.try_acquire(now, wait)) {
          arrivals.insert(now + std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 20)(rng)));
          ++sent;
        }
      }
      now += std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(rng));
    }
    CHECK(sent > 4000);
    if (allowance) {
      CHECK(refused == 0);
    } else {
      CHECK(refused > 0); // what the allowance is for
    }
  }
}

TEST_CASE("waiting exactly as long as told always yields a token (no wait rounds down to zero)", "[rate_limiter]")
{
  // A fake clock moves only by the waits it is told: with the wait truncated
  // to whole nanoseconds the bucket could stay a hair short of a token, and a
  // zero wait would make its caller spin for ever.
  for (const double rate : {3.0, 7.0, 10.0, 33.3, 97.0}) {
    auto now = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
    RateLimiter limiter(rate, 1, now);
    int acquired = 0;
    for (int asks = 0; asks < 1000 && acquired < 200; ++asks) {
      RateLimiter::Clock::duration wait{};
      if (limiter.try_acquire(now, wait)) {
        ++acquired;
      } else {
        REQUIRE(wait > RateLimiter::Clock::duration::zero());
        now += wait;
      }
    }
    CHECK(acquired == 200);
  }
}
