// `fleetrun apply`: for every action, the sandbox's state afterwards is what
// the preview said; drift, confirmation and failures behave as documented.
#include "tests/support/sandbox_process.hpp"
#include "tests/support/scripted_server.hpp"
#include "tests/support/wall_time.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>
#include <sstream>

using nlohmann::json;
using namespace fleetrun::testing;

namespace {

const std::string k_devices = std::string("/applications/") + k_sandbox_application + "/devices";

json preview(const TempDir& dir, const SandboxProcess& sandbox)
{
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string(), "--output", "json"}, sandbox_env(sandbox));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return json::parse(result.out);
}

CommandResult apply(const TempDir& dir, const SandboxProcess& sandbox, std::vector<std::string> extra = {})
{
  std::vector<std::string> args = {"apply", (dir / "plan.yaml").string(), "--yes"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_fleetrun(args, sandbox_env(sandbox));
}

json by_id(const json& devices)
{
  json out = json::object();
  for (const auto& device : devices) out[device["id"].get<std::string>()] = device;
  return out;
}

std::string tag_of(const json& device, const std::string& key)
{
  for (const auto& tag : device["tags"]) {
    if (tag["key"] == key) return tag["value"];
  }
  return {};
}

} // namespace

TEST_CASE("patch changes exactly the previewed devices, as the preview said", "[apply_command]")
{
  TempDir dir;
  // A low job threshold: the 1000-device batch is queued as a job and followed.
  SandboxProcess sandbox({"--devices", "3000", "--job-threshold", "300", "--job-duration-ms", "200"});
  write_file(dir / "plan.yaml", R"(version: 1
queries:
  legacy: {query: {tags: {fw: {$in: ["1.2.0", "1.3.1"]}}}}
steps:
  - id: tag
    action: patch
    query: legacy
    updateOperations: [{operation: set, target: tag, value: {key: wave, value: "3"}}]
)");
  const json facts = preview(dir, sandbox);
  const auto previewed = facts["steps"][0]["deviceIds"].get<std::set<std::string>>();
  REQUIRE(previewed.size() > 1000);
  const auto result = apply(dir, sandbox);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json devices = by_id(sandbox.admin_get("/_sandbox/devices"));
  for (const auto& [id, device] : devices.items()) {
    CHECK((tag_of(device, "wave") == "3") == previewed.contains(id));
  }
  CHECK(result.out.find("completed") != std::string::npos);
  CHECK(sandbox.admin_get("/_sandbox/stats")["requests"]["PATCH /applications/{applicationId}/devices 202"] >= 1);
}

TEST_CASE("delete, remove_data, send_command, export, restore and create do what the preview said", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "500", "--job-threshold", "50", "--job-duration-ms", "100"});
  write_file(dir / "plan.yaml", R"(version: 1
queries:
  stale: {query: {connectionStatus: disconnected}}
  south_gw: {query: {deviceClass: gateway, tags: {site: south}}}
steps:
  - {id: backup, action: export, query: stale, format: json}
  - {id: purge, action: remove_data, query: stale, attributes: [temperature]}
  - {id: retire, action: delete, query: stale}
  - {id: reboot, action: send_command, query: south_gw, name: reboot, payload: {delay: 5}}
  - id: provision
    action: create
    devices: [{name: new-one, tags: [{key: site, value: harbor}]}, {name: new-two}]
)");
  const json facts = preview(dir, sandbox);
  const auto stale = facts["steps"][0]["deviceIds"].get<std::set<std::string>>();
  const auto south_gw = facts["steps"][3]["deviceIds"].get<std::set<std::string>>();
  const auto result = apply(dir, sandbox);
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  const json devices = by_id(sandbox.admin_get("/_sandbox/devices"));
  int created = 0;
  for (const auto& [id, device] : devices.items()) {
    CHECK(device.contains("deletedAt") == stale.contains(id));
    if (stale.contains(id)) CHECK_FALSE(device["dataPointsByAttribute"].contains("temperature"));
    const bool rebooted = device["commands"].size() == 1 && device["commands"][0]["name"] == "reboot";
    CHECK(rebooted == (south_gw.contains(id) && !stale.contains(id))); // deleted in step 3 first
    if (device["name"] == "new-one" || device["name"] == "new-two") {
      ++created;
      CHECK_FALSE(tag_of(device, "fleetrun_run").empty());
    }
  }
  CHECK(created == 2);
  bool exported = false;
  for (const auto& job : sandbox.admin_get("/_sandbox/jobs"))
    exported = exported || job["name"] == "Device Metadata Export";
  CHECK((exported || sandbox.admin_get("/_sandbox/stats")["requests"].contains(
                         "POST /applications/{applicationId}/devices/export 200")));

  // And back: restore the deleted ones.
  write_file(dir / "plan.yaml", R"(version: 1
queries:
  gone: {deleted: true, query: {connectionStatus: disconnected}}
steps: [{id: undo, action: restore, query: gone}]
)");
  const auto restored = apply(dir, sandbox);
  INFO(restored.err);
  REQUIRE(restored.exit_code == 0);
  const json after = by_id(sandbox.admin_get("/_sandbox/devices"));
  for (const auto& [id, device] : after.items()) CHECK_FALSE(device.contains("deletedAt"));
}

