// `fleetrun resume` and the crash guarantees: a run killed with SIGKILL at
// any moment, resumed, ends in the same fleet state as one never interrupted,
// with no command delivered twice.
#include "tests/support/sandbox_process.hpp"
#include "tests/support/wait_until.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <regex>
#include <set>
#include <thread>

using nlohmann::json;
using namespace fleetrun::testing;
using namespace std::chrono_literals;

namespace {

// Four steps over thousands of devices, small batches so that there are many
// moments to be killed at: patch, remove data, send a command, delete.
const char* k_four_step_plan = R"(version: 1
queries:
  sensors: {query: {deviceClass: {$ne: gateway}}}
  west: {query: {tags: {site: west}}}
  north: {query: {tags: {site: north}}}
  stale: {query: {connectionStatus: disconnected}}
steps:
  - {id: tag, action: patch, query: sensors, batch_size: 100,
     updateOperations: [{operation: set, target: tag, value: {key: checked, value: "yes"}}]}
  - {id: purge, action: remove_data, query: west, batch_size: 50, attributes: [humidity]}
  - {id: ping, action: send_command, query: north, batch_size: 50, name: ping, payload: {n: 1}}
  - {id: retire, action: delete, query: stale, batch_size: 100}
)";

// bench/crash_soak.sh runs the crash test larger: FLEETRUN_CRASH_DEVICES, FLEETRUN_CRASH_SEED.
std::string env_or(const char* name, const char* fallback)
{
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

#ifdef FLEETRUN_SANITIZED_BUILD
// Several times slower under ASan: fewer kills, to stay in the test's time; the
// release build checks the full counts.
constexpr const char* k_default_devices = "1200";
constexpr const char* k_default_cycles = "30";
constexpr int k_min_kills = 15;
constexpr std::size_t k_min_points = 8;
#else
constexpr const char* k_default_devices = "2500";
constexpr const char* k_default_cycles = "300";
constexpr int k_min_kills = 50;
constexpr std::size_t k_min_points = 30;
#endif

std::vector<std::string> sandbox_args(int latency_ms, std::vector<std::string> extra = {})
{
  std::vector<std::string> args = {"--devices",       env_or("FLEETRUN_CRASH_DEVICES", k_default_devices),
                                   "--seed",          env_or("FLEETRUN_CRASH_SEED", "9"),
                                   "--latency-ms",    std::to_string(latency_ms),
                                   "--job-threshold", "100000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string progress_of(const std::string& state_file)
{
  const auto status = run_fleetrun({"status", "--state", state_file, "--output", "json"});
  if (status.exit_code != 0) return "no run yet";
  json signature = json::array();
  const json facts = json::parse(status.out); // a named value: the loop below must not outlive it
  for (const auto& step : facts["steps"]) signature.push_back(step["batches"]);
  return signature.dump();
}

// Waits until the run's steps are recorded in the state file (how long that
// takes depends on the build: ASan is slower); fails the test if they never are.
void wait_for_steps(const std::string& state_file)
{
  wait_until(
      [&] {
        const std::string progress = progress_of(state_file);
        return progress != "no run yet" && progress != "[]";
      },
      "the run's steps to be recorded in " + state_file);
}

// Waits until at least `batches` batches of the run `process` applies are
// done (or failed); fails at once, with what it said, if it ends first.
void wait_for_batches(const FleetrunProcess& process, const std::string& state_file, int batches)
{
  std::string last_status;
  wait_until(
      [&] {
        if (process.ended())
          FAIL("fleetrun ended before " << batches << " batches were done; status said: " << last_status);
        const auto status = run_fleetrun({"status", "--state", state_file, "--output", "json"});
        last_status = std::to_string(status.exit_code) + " " + status.err + status.out.substr(0, 2000);
        if (status.exit_code != 0) return false;
        int finished = 0;
        const json facts = json::parse(status.out); // named: the loop must not outlive it
        for (const auto& step : facts["steps"]) {
          for (const auto& [state, count] : step["batches"].items()) {
            if (state == "done" || state == "failed") finished += count.get<int>();
          }
        }
        return finished >= batches;
      },
      std::to_string(batches) + " batches of the run to be done");
}

} // namespace

TEST_CASE("a run killed with SIGKILL at many points and resumed each time ends like an uninterrupted run",
          "[resume_command]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", k_four_step_plan);

  // The reference: the same plan, never interrupted, on an identical fleet.
  SandboxProcess reference(sandbox_args(0));
  const auto clean = run_fleetrun(
      {"apply", (dir / "plan.yaml").string(), "--yes", "--state", (dir / "clean.db").string()}, sandbox_env(reference));
  INFO(clean.err);
  REQUIRE(clean.exit_code == 0);
  const json expected = comparable_fleet(reference);

  SandboxProcess sandbox(sandbox_args(25));
  const std::string state_file = (dir / "crashed.db").string();
  const auto env = sandbox_env(sandbox);
  // Smaller batches than the plan's, one request at a time: many moments to kill at.
  const std::vector<std::string> pace = {"--concurrency", "1"};
  write_file(dir / "plan.yaml",
             std::regex_replace(std::string(k_four_step_plan), std::regex("batch_size: [0-9]+"), "batch_size: 25"));
  int kills = 0;
  std::set<std::string> points;
  std::string last_progress;
  int patience_ms = 0; // grows while kills land before any progress (e.g. mid-reconciliation)
  bool finished = false;
  const int max_cycles = std::stoi(env_or("FLEETRUN_CRASH_MAX_CYCLES", k_default_cycles));
  const auto started = std::chrono::steady_clock::now();
  for (int cycle = 0; cycle < max_cycles && !finished; ++cycle) {
    // apply until a run exists; resume afterwards.
    std::vector<std::string> args =
        // A kill can land after the file is created and before the run is
        // recorded: then there is nothing to resume yet.
        progress_of(state_file) != "no run yet"
            ? std::vector<std::string>{"resume", "--state", state_file}
            : std::vector<std::string>{"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file};
    args.insert(args.end(), pace.begin(), pace.end());
    FleetrunProcess process(args, env);
    if (cycle < 3) {
      // The first kills land while the queries are being resolved (nothing changed yet).
      std::this_thread::sleep_for(std::chrono::milliseconds(60 + 90 * cycle));
    } else {
      // Then spread over execution: once the steps are recorded, 20 to 120 ms in.
      wait_for_steps(state_file);
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + (cycle * 37) % 100 + patience_ms));
    }
    process.signal(SIGKILL);
    const auto result = process.wait();
    if (result.exit_code == 128 + SIGKILL) {
      ++kills;
      const std::string progress = progress_of(state_file);
      patience_ms = progress == last_progress ? std::min(patience_ms + 150, 3000) : 0;
      last_progress = progress;
      points.insert(progress);
    } else {
      INFO(result.out << result.err);
      REQUIRE(result.exit_code == 0);
      finished = true;
    }
  }
  if (!finished) {
    const auto last = run_fleetrun({"resume", "--state", state_file}, env);
    INFO(last.out << last.err);
    REQUIRE(last.exit_code == 0);
  }
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  WARN("killed " << kills << " times at " << points.size() << " distinct points of progress in " << seconds
                 << " s; final fleet equal to the uninterrupted run: "
                 << (comparable_fleet(sandbox) == expected ? "yes" : "NO"));
  CHECK(kills >= k_min_kills);
  CHECK(points.size() >= k_min_points);
  CHECK(comparable_fleet(sandbox) == expected);
  const auto status = json::parse(run_fleetrun({"status", "--state", state_file, "--output", "json"}).out);
  CHECK(status["status"] == "completed");
}

