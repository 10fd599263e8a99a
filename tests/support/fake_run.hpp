#pragma once
// A whole run in process: the coordinator with a fake request port that
// answers as the real sandbox service does (or as a test scripts it), a fake
// clock and a real state file in a temporary folder.

#include "runner/coordinator.hpp"

#include "plans/plan_parser.hpp"
#include "tests/support/fake_sender.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>

namespace fleetrun::testing {

using nlohmann::json;
using runner::RunResult;

// Answers a request differently from the sandbox, or returns nothing to let it answer.
using Script = std::function<std::optional<api::ApiResult>(const api::RequestSpec&, const Responder& real)>;

struct FakeRun {
  explicit FakeRun(const std::string& plan_text, std::size_t devices = 300, Script script_in = {})
      : sandbox(config()), script(std::move(script_in)),
        sender(clock, [this](const api::RequestSpec& request) { return answer(request); })
  {
    sandbox.seed({devices, 3, 1'790'000'000'000});
    auto parsed = plans::parse_plan(plan_text, "plan.yaml", [](const std::string&) { return std::nullopt; });
    if (!parsed) FAIL(parsed.error().render_all());
    plan = std::move(*parsed);
    store = std::move(*state::StateStore::open((dir / "state.db").string(), state::OpenMode::create_if_missing));
    journal = std::make_unique<state::RunJournal>(*store);
    settings.backoff.max_attempts = 4;
  }

  static sandbox::SandboxConfig config()
  {
    sandbox::SandboxConfig config;
    config.runtime.job_threshold = 1'000'000; // 200 answers unless a test scripts a 202
    return config;
  }

  api::ApiResult answer(const api::RequestSpec& request)
  {
    const Responder real = sandbox_responder(sandbox);
    if (script) {
      if (auto scripted = script(request, real)) return std::move(*scripted);
    }
    return real(request);
  }

  runner::Coordinator coordinator()
  {
    return runner::Coordinator(*journal, plan, {sender, limiter, clock, stop}, settings);
  }

  // What `apply --yes` does before the first change: a run, its lists, its steps.
  void prepare()
  {
    runner::Coordinator c = coordinator();
    prepare_with(c);
  }

  void prepare_with(runner::Coordinator& c)
  {
    run_id = c.begin(state::RunKind::apply, {"/plans/plan.yaml", "http://sandbox", "5f1a2b3c4d5e6f7a8b9c0d1e", ""}).id;
    REQUIRE(c.resolve(run_id).has_value());
    c.record_steps(run_id, run_id);
  }

  // What `apply --yes` does: prepare, then the steps executed and finished.
  RunResult apply()
  {
    runner::Coordinator c = coordinator();
    prepare_with(c);
    const RunResult result = c.execute(run_id);
    c.finish(run_id, result);
    counters = c.counters();
    return result;
  }

  // What `plan` does before showing the preview: a preview run and its lists.
  std::string preview()
  {
    runner::Coordinator c = coordinator();
    const std::string id =
        c.begin(state::RunKind::preview, {"/plans/plan.yaml", "http://sandbox", "5f1a2b3c4d5e6f7a8b9c0d1e", ""}).id;
    REQUIRE(c.resolve(id).has_value());
    return id;
  }

  // What `resume` does with the same run.
  RunResult resume()
  {
    runner::Coordinator c = coordinator();
    REQUIRE(c.take_over(run_id).has_value());
    const RunResult result = c.execute(run_id);
    c.finish(run_id, result);
    counters = c.counters();
    return result;
  }

  std::map<state::BatchStatus, int> batch_states(int step = 0) const
  {
    std::map<state::BatchStatus, int> states;
    for (const auto& batch : store->batches(run_id, step, false)) ++states[batch.status];
    return states;
  }

  json fleet()
  {
    sandbox::Request request;
    request.method = "GET";
    request.path = "/_sandbox/devices";
    return json::parse(sandbox.serve(request).body);
  }

  // Commands per device id, by name.
  std::map<std::string, int> commands_named(const std::string& name)
  {
    std::map<std::string, int> out;
    for (const auto& device : fleet()) {
      for (const auto& command : device["commands"]) {
        if (command["name"] == name) ++out[device["id"].get<std::string>()];
      }
    }
    return out;
  }

  TempDir dir;
  sandbox::Sandbox sandbox;
  Script script;
  FakeClock clock;
  FakeSender sender;
  runner::RateLimiter limiter{0, 0, clock.now()};
  std::atomic<bool> stop{false};
  runner::ExecutionSettings settings;
  plans::Plan plan;
  std::unique_ptr<state::StateStore> store;   // what the run recorded, read
  std::unique_ptr<state::RunJournal> journal; // its writes (and a test's own)
  std::string run_id;
  runner::RunCounters counters;
};

} // namespace fleetrun::testing