TEST_CASE("without --yes and without a terminal, apply refuses and changes nothing", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "100"});
  write_file(dir / "plan.yaml",
             "version: 1\nqueries: {q: {query: {deviceClass: gateway}}}\nsteps: [{id: d, action: delete, query: q}]\n");
  const json before = comparable_fleet(sandbox);
  const auto result = run_fleetrun({"apply", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("pass --yes") != std::string::npos);
  CHECK(comparable_fleet(sandbox) == before);
}

TEST_CASE("apply --from-preview reports drift and aborts by default", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "100"});
  write_file(dir / "plan.yaml", R"(version: 1
queries: {gw: {query: {deviceClass: gateway}}}
steps: [{id: tag, action: patch, query: gw, updateFields: {description: seen}}]
)");
  const std::string run = preview(dir, sandbox)["run"];
  REQUIRE(http_request(sandbox.port(), "POST", k_devices, R"({"name":"late-gateway","deviceClass":"gateway"})").first ==
          201);
  const auto result = apply(dir, sandbox, {"--from-preview", run});
  CHECK(result.exit_code == 3);
  CHECK(result.err.find("1 device(s) added, 0 gone since the preview") != std::string::npos);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) CHECK(device["description"] != "seen");
}

TEST_CASE("with on_drift: use_snapshot, apply touches exactly the previewed devices", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "100"});
  write_file(dir / "plan.yaml", R"(version: 1
options: {on_drift: use_snapshot}
queries: {gw: {query: {deviceClass: gateway}}}
steps: [{id: tag, action: patch, query: gw, updateFields: {description: seen}}]
)");
  const json facts = preview(dir, sandbox);
  const auto previewed = facts["steps"][0]["deviceIds"].get<std::set<std::string>>();
  REQUIRE(http_request(sandbox.port(), "POST", k_devices, R"({"name":"late-gateway","deviceClass":"gateway"})").first ==
          201);
  const auto result = apply(dir, sandbox, {"--from-preview", facts["run"].get<std::string>()});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) {
    CHECK((device["description"] == "seen") == previewed.contains(device["id"].get<std::string>()));
  }
}

TEST_CASE("a changed plan cannot be applied from an older preview", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "20"});
  write_file(dir / "plan.yaml", "version: 1\nqueries: {q: {query: {deviceClass: gateway}}}\nsteps: [{id: d, action: "
                                "patch, query: q, updateFields: {description: a}}]\n");
  const std::string run = preview(dir, sandbox)["run"];
  write_file(dir / "plan.yaml", "version: 1\nqueries: {q: {query: {deviceClass: gateway}}}\nsteps: [{id: d, action: "
                                "patch, query: q, updateFields: {description: b}}]\n");
  const auto result = apply(dir, sandbox, {"--from-preview", run});
  CHECK(result.exit_code == 4);
  CHECK(result.err.find("the plan changed since preview") != std::string::npos);
  CHECK_THAT(result.err, Catch::Contains("line 3 was:") && Catch::Contains("description: a}") &&
                             Catch::Contains("line 3 is:") && Catch::Contains("description: b}"));
}

TEST_CASE("a preview is applied once, --reuse-preview applies it again", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "20"});
  write_file(dir / "plan.yaml", "version: 1\nqueries: {q: {query: {deviceClass: gateway}}}\nsteps: [{id: d, action: "
                                "patch, query: q, updateFields: {description: once}}]\n");
  const std::string run = preview(dir, sandbox)["run"];
  const auto first = apply(dir, sandbox, {"--from-preview", run});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  const auto second = apply(dir, sandbox, {"--from-preview", run});
  CHECK(second.exit_code == 4);
  CHECK_THAT(second.err, Catch::Contains(run) && Catch::Contains("--reuse-preview"));
  const auto again = apply(dir, sandbox, {"--from-preview", run, "--reuse-preview"});
  INFO(again.err);
  CHECK(again.exit_code == 0);
}