TEST_CASE("SIGTERM stops after the requests in flight, exits 130, and resume finishes", "[resume_command]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", k_four_step_plan);
  SandboxProcess reference(sandbox_args(0));
  REQUIRE(run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", (dir / "a.db").string()},
                       sandbox_env(reference))
              .exit_code == 0);
  // One request at a time at 200 ms: the steps take several seconds, time to be stopped in.
  SandboxProcess sandbox(sandbox_args(200));
  const std::string state_file = (dir / "b.db").string();
  FleetrunProcess process({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file, "--concurrency", "1"},
                          sandbox_env(sandbox));
  wait_for_batches(process, state_file, 2); // stopped while the steps run, some batches done
  process.signal(SIGTERM);
  const auto stopped = process.wait();
  INFO(stopped.err);
  REQUIRE(stopped.exit_code == 130);
  const auto status = json::parse(run_fleetrun({"status", "--state", state_file, "--output", "json"}).out);
  CHECK(status["status"] == "interrupted");
  for (const auto& step : status["steps"]) CHECK_FALSE(step["batches"].contains("in flight")); // all recorded
  const auto resumed = run_fleetrun({"resume", "--state", state_file}, sandbox_env(sandbox));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(comparable_fleet(sandbox) == comparable_fleet(reference));
}

TEST_CASE("resume refuses a plan that changed since the run started", "[resume_command]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", k_four_step_plan);
  SandboxProcess sandbox(sandbox_args(30));
  const std::string state_file = (dir / "s.db").string();
  FleetrunProcess process({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file},
                          sandbox_env(sandbox));
  // Killed once the run is recorded (how long that takes depends on the build: ASan is slower).
  wait_until([&] { return progress_of(state_file) != "no run yet"; }, "the run to be recorded");
  process.signal(SIGKILL);
  process.wait();
  write_file(dir / "plan.yaml", std::string(k_four_step_plan) + "# an edit\n");
  const auto refused = run_fleetrun({"resume", "--state", state_file}, sandbox_env(sandbox));
  CHECK(refused.exit_code == 4);
  CHECK(refused.err.find("changed since run") != std::string::npos);
}

