// The dispatcher: how many requests may be in flight, what it counts, and the
// round trips it measures, through the fake port on a fake clock.
#include "runner/dispatcher.hpp"

#include "tests/support/fake_sender.hpp"

#include <catch2/catch.hpp>

using namespace fleetrun;
using namespace fleetrun::runner;
using namespace fleetrun::testing;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  explicit Fixture(std::chrono::milliseconds latency, double rate = 0)
      : sender(
            clock, [](const api::RequestSpec&) { return ok(200, "{}"); }, latency),
        limiter(rate, rate, clock.now()), dispatcher(sender, limiter, clock, 64, std::chrono::seconds(300), counters)
  {
  }

  // Sends while allowed at the current time; the number sent.
  int fill()
  {
    int sent = 0;
    SteadyTime retry_at = clock.now();
    while (dispatcher.try_take(clock.now(), retry_at)) {
      dispatcher.send({"GET", "/devices", {}, {}});
      ++sent;
    }
    return sent;
  }

  FakeClock clock;
  FakeSender sender;
  RateLimiter limiter;
  RunCounters counters;
  Dispatcher dispatcher;
};

} // namespace

TEST_CASE("before a rate is known, requests in flight start at four and grow with each answer", "[dispatcher]")
{
  Fixture f(100ms);
  CHECK(f.fill() == 4);
  CHECK(f.dispatcher.in_flight() == 4);
  int answers = 0;
  while (auto answer = f.dispatcher.wait(f.clock.now() + 1s)) {
    REQUIRE(answer->result.has_value());
    if (++answers == 4) break;
  }
  // Four answers: four more slots than before, and what the answers need caps it.
  CHECK(f.dispatcher.in_flight() == 0);
  const int next = f.fill();
  CHECK(next > 4);
  CHECK(next <= 8);
  CHECK(f.counters.requests == 4 + next);
}

TEST_CASE("told a rate, requests in flight are what the rate needs over the round trip", "[dispatcher]")
{
  // 20/s and 500 ms round trips: 10 requests are in flight at the rate, 16 with the margin.
  Fixture f(500ms, 20);
  const auto end = f.clock.now() + 10s;
  while (f.clock.now() < end) {
    f.fill();
    SteadyTime retry_at = f.clock.now() + 1s;
    f.dispatcher.try_take(f.clock.now(), retry_at);
    f.dispatcher.wait(retry_at);
  }
  CHECK(f.dispatcher.round_trip() == 500ms);
  CHECK(f.dispatcher.in_flight_limit() == 16); // 20 x 0.5 x 1.5 + 1
  CHECK(f.sender.max_in_flight() <= 16);
}

TEST_CASE("the round trip is the time on the wire, not the wait for the answer to be taken", "[dispatcher]")
{
  // Answers come back after 50 ms, but are taken only a second later: the
  // round trip stays 50 ms (more requests in flight would not help).
  Fixture f(50ms);
  f.fill();
  f.clock.advance(1000ms);
  while (f.dispatcher.in_flight() > 0) f.dispatcher.wait(f.clock.now());
  CHECK(f.dispatcher.round_trip() == 50ms);
}

TEST_CASE("a 429 is counted, slows the limiter and its Retry-After holds every request", "[dispatcher]")
{
  FakeClock clock;
  int calls = 0;
  FakeSender sender(clock, [&](const api::RequestSpec&) {
    return ++calls == 3 ? http_error(429, R"({"type":"TooManyRequests","message":"slow"})", 2.0) : ok(200, "{}");
  });
  RateLimiter limiter(0, 0, clock.now());
  RunCounters counters;
  Dispatcher dispatcher(sender, limiter, clock, 64, std::chrono::seconds(300), counters);
  SteadyTime retry_at = clock.now();
  for (int i = 0; i < 4; ++i) {
    REQUIRE(dispatcher.try_take(clock.now(), retry_at));
    dispatcher.send({"GET", "/devices", {}, {}});
  }
  while (dispatcher.in_flight() > 0) dispatcher.wait(clock.now() + 1s);
  CHECK(counters.throttled == 1);
  CHECK(counters.timeline.size() >= 1);
  CHECK(limiter.current_rate() > 0); // learning from then on
  retry_at = clock.now();
  CHECK_FALSE(dispatcher.try_take(clock.now(), retry_at));
  CHECK(retry_at >= clock.now() + 1900ms); // the Retry-After of 2 s holds everything
}