TEST_CASE("plan --detailed-exitcode: 2 when something would change, 0 when nothing would, 1 for a bad plan",
          "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "20"});
  const auto plan_with = [&](const std::string& description) {
    write_file(dir / "plan.yaml", "version: 1\nqueries: {q: {query: {deviceClass: gateway}}}\nsteps: [{id: d, action: "
                                  "patch, query: q, updateFields: {description: " +
                                      description + "}}]\n");
    return run_fleetrun({"plan", (dir / "plan.yaml").string(), "--detailed-exitcode"}, sandbox_env(sandbox));
  };
  CHECK(plan_with("tidy").exit_code == 2);
  REQUIRE(apply(dir, sandbox).exit_code == 0);
  const auto nothing = plan_with("tidy"); // every gateway has it now: each device would be skipped
  INFO(nothing.out << nothing.err);
  CHECK(nothing.exit_code == 0);
  write_file(dir / "plan.yaml", "version: 1\nsteps: [{id: d, action: patch}]\n");
  CHECK(run_fleetrun({"plan", (dir / "plan.yaml").string(), "--detailed-exitcode"}, sandbox_env(sandbox)).exit_code ==
        1);
}

TEST_CASE("a job that fails marks its batch failed, stops later steps and exits 1", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox(
      {"--devices", "200", "--job-threshold", "0", "--job-duration-ms", "50", "--job-fail-rate", "1"});
  write_file(dir / "plan.yaml", R"(version: 1
queries: {q: {query: {deviceClass: {$ne: gateway}}}}
steps:
  - {id: first, action: patch, query: q, updateFields: {description: x}}
  - {id: second, action: delete, query: q}
)");
  const auto result = apply(dir, sandbox);
  CHECK(result.exit_code == 1);
  CHECK(result.out.find("Injected fault") != std::string::npos);
  CHECK(result.out.find("2. second delete: pending") != std::string::npos);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) CHECK_FALSE(device.contains("deletedAt"));
}

TEST_CASE("transient 5xx answers are retried to success", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "300", "--fault-5xx", "0.3", "--fault-seed", "4"});
  write_file(dir / "plan.yaml", R"(version: 1
queries: {q: {query: {deviceClass: {$ne: gateway}}}}
steps: [{id: tag, action: patch, query: q, batch_size: 20, updateFields: {description: retried}}]
)");
  const auto result = apply(dir, sandbox, {"--output", "json"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json status = json::parse(result.out);
  CHECK(status["summary"]["counters"]["retries"].get<int>() > 0);
  CHECK(status["summary"]["counters"]["serverErrors5xx"] == status["summary"]["counters"]["retries"]);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) {
    if (device["deviceClass"] != "gateway") CHECK(device["description"] == "retried");
  }
}

TEST_CASE("through a fault storm and a tighter rate limit the run ends right, with every retry and 429 counted",
          "[apply_command]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries:
  sensors: {query: {deviceClass: {$ne: gateway}}}
  north: {query: {tags: {site: north}}}
  stale: {query: {connectionStatus: disconnected}}
steps:
  - {id: tag, action: patch, query: sensors, batch_size: 50, updateFields: {description: storm}}
  - {id: ping, action: send_command, query: north, batch_size: 50, name: ping}
  - {id: retire, action: delete, query: stale, batch_size: 50}
)");
  const std::vector<std::string> fleet = {"--devices", "1500", "--seed", "5", "--job-threshold", "100000"};
  SandboxProcess reference(fleet);
  REQUIRE(run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", (dir / "a.db").string()},
                       sandbox_env(reference))
              .exit_code == 0);

  std::vector<std::string> storm = fleet;
  storm.insert(storm.end(), {"--fault-5xx", "0.2", "--fault-drop-before", "0.05", "--fault-drop-after", "0.05",
                             "--fault-seed", "11", "--rate", "25", "--burst", "5"});
  SandboxProcess sandbox(storm);
  const auto result = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", (dir / "b.db").string(),
                                    "--rate", "60", "--concurrency", "4", "--max-attempts", "20", "--output", "json"},
                                   sandbox_env(sandbox));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(comparable_fleet(sandbox) == comparable_fleet(reference)); // commands included: none twice
  const json counters = json::parse(result.out)["summary"]["counters"];
  const json stats = sandbox.admin_get("/_sandbox/stats");
  INFO(counters.dump() << "\n" << stats.dump());
  WARN("fault storm: run counters " << counters.dump() << "; sandbox totals " << stats["totals"].dump());
  CHECK(counters["throttled429"].get<int>() > 0);
  CHECK(counters["throttled429"] == stats["totals"]["rateLimited"]);
  CHECK(counters["serverErrors5xx"].get<int>() > 0);
  CHECK(counters["networkErrors"].get<int>() > 0);
  CHECK(counters["retries"].get<int>() > 0);
  // Every request the sandbox saw was counted by the run, query resolution included
  // (the sandbox's total also has the admin read of the fleet above; a stats read counts after answering).
  CHECK(counters["requests"].get<int>() == stats["totals"]["requests"].get<int>() - 1);
  CHECK(counters["serverErrors5xx"] == stats["totals"]["fault_5xx"]);
}

