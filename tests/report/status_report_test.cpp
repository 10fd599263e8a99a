// `status` (its facts, typed and as JSON, and its text) from a state file
// written by real runs through the coordinator.
#include "report/status_report.hpp"

#include "tests/support/fake_run.hpp"

#include <catch2/catch.hpp>

using namespace fleetrun;
using namespace fleetrun::runner;
using namespace fleetrun::report;
using namespace fleetrun::testing;

namespace {

const char* k_plan = R"(version: 1
queries:
  all: {query: {}}
steps:
  - {id: tag, action: patch, query: all, batch_size: 40, allow_whole_fleet: true, updateFields: {description: x}}
)";

} // namespace

TEST_CASE("status of a completed run: steps, batches by state, totals and the run's story", "[status_report]")
{
  FakeRun f(k_plan, 100);
  REQUIRE(f.apply().outcome == RunOutcome::completed);
  const RunFacts facts = run_facts(*f.store, *f.store->run(f.run_id));
  CHECK(facts.status == "completed");
  CHECK(facts.kind == "apply");
  REQUIRE(facts.steps.size() == 1);
  const StepFacts& step = facts.steps[0];
  CHECK(step.status == "done");
  CHECK(step.devices == 100);
  CHECK(step.batch_count == 3);
  CHECK(step.batches == std::map<std::string, std::int64_t>{{"done", 3}});
  CHECK(step.devices_by_state == std::map<std::string, std::int64_t>{{"done", 100}});
  CHECK(step.totals.at("updated") == 100);
  CHECK(facts.counters["requests"] == 4);
  std::vector<std::string> kinds;
  for (const auto& event : facts.events) kinds.push_back(event.kind);
  CHECK(kinds.front() == "started");
  CHECK(std::find(kinds.begin(), kinds.end(), "step_started") != kinds.end());
  CHECK(kinds.back() == "completed");
  CHECK_FALSE(facts.lock.has_value());

  const std::string text = render_status(facts);
  CHECK_THAT(text, Catch::Contains("run " + f.run_id + " (apply): completed"));
  CHECK_THAT(text, Catch::Contains("1. tag patch: done, 100 devices; batches: done 3; 100 updated"));
  CHECK_THAT(text, Catch::Contains("requests: 4 requests (3 for batches, 1 for resolution)"));
}

TEST_CASE("status names each failed batch with its error and counts pending ones", "[status_report]")
{
  int patches = 0;
  FakeRun f(k_plan, 100, [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
    if (request.method == "PATCH" && ++patches == 1) {
      return http_error(400, R"({"type":"Validation","message":"description too long"})");
    }
    return std::nullopt;
  });
  f.settings.concurrency = 1;
  f.settings.max_failure_percent = 100;
  REQUIRE(f.apply().outcome == RunOutcome::failed);
  const RunFacts facts = run_facts(*f.store, *f.store->run(f.run_id));
  const StepFacts& step = facts.steps.at(0);
  CHECK(step.status == "failed");
  CHECK(step.batches == std::map<std::string, std::int64_t>{{"done", 2}, {"failed", 1}});
  REQUIRE(step.problems.size() == 1);
  CHECK(step.problems[0].batch == 1);
  CHECK_THAT(step.problems[0].error, Catch::Contains("description too long"));
  CHECK_THAT(render_status(facts), Catch::Contains("batch 1 failed: HTTP 400 Validation: description too long"));
}

TEST_CASE("status of an interrupted run shows pending batches and the lock gone", "[status_report]")
{
  int patches = 0;
  FakeRun f(k_plan, 200, [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
    if (request.method == "PATCH" && ++patches == 2) f.stop = true;
    return std::nullopt;
  });
  f.settings.concurrency = 1;
  REQUIRE(f.apply().outcome == RunOutcome::interrupted);
  const RunFacts facts = run_facts(*f.store, *f.store->run(f.run_id));
  CHECK(facts.status == "interrupted");
  CHECK(facts.steps.at(0).batches == std::map<std::string, std::int64_t>{{"done", 2}, {"pending", 3}});
  CHECK(facts.steps.at(0).devices_by_state.at("pending") == 120);

  // `status --output json` says the same, in the shape docs/CLI.md gives.
  const json document = to_json(facts);
  CHECK(document["status"] == "interrupted");
  CHECK(document["steps"][0]["batches"] == json{{"done", 2}, {"pending", 3}});
  CHECK(document["steps"][0]["devicesByState"]["pending"] == 120);
  CHECK(document["steps"][0]["index"] == 1);
  CHECK(document["steps"][0].contains("started"));
  CHECK_FALSE(document["steps"][0].contains("finished"));
}
