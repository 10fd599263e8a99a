// The coordinator driving whole runs through the request port: a fake sender
// answers with the real sandbox service in process (no sockets) or with
// scripted faults, time is a fake clock, the state file is a real SQLite file.
// Minutes of backoff and polling run in milliseconds.
#include "runner/coordinator.hpp"

#include "plans/plan_parser.hpp"
#include "tests/support/fake_run.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <set>

using nlohmann::json;
using namespace fleetrun;
using namespace fleetrun::runner;
using namespace fleetrun::machine;
using namespace fleetrun::testing;
using state::BatchStatus;
using std::chrono::milliseconds;

namespace {

const char* k_patch_plan = R"(version: 1
queries:
  all: {query: {}}
steps:
  - {id: tag, action: patch, query: all, batch_size: 50, allow_whole_fleet: true,
     updateFields: {description: patched}}
)";

const char* k_command_plan = R"(version: 1
queries:
  all: {query: {}}
steps:
  - {id: ping, action: send_command, query: all, batch_size: 50, allow_whole_fleet: true, name: ping}
)";

bool is_command_post(const api::RequestSpec& request)
{
  return request.method == "POST" && request.path == "/devices/command";
}

} // namespace

TEST_CASE("an apply sends each batch once and records every batch done", "[coordinator]")
{
  FakeRun f(k_patch_plan);
  const RunResult result = f.apply();
  CHECK(result.outcome == RunOutcome::completed);
  CHECK(f.sender.count("PATCH", "/devices") == 6);
  CHECK(f.batch_states() == std::map<BatchStatus, int>{{BatchStatus::done, 6}});
  for (const auto& device : f.fleet()) CHECK(device["description"] == "patched");
  CHECK(f.counters.requests == 7); // one resolution page and six batches
  CHECK(f.store->run(f.run_id)->status == state::RunStatus::completed);
  CHECK_FALSE(f.store->lock_holder(f.run_id).has_value());
}

TEST_CASE("no more requests are in flight than the concurrency allows, and it is used", "[coordinator]")
{
  FakeRun f(k_patch_plan, 1000);
  f.settings.concurrency = 3;
  REQUIRE(f.apply().outcome == RunOutcome::completed);
  CHECK(f.sender.max_in_flight() == 3);
}

TEST_CASE("the rate limit spaces requests in time", "[coordinator]")
{
  FakeRun f(k_patch_plan, 1000);
  f.limiter = RateLimiter(10, 1, f.clock.now());
  f.settings.rate = 10;
  const auto started = f.clock.now();
  REQUIRE(f.apply().outcome == RunOutcome::completed);
  // 1 page + 20 batches at 10/s with a bucket of one: about two seconds.
  CHECK(f.clock.now() - started >= milliseconds(1900));
}

TEST_CASE("429s with Retry-After delay the batch and never fail it", "[coordinator]")
{
  int throttled = 0;
  FakeRun f(k_patch_plan, 300, [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
    if (request.method == "PATCH" && throttled < 30) {
      ++throttled;
      return http_error(429, R"({"type":"TooManyRequests","message":"slow down"})", 3.0);
    }
    return std::nullopt;
  });
  f.settings.backoff.max_attempts = 1; // a 429 is not an attempt
  f.settings.retry_budget = 0;         // nor a retry of the budget
  const auto started = f.clock.now();
  CHECK(f.apply().outcome == RunOutcome::completed);
  CHECK(f.batch_states() == std::map<BatchStatus, int>{{BatchStatus::done, 6}});
  CHECK(f.counters.throttled == 30);
  CHECK(f.clock.now() - started >= milliseconds(3000));
}

TEST_CASE("a command applied but its answer lost is reconciled: no device gets it twice", "[coordinator]")
{
  int commands = 0;
  FakeRun f(k_command_plan, 300,
            [&](const api::RequestSpec& request, const Responder& real) -> std::optional<api::ApiResult> {
              if (is_command_post(request) && ++commands == 2) {
                real(request); // applied by the server, then the connection drops
                return connection_lost();
              }
              return std::nullopt;
            });
  CHECK(f.apply().outcome == RunOutcome::completed);
  const auto delivered = f.commands_named("ping");
  CHECK(delivered.size() == 300);
  for (const auto& [id, count] : delivered) CHECK(count == 1);
  CHECK(f.sender.count("POST", "/devices/command") == 6); // the lost one was not sent again
  CHECK(f.counters.reconciled_devices == 50);
}