TEST_CASE("a job the API will not serve by its jobId is found by listing the job logs", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox(
      {"--devices", "120", "--job-threshold", "0", "--job-duration-ms", "100", "--no-joblog-by-jobid"});
  write_file(dir / "plan.yaml", "version: 1\nqueries: {q: {query: {deviceClass: {$ne: gateway}}}}\n"
                                "steps: [{id: t, action: patch, query: q, updateFields: {description: listed}}]\n");
  const auto result = apply(dir, sandbox);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json stats = sandbox.admin_get("/_sandbox/stats")["requests"];
  CHECK(stats["GET /applications/{applicationId}/jobLogs/{id} 404"].get<int>() >= 1);
  CHECK(stats["GET /applications/{applicationId}/jobLogs 200"].get<int>() >= 1);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) {
    if (device["deviceClass"] != "gateway") CHECK(device["description"] == "listed");
  }
}

TEST_CASE("a job in no job log at all: the devices are checked by the step kind's own means", "[apply_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "150", "--job-threshold", "0", "--job-duration-ms", "100", "--hide-job-logs"});
  write_file(dir / "plan.yaml", R"(version: 1
queries:
  stale: {query: {connectionStatus: disconnected}}
  north: {query: {tags: {site: north}}}
steps:
  - {id: retire, action: delete, query: stale}
  - {id: ping, action: send_command, query: north, name: ping}
)");
  const auto result = apply(dir, sandbox);
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("job_not_found") != std::string::npos);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) {
    if (device["connectionInfo"]["connected"] == 0) CHECK(device.contains("deletedAt"));
    // The delete was simply re-sent (harmless); the command was checked against each history: never twice.
    CHECK(device["commands"].size() <= 1);
  }
}

TEST_CASE("a command whose every connection drops before it is handled ends after its attempts", "[apply_command]")
{
  // Issue 10: each lost command was reconciled (every history read fine, no
  // device had it) and sent again, for ever; attempts now count every send.
  SandboxProcess sandbox(
      {"--devices", "300", "--seed", "4", "--fault-route", "POST /devices/command", "--fault-drop-before", "1"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {gateways: {query: {deviceClass: gateway}}}
steps: [{id: ping, action: send_command, query: gateways, batch_size: 10, name: ping}]
)");
  const auto started = std::chrono::steady_clock::now();
  const auto result = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--max-attempts", "3",
                                    "--max-failure-percent", "100", "--output", "json"},
                                   sandbox_env(sandbox));
  INFO(result.err);
  CHECK(result.exit_code == 1);
  CHECK_WALL_TIME(std::chrono::steady_clock::now() - started < std::chrono::seconds(60));
  const json facts = json::parse(result.out);
  const json& step = facts["steps"][0];
  CHECK(step["batches"] == json{{"failed", step["batchCount"]}});
  const json stats = sandbox.admin_get("/_sandbox/stats");
  // Three sends per batch, no more; no device got the command.
  CHECK(stats["totals"]["fault_drop_before"] == 3 * step["batchCount"].get<int>());
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) CHECK(device["commands"].empty());
}

