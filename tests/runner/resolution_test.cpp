// Resolution through the dispatcher: pages fetched in parallel under the rate
// limit, retried, handed to the sink in order; against the real sandbox
// service in process, with a fake clock and a virtual round trip.
#include "runner/resolution.hpp"

#include "plans/plan_parser.hpp"
#include "tests/support/fake_sender.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace fleetrun;
using namespace fleetrun::runner;
using namespace fleetrun::machine;
using namespace fleetrun::testing;
using nlohmann::json;

namespace {

struct RecordingSink final : DeviceListSink {
  void begin_list(const std::string& run, const plans::QuerySpec& query) override
  {
    calls.push_back("begin " + run + " " + query.name);
  }
  void append_page(const std::string&, const plans::QuerySpec& query, const jobs::DevicePage& page) override
  {
    calls.push_back("page " + query.name + " " + std::to_string(page.size()));
    for (const auto& [id, document] : page) ids.push_back(id);
  }
  void end_list(const std::string&, const plans::QuerySpec& query, std::int64_t total, bool complete) override
  {
    calls.push_back("end " + query.name + " " + std::to_string(total) + (complete ? "" : " incomplete"));
  }
  std::vector<std::string> calls;
  std::vector<std::string> ids;
};

using Script = std::function<std::optional<api::ApiResult>(const api::RequestSpec&)>;

struct Resolution {
  explicit Resolution(std::size_t devices, std::chrono::milliseconds latency = std::chrono::milliseconds(10),
                      Script script_in = {})
      : sandbox(config()), script(std::move(script_in)),
        sender(
            clock, [this](const api::RequestSpec& request) { return answer(request); }, latency)
  {
    sandbox.seed({devices, 5, 1'790'000'000'000});
    backoff.max_attempts = 3;
  }

  static sandbox::SandboxConfig config() { return {}; }

  api::ApiResult answer(const api::RequestSpec& request)
  {
    if (script) {
      if (auto scripted = script(request)) return *scripted;
    }
    return sandbox_responder(sandbox)(request);
  }

  std::expected<void, api::ApiError> run(const std::string& plan_text)
  {
    auto parsed = plans::parse_plan(plan_text, "p.yaml", [](const std::string&) { return std::nullopt; });
    if (!parsed) FAIL(parsed.error().render_all());
    plan = std::move(*parsed);
    return resolve_queries(plan, "r-1", {dispatcher, clock, backoff, rng, stop, std::chrono::seconds(300)}, sink);
  }

  sandbox::Sandbox sandbox;
  Script script;
  FakeClock clock;
  FakeSender sender;
  RateLimiter limiter{0, 0, clock.now()};
  RunCounters counters;
  Dispatcher dispatcher{sender, limiter, clock, 64, std::chrono::seconds(300), counters};
  BackoffPolicy backoff;
  std::mt19937_64 rng{1};
  std::atomic<bool> stop{false};
  plans::Plan plan;
  RecordingSink sink;
};

const char* k_all = R"(version: 1
queries:
  all: {query: {name: {$ne: nobody}}}
  unused: {query: {deviceClass: gateway}}
steps:
  - {id: e, action: export, query: all, email: a@example.com}
)";

} // namespace

TEST_CASE("only the queries some step uses are resolved, each device to the sink once", "[resolution]")
{
  Resolution r(2500);
  REQUIRE(r.run(k_all).has_value());
  // Page 0, the tail (the last page, read descending), the 500 between.
  CHECK(r.sink.calls ==
        std::vector<std::string>{"begin r-1 all", "page all 1000", "page all 1000", "page all 500", "end all 2500"});
  CHECK(r.sender.count("GET", "/devices") == 3);
  std::vector<std::string> ids = r.sink.ids;
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  CHECK(ids.size() == 2500);
}

TEST_CASE("pages are fetched in parallel: resolution takes round trips, not one per page", "[resolution]")
{
  Resolution r(40'000, std::chrono::milliseconds(200));
  r.limiter = RateLimiter(100, 100, r.clock.now()); // told: 100/s, so the in-flight limit is known at once
  const auto started = r.clock.now();
  REQUIRE(r.run(k_all).has_value());
  CHECK(r.sink.ids.size() == 40'000);
  CHECK(r.sender.count("GET", "/devices") >= 40);
  CHECK(r.sender.count("GET", "/devices") <= 42); // parts of whole pages: hardly a request more than pages
  CHECK(r.sender.max_in_flight() > 10);
  // Page 0, the tail, then the 38 pages between in parts at 100/s.
  // Not 40 round trips of 200 ms: at most five (one more where a part's ids bunch).
  CHECK(r.clock.now() - started <= std::chrono::milliseconds(1000));
}

TEST_CASE("transient failures are retried, a 429 costs no attempt, a 4xx ends it", "[resolution]")
{
  int gets = 0;
  Resolution flaky(2500, std::chrono::milliseconds(10), [&](const api::RequestSpec&) -> std::optional<api::ApiResult> {
    ++gets;
    if (gets <= 3) return http_error(429, "{}", 1.0);
    if (gets <= 5) return http_error(503);
    return std::nullopt;
  });
  REQUIRE(flaky.run(k_all).has_value());
  CHECK(flaky.sink.ids.size() == 2500);
  CHECK(flaky.counters.throttled == 3);
  CHECK(flaky.counters.server_errors == 2);

  Resolution refused(2500, std::chrono::milliseconds(10),
                     [](const api::RequestSpec& request) -> std::optional<api::ApiResult> {
                       if (request.params.size() > 3)
                         return http_error(400, R"({"type":"Validation","message":"bad query"})");
                       return std::nullopt;
                     });
  const auto result = refused.run(k_all);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().status == 400);
  CHECK(refused.sink.calls.back().starts_with("begin"));
}

TEST_CASE("a stop request ends resolution as cancelled within 100 ms", "[resolution]")
{
  int gets = 0;
  Resolution r(20'000, std::chrono::milliseconds(300), [&](const api::RequestSpec&) -> std::optional<api::ApiResult> {
    if (++gets == 3) r.stop = true;
    return std::nullopt;
  });
  const auto started = r.clock.now();
  const auto result = r.run(k_all);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == api::ErrorKind::cancelled);
  CHECK(r.clock.now() - started < std::chrono::milliseconds(800));
  CHECK(r.dispatcher.in_flight() == 0); // what was in flight is abandoned
}

TEST_CASE("a Retry-After longer than the run may wait ends resolution at once", "[resolution]")
{
  Resolution r(2500, std::chrono::milliseconds(10),
               [](const api::RequestSpec&) -> std::optional<api::ApiResult> { return http_error(429, "{}", 3600.0); });
  const auto result = r.run(k_all);
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().message, Catch::Contains("--max-retry-after"));
  CHECK(r.sender.count("GET", "/devices") == 1);
}

TEST_CASE("one GET with retries answers the whole-fleet count", "[resolution]")
{
  int gets = 0;
  Resolution r(30, std::chrono::milliseconds(10), [&](const api::RequestSpec&) -> std::optional<api::ApiResult> {
    if (++gets == 1) return http_error(502);
    return std::nullopt;
  });
  api::DeviceListParams all;
  all.per_page = 1;
  const auto result = read_one({r.dispatcher, r.clock, r.backoff, r.rng, r.stop, std::chrono::seconds(300)},
                               api::endpoints::list_devices(all));
  REQUIRE(result.has_value());
  CHECK(json::parse(result->body)["totalCount"] == 30);
  CHECK(gets == 2);
}