TEST_CASE("a command lost before the server applied it is narrowed and sent to the devices without it", "[coordinator]")
{
  int commands = 0;
  FakeRun f(k_command_plan, 120,
            [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
              if (is_command_post(request) && ++commands == 1) return connection_lost(); // never reached the server
              return std::nullopt;
            });
  CHECK(f.apply().outcome == RunOutcome::completed);
  for (const auto& [id, count] : f.commands_named("ping")) CHECK(count == 1);
  CHECK(f.commands_named("ping").size() == 120);
  CHECK(f.sender.count("POST", "/devices/command") == 4);
}

TEST_CASE("the failure budget stops sending once too many devices failed", "[coordinator]")
{
  FakeRun f(k_patch_plan, 1000, [](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
    if (request.method == "PATCH") return http_error(400, R"({"type":"Validation","message":"no"})");
    return std::nullopt;
  });
  f.settings.concurrency = 1;
  f.settings.max_failure_percent = 10;
  const RunResult result = f.apply();
  CHECK(result.outcome == RunOutcome::failed);
  CHECK_THAT(result.message, Catch::Contains("too many failures"));
  // 50 devices a batch, 1000 devices: the third failed batch crosses 10%.
  CHECK(f.sender.count("PATCH", "/devices") == 3);
  CHECK(f.batch_states()[BatchStatus::planned] == 17);
}

TEST_CASE("a stop request ends the step after what is in flight, and resume finishes it", "[coordinator]")
{
  int patches = 0;
  FakeRun f(k_patch_plan, 1000,
            [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
              if (request.method == "PATCH" && ++patches == 5) f.stop = true;
              return std::nullopt;
            });
  f.settings.concurrency = 2;
  const RunResult stopped = f.apply();
  CHECK(stopped.outcome == RunOutcome::interrupted);
  const auto states = f.batch_states();
  CHECK(states.at(BatchStatus::done) == 5);
  CHECK(states.at(BatchStatus::planned) == 15);
  CHECK(f.store->run(f.run_id)->status == state::RunStatus::interrupted);

  f.stop = false;
  CHECK(f.resume().outcome == RunOutcome::completed);
  CHECK(f.batch_states() == std::map<BatchStatus, int>{{BatchStatus::done, 20}});
  CHECK(f.sender.count("PATCH", "/devices") == 20); // nothing sent twice
}

TEST_CASE("a batch left in flight by a killed process is re-sent for a patch and reconciled for a command",
          "[coordinator]")
{
  for (const char* text : {k_patch_plan, k_command_plan}) {
    FakeRun f(text, 100);
    // Stopped at once: steps and batches recorded, nothing sent.
    f.prepare();
    f.stop = true;
    REQUIRE(f.resume().outcome == RunOutcome::interrupted);
    const bool command = std::string(text) == k_command_plan;
    // As if killed after committing the intent of batch 1 (and, for the
    // command, after the server applied it).
    f.journal->execute("UPDATE batches SET status = 'sending', attempts = 1 WHERE batch_index = 0");
    if (command) {
      const auto stored = f.store->batch(f.run_id, 0, 0);
      f.sender.submit(999, {"POST", "/devices/command", {}, stored->body});
      f.sender.wait(f.clock.now() + std::chrono::seconds(1));
    }
    f.stop = false;
    REQUIRE(f.resume().outcome == RunOutcome::completed);
    if (command) {
      for (const auto& [id, count] : f.commands_named("ping")) CHECK(count == 1);
      CHECK(f.counters.reconciled_devices == 50);
    } else {
      CHECK(f.sender.count("PATCH", "/devices") == 2);
    }
    const auto events = f.store->events(f.run_id);
    CHECK(std::any_of(events.begin(), events.end(), [](const auto& e) { return e.kind == "batch_unknown"; }));
  }
}

TEST_CASE("a rejected token halts the run with nothing marked as applied", "[coordinator]")
{
  FakeRun f(k_patch_plan, 100, [](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
    if (request.method == "PATCH")
      return http_error(401, R"({"type":"Unauthorized","message":"Invalid access token"})");
    return std::nullopt;
  });
  const RunResult result = f.apply();
  CHECK(result.outcome == RunOutcome::auth_failed);
  CHECK(f.batch_states()[BatchStatus::planned] == 2);
}