TEST_CASE("jobs that end errored part-way count only their undone devices as failed", "[apply_command]")
{
  SandboxProcess sandbox({"--devices", "400", "--seed", "6", "--job-threshold", "10", "--job-error-rate", "1",
                          "--job-duration-ms", "200"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {name: {$ne: nobody}}}}
steps: [{id: t, action: patch, query: all, batch_size: 100, allow_whole_fleet: true, updateFields: {description: x}}]
)");
  // Half of each job is done: 50 % failed, under the 60 % budget. Counted as
  // whole batches (before), 100 % would have failed and stopped the run.
  const auto result = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--max-failure-percent", "60",
                                    "--concurrency", "1", "--output", "json"},
                                   sandbox_env(sandbox));
  INFO(result.err);
  CHECK(result.exit_code == 1);
  const json step = json::parse(result.out)["steps"][0];
  CHECK(step["batches"] == json{{"failed", 4}});
  const auto done = step["devicesByState"].value("done", 0);
  const auto failed = step["devicesByState"].value("failed", 0);
  CHECK(done + failed == 400);
  CHECK(done > 0);
  CHECK(failed < 400);
  CHECK(step["result"]["failedDevices"] == failed);
  std::int64_t described = 0;
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) described += device["description"] == "x" ? 1 : 0;
  CHECK(described == done);
}

// The independent check's case: a step of 1,437 devices aborted on its
// failure budget while other jobs were still running. Those jobs are followed
// to their end, and the run, `status`, the report and the job logs agree.
TEST_CASE("an abort follows running jobs to their end, and run, status, report and job logs agree", "[apply_command]")
{
  SandboxProcess sandbox({"--devices", "1437", "--seed", "8", "--job-threshold", "10", "--job-error-rate", "1",
                          "--job-duration-ms", "600"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {name: {$ne: nobody}}}}
steps: [{id: t, action: patch, query: all, batch_size: 500, allow_whole_fleet: true, updateFields: {description: x}}]
)");
  const auto state = (dir / "s.db").string();
  const auto result = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--max-failure-percent", "5",
                                    "--state", state, "--output", "json"},
                                   sandbox_env(sandbox));
  INFO(result.err);
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Catch::Contains("jobs already enqueued are followed to their end"));
  const json step = json::parse(result.out)["steps"][0];
  CHECK(step["batches"] == json{{"failed", 3}}); // every job errored half-way; none left enqueued

  std::int64_t jobs_updated = 0;
  for (const auto& job : sandbox.admin_get("/_sandbox/jobs")) {
    CHECK(job["status"] == "errored");
    jobs_updated += job["output"].value("updated", 0) + job["output"].value("skipped", 0);
  }
  std::int64_t described = 0;
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) described += device["description"] == "x" ? 1 : 0;
  const auto done = step["devicesByState"].value("done", 0);
  const auto failed = step["devicesByState"].value("failed", 0);
  CHECK(done == described);
  CHECK(done == jobs_updated);
  CHECK(done + failed == 1437);
  CHECK(step["result"]["failedDevices"] == failed);
  CHECK_THAT(result.err, Catch::Contains("of 1437 devices failed, above the limit of 5%"));

  const auto status = run_fleetrun({"status", "--state", state, "--output", "json"}, sandbox_env(sandbox));
  REQUIRE(status.exit_code == 0);
  const json status_step = json::parse(status.out)["steps"][0];
  CHECK(status_step["devicesByState"] == step["devicesByState"]);
  const auto csv = run_fleetrun({"report", "--state", state, "--format", "csv"}, sandbox_env(sandbox));
  REQUIRE(csv.exit_code == 0);
  // A job log counts its failures without naming the devices: each device of
  // a batch whose job errored half-way is "part_failed", none is left enqueued.
  std::int64_t part_failed_rows = 0;
  std::int64_t rows = -1; // the header
  std::istringstream lines(csv.out);
  for (std::string line; std::getline(lines, line);) {
    ++rows;
    if (line.find(",part_failed,") != std::string::npos) ++part_failed_rows;
    CHECK(line.find(",enqueued,") == std::string::npos);
  }
  CHECK(rows == 1437);
  CHECK(part_failed_rows == 1437);

  // Resume sends nothing new: the budget still holds, and nothing is counted twice.
  const auto resumed = run_fleetrun({"resume", "--state", state, "--output", "json"}, sandbox_env(sandbox));
  CHECK(resumed.exit_code == 1);
  CHECK(json::parse(resumed.out)["steps"][0]["devicesByState"] == step["devicesByState"]);
  CHECK(sandbox.admin_get("/_sandbox/jobs").size() == 3);
}