TEST_CASE("resume and a second apply refuse a run that a live process is applying, naming it", "[resume_command]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", k_four_step_plan);
  SandboxProcess sandbox(sandbox_args(200));
  const std::string state_file = (dir / "s.db").string();
  FleetrunProcess process({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file},
                          sandbox_env(sandbox));
  json status;
  wait_until(
      [&] {
        const auto result = run_fleetrun({"status", "--state", state_file, "--output", "json"});
        if (result.exit_code != 0 || !json::parse(result.out).contains("lock")) return false;
        status = json::parse(result.out);
        return true;
      },
      "the run to hold its lock");
  REQUIRE(status.contains("lock"));
  CHECK(status["lock"]["alive"] == true);
  const auto refused = run_fleetrun({"resume", "--state", state_file}, sandbox_env(sandbox));
  CHECK(refused.exit_code == 4);
  CHECK(refused.err.find("is being applied by pid " + std::to_string(process.pid())) != std::string::npos);
  // A second apply on the same state file would work on the same fleet at the same time.
  const auto second =
      run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file}, sandbox_env(sandbox));
  CHECK(second.exit_code == 4);
  CHECK(second.err.find("is being applied by pid " + std::to_string(process.pid())) != std::string::npos);
}

TEST_CASE("a send_command whose answer is lost is reconciled, never delivered twice", "[resume_command]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {north: {query: {tags: {site: north}}}}
steps: [{id: ping, action: send_command, query: north, batch_size: 40, name: ping}]
)");
  // Every command request is applied and then its connection dropped.
  SandboxProcess sandbox({"--devices", "400", "--fault-drop-after", "1"});
  const auto result =
      run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--output", "json"}, sandbox_env(sandbox));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json status = json::parse(result.out);
  CHECK(status["summary"]["counters"]["reconciledDevices"].get<int>() > 0);
  int north = 0;
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) {
    bool is_north = false;
    for (const auto& tag : device["tags"]) is_north = is_north || (tag["key"] == "site" && tag["value"] == "north");
    if (!is_north) continue;
    ++north;
    CHECK(device["commands"].size() == 1);
  }
  CHECK(north > 40);
}

TEST_CASE("at_most_once reports a lost send_command answer instead of repeating it", "[resume_command]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {north: {query: {tags: {site: north}}}}
steps: [{id: ping, action: send_command, query: north, name: ping, delivery: at_most_once}]
)");
  SandboxProcess sandbox({"--devices", "200", "--fault-drop-after", "1"});
  const auto result = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes"}, sandbox_env(sandbox));
  CHECK(result.exit_code == 1);
  CHECK(result.out.find("unknown") != std::string::npos);
  CHECK(sandbox.admin_get(
            "/_sandbox/stats")["requests"]["POST /applications/{applicationId}/devices/command dropped"] == 1);
}

TEST_CASE("a state file written by another tool is refused", "[resume_command]")
{
  TempDir dir;
  write_file(dir / "other.db", std::string(4096, 'x'));
  const auto result = run_fleetrun({"status", "--state", (dir / "other.db").string()});
  CHECK(result.exit_code == 4);
  CHECK(result.err.find("not a fleetrun state file") != std::string::npos);
}

TEST_CASE("apply --scheduled continues this plan's unfinished run, exits 75 beside a live one, else starts anew",
          "[resume_command]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", k_four_step_plan);
  SandboxProcess reference(sandbox_args(0));
  REQUIRE(run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", (dir / "ref.db").string()},
                       sandbox_env(reference))
              .exit_code == 0);

  SandboxProcess sandbox(sandbox_args(200));
  const std::string state_file = (dir / "s.db").string();
  const std::vector<std::string> scheduled = {
      "apply", (dir / "plan.yaml").string(), "--yes", "--scheduled", "--state", state_file};
  const auto runs = [&] { return json::parse(run_fleetrun({"runs", "--state", state_file, "--output", "json"}).out); };
  {
    std::vector<std::string> slow = scheduled;
    slow.insert(slow.end(), {"--concurrency", "1"});
    FleetrunProcess first(slow, sandbox_env(sandbox));
    wait_for_steps(state_file);
    // A second scheduled start while the first is live: nothing done, exit 75.
    const auto overlapping = run_fleetrun(scheduled, sandbox_env(sandbox));
    CHECK(overlapping.exit_code == 75);
    CHECK_THAT(overlapping.err, Catch::Contains("is being applied by pid " + std::to_string(first.pid())));
    CHECK(runs().size() == 1);
    first.signal(SIGKILL);
    first.wait();
  }
  const std::string killed = runs()[0]["run"];
  CHECK(runs()[0]["status"] == "running");
  // The next scheduled start continues the killed run instead of starting another.
  const auto continued = run_fleetrun(scheduled, sandbox_env(sandbox));
  INFO(continued.err);
  REQUIRE(continued.exit_code == 0);
  CHECK_THAT(continued.err, Catch::Contains("run " + killed + " of this plan is unfinished: continuing it"));
  REQUIRE(runs().size() == 1);
  CHECK(runs()[0]["status"] == "completed");
  CHECK(comparable_fleet(sandbox) == comparable_fleet(reference));
  // With nothing unfinished, the next start is a new run.
  const auto next = run_fleetrun(scheduled, sandbox_env(sandbox));
  INFO(next.err);
  CHECK(next.exit_code == 0);
  CHECK(runs().size() == 2);
}