TEST_CASE("a plan whose stored request changed under a batch in flight is refused on resume", "[coordinator]")
{
  FakeRun f(k_patch_plan, 100);
  f.prepare();
  f.stop = true;
  REQUIRE(f.resume().outcome == RunOutcome::interrupted);
  f.journal->execute("UPDATE batches SET status = 'sending', request_hash = 'x' WHERE batch_index = 0");
  f.stop = false;
  const RunResult result = f.resume();
  CHECK(result.outcome == RunOutcome::state_mismatch);
  CHECK(f.sender.count("PATCH", "/devices") == 0);
}

TEST_CASE("a 202 job is followed to its end, an errored job fails its batch and the step", "[coordinator]")
{
  std::map<std::string, int> polls;
  FakeRun f(k_patch_plan, 100,
            [&](const api::RequestSpec& request, const Responder& real) -> std::optional<api::ApiResult> {
              if (request.method == "PATCH") {
                real(request);
                const std::string job = json::parse(*request.body)["deviceIds"][0];
                return ok(202, json{{"jobQueued", true}, {"jobId", job}, {"success", true}}.dump());
              }
              if (request.path.starts_with("/jobLogs/")) {
                const std::string job = request.path.substr(9);
                const bool errored = job == f.store->batch(f.run_id, 0, 1)->device_ids_json.substr(2, 24);
                if (++polls[job] < 3)
                  return ok(200, R"({"status":"inProgress","progress":{"completed":1,"total":50}})");
                return ok(200, json{{"status", errored ? "errored" : "completed"},
                                    {"output", {{"updated", errored ? 20 : 50}, {"failed", errored ? 30 : 0}}}}
                                   .dump());
              }
              return std::nullopt;
            });
  f.settings.max_failure_percent = 100;
  const RunResult result = f.apply();
  CHECK(result.outcome == RunOutcome::failed);
  CHECK(f.batch_states() == std::map<BatchStatus, int>{{BatchStatus::done, 1}, {BatchStatus::failed, 1}});
  CHECK(f.counters.jobs_followed == 2);
  for (const auto& [job, count] : polls) CHECK(count == 3);
}

// Batch 1's job errors with 30 of its 50 devices failed (30 % of the step,
// over a budget of 10 %) while batch 2's job is still running: the abort sends
// nothing new but follows batch 2's job to its end.
TEST_CASE("an abort on the failure budget follows enqueued jobs to their end and counts each failure once",
          "[coordinator]")
{
  std::map<std::string, int> polls;
  std::string errored_job;
  FakeRun f(k_patch_plan, 100,
            [&](const api::RequestSpec& request, const Responder& real) -> std::optional<api::ApiResult> {
              if (request.method == "PATCH") {
                real(request);
                const std::string job = json::parse(*request.body)["deviceIds"][0];
                if (errored_job.empty()) errored_job = job;
                return ok(202, json{{"jobQueued", true}, {"jobId", job}, {"success", true}}.dump());
              }
              if (request.path.starts_with("/jobLogs/")) {
                const std::string job = request.path.substr(9);
                const int poll = ++polls[job];
                if (job == errored_job)
                  return ok(200, json{{"status", "errored"}, {"output", {{"updated", 20}, {"failed", 30}}}}.dump());
                if (poll < 4) return ok(200, R"({"status":"inProgress","progress":{"completed":10,"total":50}})");
                return ok(200, json{{"status", "completed"}, {"output", {{"updated", 50}, {"failed", 0}}}}.dump());
              }
              return std::nullopt;
            });
  f.settings.max_failure_percent = 10;
  const RunResult result = f.apply();
  CHECK(result.outcome == RunOutcome::failed);
  CHECK_THAT(result.message, Catch::Contains("too many failures"));
  CHECK(f.sender.count("PATCH", "/devices") == 2);
  // The running job was followed to its end, not left enqueued.
  CHECK(f.batch_states() == std::map<BatchStatus, int>{{BatchStatus::done, 1}, {BatchStatus::failed, 1}});
  CHECK(polls.size() == 2);
  const auto events = f.store->events(f.run_id);
  const auto aborted = std::find_if(events.begin(), events.end(), [](const auto& e) { return e.kind == "aborted"; });
  REQUIRE(aborted != events.end());
  CHECK_THAT(aborted->message, Catch::Contains("30 of 100 devices failed"));
  const json step = json::parse(f.store->steps(f.run_id).at(0).result_json);
  CHECK(step["failedDevices"] == 30);
  CHECK(step["totals"]["updated"] == 70);

  // Resume counts the same 30 failures once, not twice, and sends nothing.
  const auto sent = f.sender.count("PATCH", "/devices");
  const RunResult again = f.resume();
  CHECK(again.outcome == RunOutcome::failed);
  CHECK(f.sender.count("PATCH", "/devices") == sent);
  const json resumed = json::parse(f.store->steps(f.run_id).at(0).result_json);
  CHECK(resumed["failedDevices"] == 30);
  for (const auto& event : f.store->events(f.run_id)) {
    if (event.kind == "aborted") CHECK_THAT(event.message, Catch::Contains("30 of 100 devices failed"));
  }
}