TEST_CASE("with default flags a run against an unknown rate limit learns it and completes", "[apply_command]")
{
  // Issue 11's new user: a sandbox with a rate limit, small batches, no flags.
  // Before, 543 429s used up the retry budget and 43 batches failed for good.
  // 20/s is a pace any machine keeps, sanitizers and a second test running
  // included: the run always meets the limit, and has seconds to measure it.
  SandboxProcess sandbox({"--devices", "12000", "--seed", "11", "--rate", "20", "--bare-429"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {sensors: {query: {deviceClass: {$ne: gateway}}}}
steps: [{id: tag, action: patch, query: sensors, batch_size: 100,
         updateOperations: [{operation: set, target: tag, value: {key: checked, value: "yes"}}]}]
)");
  const auto result =
      run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--output", "json"}, sandbox_env(sandbox));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json facts = json::parse(result.out);
  CHECK_FALSE(facts["steps"][0]["batches"].contains("failed"));
  const json counters = facts["summary"]["counters"];
  const auto requests = counters["requests"].get<double>();
  const auto throttled = counters["throttled429"].get<double>();
  INFO("unknown limit of 20/s: " << requests << " requests, " << throttled << " 429s, learned " << facts["learnedRate"]
                                 << "/s");
  CHECK(throttled > 0);                    // it met the limit
  CHECK(throttled <= 8 + 0.04 * requests); // finding it costs what was in flight then; little after
  // What it stores for the next run: measured between 429s, by the times
  // requests left (answers taken in clumps on a busy machine do not count),
  // a lower bound of the limit, never above it.
  CHECK(facts["learnedRate"].get<double>() >= 0.8 * 20);
  CHECK(facts["learnedRate"].get<double>() <= 20);
}

TEST_CASE("notify: the webhook hears how a run ended, and a webhook that fails changes nothing", "[apply_command]")
{
  SandboxProcess sandbox({"--devices", "100"});
  ScriptedServer hook([](const RawRequest&) -> Writer {
    return [](int fd) { return write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") && false; };
  });
  TempDir dir;
  const auto plan_with = [&](const std::string& notify) {
    write_file(dir / "plan.yaml", "version: 1\n" + notify +
                                      "queries: {q: {query: {deviceClass: gateway}}}\n"
                                      "steps: [{id: d, action: patch, query: q, updateFields: {description: told}}]\n");
  };
  plan_with("notify: {webhook_url_env: HOOK}\n");
  auto env = sandbox_env(sandbox);
  env.push_back("HOOK=" + hook.url() + "/services/T000/B000/secret-part");
  const auto told = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes"}, env);
  INFO(told.err);
  REQUIRE(told.exit_code == 0);
  const auto received = hook.received(); // a copy: received() returns by value
  REQUIRE(received.size() == 1);
  const auto& post = received[0];
  CHECK(post.method == "POST");
  CHECK(post.path == "/services/T000/B000/secret-part");
  const json message = json::parse(post.body);
  CHECK(message["outcome"] == "finished");
  CHECK_THAT(message["text"].get<std::string>(),
             Catch::StartsWith("fleetrun: run " + message["run"].get<std::string>() + " finished (completed)") &&
                 Catch::Contains("1. d (patch): ") && Catch::Contains(" done"));
  CHECK_THAT(post.body, !Catch::Contains("sandbox-token"));
  CHECK_THAT(told.err, !Catch::Contains("secret-part"));

  // Only failures asked for: a finished run sends nothing.
  plan_with("notify: {webhook_url_env: HOOK, on: [failed, paused]}\n");
  REQUIRE(run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes"}, env).exit_code == 0);
  CHECK(hook.received().size() == 1);

  // A webhook nobody answers: a warning naming the variable, not the URL; the exit code stays 0.
  plan_with("notify: {webhook_url_env: HOOK}\n");
  auto unreachable = sandbox_env(sandbox);
  unreachable.push_back("HOOK=http://127.0.0.1:1/services/secret-part");
  const auto failed_hook = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes"}, unreachable);
  CHECK(failed_hook.exit_code == 0);
  CHECK_THAT(failed_hook.err, Catch::Contains("notify: the webhook in $HOOK could not be reached"));
  CHECK_THAT(failed_hook.err, !Catch::Contains("secret-part"));
  // Unset: said so, nothing else changes.
  const auto unset = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes"}, sandbox_env(sandbox));
  CHECK(unset.exit_code == 0);
  CHECK_THAT(unset.err, Catch::Contains("notify: $HOOK is not set"));
}
