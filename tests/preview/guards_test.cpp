// Guards and drift, over device lists resolved from the in-process sandbox.
#include "preview/guards.hpp"

#include "tests/support/fake_run.hpp"

#include <catch2/catch.hpp>

using namespace fleetrun;
using namespace fleetrun::runner;
using namespace fleetrun::preview;
using namespace fleetrun::testing;

namespace {

api::ApiResult fleet_of(std::int64_t total)
{
  return ok(200, json{{"items", json::array()}, {"count", 0}, {"totalCount", total}}.dump());
}

} // namespace

TEST_CASE("expect.min and expect.max refuse a query whose count is outside them", "[guards]")
{
  FakeRun f(R"(version: 1
queries:
  few: {query: {deviceClass: gateway}, expect: {max: 1}}
  many: {query: {}, expect: {min: 100000}}
  fine: {query: {}, expect: {min: 1, max: 1000}}
steps:
  - {id: a, action: export, query: few, email: ops@example.com}
  - {id: b, action: export, query: many, email: ops@example.com}
  - {id: c, action: export, query: fine, email: ops@example.com}
)",
            50);
  const std::string run = f.preview();
  int counted = 0;
  const auto violations = check_guards(*f.store, f.plan, run, [&] {
    ++counted;
    return fleet_of(50);
  });
  REQUIRE(violations.has_value());
  REQUIRE(violations->size() == 2);
  CHECK((*violations)[0].where == "queries.few.expect");
  CHECK_THAT((*violations)[0].message, Catch::Contains("more than expect.max 1"));
  CHECK((*violations)[1].where == "queries.many.expect");
  CHECK_THAT((*violations)[1].message, Catch::Contains("fewer than expect.min 100000"));
  CHECK(counted == 0); // exports change nothing: the fleet is not counted
}

TEST_CASE("a changing step over the whole fleet is refused unless the step allows it", "[guards]")
{
  const std::string plan = R"(version: 1
queries:
  everything: {query: {name: {$ne: nobody}}}
steps:
  - {id: wipe, action: delete, query: everything}
)";
  FakeRun f(plan, 30);
  const std::string run = f.preview();
  const auto refused = check_guards(*f.store, f.plan, run, [] { return fleet_of(30); });
  REQUIRE(refused->size() == 1);
  CHECK(refused->at(0).where == "steps[0] (wipe)");
  CHECK_THAT(refused->at(0).message, Catch::Contains("allow_whole_fleet: true"));
  CHECK(check_guards(*f.store, f.plan, run, [] { return fleet_of(31); })->empty());

  FakeRun allowed(plan.substr(0, plan.size() - 2) + ", allow_whole_fleet: true}\n", 30);
  const std::string run2 = allowed.preview();
  CHECK(check_guards(*allowed.store, allowed.plan, run2, [] { return fleet_of(30); })->empty());
}

TEST_CASE("an unreadable fleet count or a failed request stops the guard check", "[guards]")
{
  FakeRun f(
      "version: 1\nqueries:\n  all: {query: {name: {$ne: nobody}}}\nsteps:\n  - {id: d, action: delete, query: all}\n",
      10);
  const std::string run = f.preview();
  const auto unreadable = check_guards(*f.store, f.plan, run, [] { return ok(200, "<html>"); });
  REQUIRE_FALSE(unreadable.has_value());
  CHECK_THAT(unreadable.error().message, Catch::Contains("totalCount"));
  const auto failed = check_guards(*f.store, f.plan, run, [] { return http_error(503); });
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().status == 503);
}

TEST_CASE("drift names the devices added and gone since the preview", "[guards]")
{
  FakeRun f("version: 1\nqueries:\n  all: {query: {}}\nsteps:\n  - {id: e, action: export, query: all}\n", 20);
  const std::string before = f.preview();
  CHECK(describe_drift(*f.store, before, f.preview()).empty());
  const json fleet = f.fleet();
  sandbox::Request remove;
  remove.method = "DELETE";
  remove.path = "/applications/5f1a2b3c4d5e6f7a8b9c0d1e/devices/" + fleet[0]["id"].get<std::string>();
  remove.authorization = "Bearer sandbox-token";
  REQUIRE(f.sandbox.serve(remove).status == 200);
  const std::string drift = describe_drift(*f.store, before, f.preview());
  CHECK_THAT(drift, Catch::Contains("query all: 0 device(s) added, 1 gone since the preview"));
  CHECK_THAT(drift, Catch::Contains(fleet[0]["id"].get<std::string>()));
}