TEST_CASE("with --keep-going a step with failures does not stop the next one", "[coordinator]")
{
  const std::string plan = std::string(k_patch_plan) +
                           "  - {id: ping, action: send_command, query: all, batch_size: 50, allow_whole_fleet: true, "
                           "name: ping}\n";
  for (const bool keep_going : {false, true}) {
    int patches = 0;
    FakeRun f(plan, 100, [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
      if (request.method == "PATCH" && ++patches == 1) return http_error(400);
      return std::nullopt;
    });
    f.settings.max_failure_percent = 100;
    f.settings.keep_going = keep_going;
    const RunResult result = f.apply();
    CHECK(result.outcome == RunOutcome::failed);
    CHECK(f.sender.count("POST", "/devices/command") == (keep_going ? 2U : 0U));
  }
}

TEST_CASE("resolution pages through the fleet by id cursor and stores every device once", "[coordinator]")
{
  FakeRun f(k_patch_plan, 2500);
  REQUIRE(f.apply().outcome == RunOutcome::completed);
  CHECK(f.sender.count("GET", "/devices") == 3);
  std::set<std::string> ids;
  f.store->for_each_device(f.run_id, "all", false, [&](const std::string& id, const std::string&) { ids.insert(id); });
  CHECK(ids.size() == 2500);
}

TEST_CASE("transient failures during resolution are retried, a 429 costs no attempt", "[coordinator]")
{
  int gets = 0;
  FakeRun f(k_patch_plan, 100, [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
    if (request.method != "GET") return std::nullopt;
    ++gets;
    if (gets <= 3) return http_error(429, "{}", 1.0);
    if (gets <= 5) return http_error(503);
    return std::nullopt;
  });
  f.settings.backoff.max_attempts = 3;
  CHECK(f.apply().outcome == RunOutcome::completed);
  CHECK(f.counters.throttled == 3);
  CHECK(f.counters.server_errors == 2);
}

TEST_CASE("a stop request during resolution ends it at the next request, as cancelled", "[coordinator]")
{
  int gets = 0;
  FakeRun f(k_patch_plan, 5000,
            [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
              if (request.method == "GET" && ++gets == 2) f.stop = true;
              return std::nullopt;
            });
  runner::Coordinator c = f.coordinator();
  const std::string run =
      c.begin(state::RunKind::apply, {"/p.yaml", "http://sandbox", "5f1a2b3c4d5e6f7a8b9c0d1e", ""}).id;
  const auto resolved = c.resolve(run);
  REQUIRE_FALSE(resolved.has_value());
  CHECK(resolved.error().kind == api::ErrorKind::cancelled);
  CHECK(f.sender.count("GET", "/devices") <= 5); // page 0 and the pages after it, sent at once
  c.interrupt(run, "stopped");
  CHECK(f.store->run(run)->status == state::RunStatus::interrupted);
  CHECK_FALSE(f.store->lock_holder(run).has_value());
}

TEST_CASE("a Retry-After holds back every request of the run, not only the refused one", "[coordinator]")
{
  int patches = 0;
  FakeRun f(k_patch_plan, 1000,
            [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
              if (request.method == "PATCH" && ++patches == 1) return http_error(429, "{}", 20.0);
              return std::nullopt;
            });
  f.settings.concurrency = 4;
  const auto started = f.clock.now();
  REQUIRE(f.apply().outcome == RunOutcome::completed);
  // The first answer asked for 20 s: nothing may leave during them, whichever batch it is.
  const auto sent = f.sender.sent();
  SteadyTime throttled_at{};
  for (const auto& s : sent) {
    if (s.request.method == "PATCH") {
      throttled_at = s.at;
      break;
    }
  }
  int during = 0;
  for (const auto& s : sent) {
    if (s.at > throttled_at + std::chrono::milliseconds(20) && s.at < throttled_at + std::chrono::seconds(20)) ++during;
  }
  CHECK(during == 0);
  CHECK(f.clock.now() - started >= std::chrono::seconds(20));
}

TEST_CASE("a Retry-After longer than the run may wait stops it, resumable, with the batch waiting", "[coordinator]")
{
  int patches = 0;
  FakeRun f(k_patch_plan, 200, [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
    if (request.method == "PATCH" && ++patches == 2) return http_error(429, "{}", 86400.0);
    return std::nullopt;
  });
  f.settings.concurrency = 1;
  const RunResult result = f.apply();
  CHECK(result.outcome == RunOutcome::api_paused);
  CHECK_THAT(result.message, Catch::Contains("86400 s") && Catch::Contains("--max-retry-after"));
  CHECK(f.store->run(f.run_id)->status == state::RunStatus::interrupted);
  CHECK(f.batch_states()[BatchStatus::retry_wait] == 1);
  CHECK(f.sender.count("PATCH", "/devices") == 2); // nothing more was sent
}

TEST_CASE("a state file deleted under a running step stops the run with a state failure", "[coordinator]")
{
  int patches = 0;
  FakeRun f(k_patch_plan, 1000,
            [&](const api::RequestSpec& request, const Responder&) -> std::optional<api::ApiResult> {
              if (request.method == "PATCH" && ++patches == 3) std::filesystem::remove(f.dir / "state.db");
              return std::nullopt;
            });
  f.settings.concurrency = 1;
  f.sender.set_latency(std::chrono::milliseconds(600)); // a check a second: a few batches later
  CHECK_THROWS_AS(f.apply(), state::StateFailure);
  CHECK(f.sender.count("PATCH", "/devices") < 10);
}

TEST_CASE("progress is reported on the clock's schedule, growing, and once when the step ends", "[coordinator]")
{
  FakeRun f(k_patch_plan, 1000);
  f.limiter = RateLimiter(10, 1, f.clock.now());
  f.settings.rate = 10;
  runner::Coordinator c = f.coordinator();
  std::vector<ProgressSnapshot> seen;
  c.report_progress([&](const ProgressSnapshot& snapshot) { seen.push_back(snapshot); }, milliseconds(500));
  f.prepare_with(c);
  REQUIRE(c.execute(f.run_id).outcome == RunOutcome::completed);
  // 20 batches at 10/s: about two seconds, so three or four reports and the last.
  REQUIRE(seen.size() >= 4);
  REQUIRE(seen.size() <= 6);
  for (std::size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].devices_finished >= seen[i - 1].devices_finished);
    CHECK(seen[i].step_elapsed >= seen[i - 1].step_elapsed);
  }
  CHECK(seen.front().devices_finished > 0);
  CHECK(seen.front().devices_finished < 1000);
  CHECK_FALSE(seen.front().step_done);
  CHECK(seen.back().step_done);
  CHECK(seen.back().devices_finished == 1000);
  CHECK(seen.back().devices_total == 1000);
  CHECK(seen.back().step_requests == 20);
  CHECK(seen.back().step_id == "tag");
  CHECK(seen.back().step_count == 1);
}

TEST_CASE("job polls take at most one request in ten while batches wait to be sent", "[coordinator]")
{
  // Every batch is enqueued as a job that runs on; told 10/s, the 40
  // batches need 4 s: polls of the jobs already enqueued must not slow them.
  FakeRun f(k_patch_plan, 2000,
            [&](const api::RequestSpec& request, const Responder& real) -> std::optional<api::ApiResult> {
              if (request.method == "PATCH") {
                real(request);
                const std::string job = json::parse(*request.body)["deviceIds"][0];
                return ok(202, json{{"jobQueued", true}, {"jobId", job}, {"success", true}}.dump());
              }
              if (request.path.starts_with("/jobLogs/"))
                return ok(200, R"({"status":"queued"})"); // no progress reported: polled often
              return std::nullopt;
            });
  f.limiter = RateLimiter(10, 1, f.clock.now());
  f.settings.rate = 10;
  f.settings.concurrency = 4;
  f.plan.options.job_timeout_seconds = 20; // the jobs never end: followed for 20 s
  const auto started = f.clock.now();
  f.apply();
  CHECK(f.sender.count("PATCH", "/devices") == 40);
  int index = 0;
  int requests_at_last_batch = 0;
  std::chrono::milliseconds last_batch_at{0};
  for (const auto& sent : f.sender.sent()) {
    ++index;
    if (sent.request.method != "PATCH") continue;
    requests_at_last_batch = index;
    last_batch_at = std::chrono::duration_cast<std::chrono::milliseconds>(sent.at - started);
  }
  // 41 requests (a page and 40 batches) at 10/s, and polls at most a tenth of the requests meanwhile.
  CHECK(last_batch_at <= std::chrono::milliseconds(4600));
  CHECK(requests_at_last_batch - 41 <= 5);
  CHECK(f.counters.job_poll_requests > 40); // the jobs were followed
}

namespace {

// A server's rate limit as Losant keeps it: a bucket of `rate` tokens a
// second, `rate` deep, spent when a request arrives.
struct ServerBucket {
  double rate;
  double tokens;
  runner::SteadyTime last{};
  bool take(runner::SteadyTime arriving)
  {
    if (arriving > last) {
      tokens = std::min(rate, tokens + std::chrono::duration<double>(arriving - last).count() * rate);
      last = arriving;
    }
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }
};

const char* k_single_device_patch_plan = R"(version: 1
queries:
  all: {query: {}}
steps:
  - {id: tag, action: patch, query: all, batch_size: 1, allow_whole_fleet: true,
     updateFields: {description: patched}}
)";

} // namespace

TEST_CASE("against an unknown limit, answers clumped, late and out of order, a run paces itself within bounds on "
          "both sides",
          "[coordinator]")
{
  // The hard case from the field: round trips of 100 to 500 ms, answers taken
  // in heaps every 400 ms, a 50/s limit nobody told fleetrun, bare 429s or
  // Retry-After. Counted by when answers were taken, an estimator read 175/s;
  // counting sends whose answers were not in yet, it never probed and ran at 60 %.
  constexpr double k_limit = 50;
  constexpr int k_devices = 3000;
  for (const bool retry_after : {false, true}) {
    for (unsigned seed = 1; seed <= 2; ++seed) {
      ServerBucket server{k_limit, k_limit};
      FakeRun* self = nullptr;
      FakeRun f(k_single_device_patch_plan, k_devices,
                [&](const api::RequestSpec&, const Responder&) -> std::optional<api::ApiResult> {
                  if (server.take(self->sender.arriving())) return std::nullopt;
                  return http_error(429, R"({"type":"TooManyRequests","message":"slow down"})",
                                    retry_after ? std::optional<double>(1.0) : std::nullopt);
                });
      self = &f;
      f.sender.set_latency(milliseconds(300));
      f.sender.set_delivery({milliseconds(200), milliseconds(400), seed});
      f.settings.retry_budget = 1'000'000;
      const auto started = f.clock.now();
      REQUIRE(f.apply().outcome == RunOutcome::completed);
      const double seconds = std::chrono::duration<double>(f.clock.now() - started).count();
      const double stored = f.store->run(f.run_id)->learned_rate;
      INFO((retry_after ? "Retry-After" : "bare 429")
           << ", seed " << seed << ": " << f.counters.requests << " requests, " << f.counters.throttled << " refused, "
           << seconds << " s, learned " << stored << "/s");
      // Every device patched once, no batch failed for the 429s.
      CHECK(f.batch_states() == std::map<BatchStatus, int>{{BatchStatus::done, k_devices}});
      // Paced from both sides: never faster than the limit allows (the
      // server enforces that), and at least 80 % of it, with few refusals.
      CHECK(seconds >= (k_devices - k_limit) / k_limit);
      CHECK(seconds <= k_devices / (0.8 * k_limit));
      CHECK(f.counters.throttled <= 10 + 0.04 * f.counters.requests);
      // What is stored for the next run: never above the limit, and not far below.
      CHECK(stored <= k_limit);
      CHECK(stored >= 0.8 * k_limit);
    }
  }
}
