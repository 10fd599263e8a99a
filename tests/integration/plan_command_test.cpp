// `fleetrun plan`: the dry-run, against the real sandbox.
#include "tests/support/sandbox_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

using nlohmann::json;
using namespace fleetrun::testing;

namespace {

const char* k_changing_plan = R"(version: 1
queries:
  north_gateways:
    query: {deviceClass: gateway, tags: {site: north}}
  stale:
    query: {connectionStatus: disconnected}
steps:
  - id: tag
    action: patch
    query: north_gateways
    updateOperations:
      - {operation: set, target: tag, value: {key: fw, value: "9.9.9"}}
      - {operation: set, target: description, value: checked}
  - id: ping
    action: send_command
    query: north_gateways
    name: ping
  - id: purge
    action: remove_data
    query: stale
  - id: retire
    action: delete
    query: stale
)";

std::set<std::string> ids_where(const json& devices, const std::function<bool(const json&)>& predicate)
{
  std::set<std::string> ids;
  for (const auto& device : devices) {
    if (predicate(device)) ids.insert(device["id"].get<std::string>());
  }
  return ids;
}

bool has_tag(const json& device, const std::string& key, const std::string& value)
{
  for (const auto& tag : device["tags"]) {
    if (tag["key"] == key && tag["value"] == value) return true;
  }
  return false;
}

} // namespace

TEST_CASE("a dry-run sends only GET requests and changes nothing", "[plan_command]")
{
  TempDir dir;
  const auto log = (dir / "requests.jsonl").string();
  SandboxProcess sandbox({"--devices", "400", "--request-log", log});
  write_file(dir / "plan.yaml", k_changing_plan);
  const json before = comparable_fleet(sandbox);
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("Nothing was changed") != std::string::npos);
  CHECK(comparable_fleet(sandbox) == before);
  std::ifstream in(log);
  int requests = 0;
  for (std::string line; std::getline(in, line);) {
    const json entry = json::parse(line);
    if (entry["path"].get<std::string>().starts_with("/_sandbox")) continue;
    CHECK(entry["method"] == "GET");
    ++requests;
  }
  CHECK(requests >= 2);
}

TEST_CASE("the JSON preview lists every device each step would touch, and patch values before and after",
          "[plan_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "600"});
  write_file(dir / "plan.yaml", k_changing_plan);
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string(), "--output", "json"}, sandbox_env(sandbox));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json preview = json::parse(result.out);
  const json devices = sandbox.admin_get("/_sandbox/devices");
  const auto north_gateways =
      ids_where(devices, [](const json& d) { return d["deviceClass"] == "gateway" && has_tag(d, "site", "north"); });
  const auto stale = ids_where(devices, [](const json& d) { return d["connectionInfo"]["connected"] == 0; });
  REQUIRE(preview["steps"].size() == 4);
  const json& tag = preview["steps"][0];
  CHECK(tag["devices"] == north_gateways.size());
  CHECK(tag["deviceIds"].get<std::set<std::string>>() == north_gateways);
  CHECK(tag["deviceChanges"].size() == north_gateways.size());
  for (const auto& device : tag["deviceChanges"]) {
    bool description_changes = false;
    for (const auto& change : device["changes"]) {
      if (change["field"] == "description") {
        description_changes = true;
        CHECK(change["after"] == "checked");
      }
    }
    CHECK(description_changes);
  }
  // The field counts (tallied while the pages arrived) agree with the
  // per-device changes (read back from the state file).
  std::map<std::string, std::map<std::string, std::int64_t>> from_devices; // field -> before/after -> devices
  for (const auto& device : tag["deviceChanges"]) {
    for (const auto& change : device["changes"])
      ++from_devices[change["field"]][json{change["before"], change["after"]}.dump()];
  }
  std::map<std::string, std::map<std::string, std::int64_t>> from_counts;
  for (const auto& change : tag["fieldChanges"])
    from_counts[change["field"]][json{change["before"], change["after"]}.dump()] = change["devices"];
  CHECK(from_counts == from_devices);
  CHECK(from_counts.size() == 2); // tags.fw and description
  CHECK(preview["steps"][1]["command"]["recipients"] == north_gateways.size());
  CHECK(preview["steps"][2]["deviceIds"].get<std::set<std::string>>() == stale);
  CHECK(preview["steps"][3]["requests"] == 1);
  CHECK(preview["guards"]["ok"] == true);
  CHECK_FALSE(preview["run"].get<std::string>().empty());
}

TEST_CASE("a guard violation refuses the preview and is recorded", "[plan_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "200"});
  write_file(dir / "plan.yaml", R"(version: 1
queries:
  many: {query: {deviceClass: {$ne: gateway}}, expect: {max: 10}}
steps: [{id: d, action: delete, query: many}]
)");
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  CHECK(result.exit_code == 3);
  CHECK(result.out.find("more than expect.max 10") != std::string::npos);
  const auto runs = run_fleetrun({"runs", "--state", (dir / "plan.fleetrun.db").string(), "--output", "json"});
  REQUIRE(runs.exit_code == 0);
  CHECK(json::parse(runs.out)[0]["status"] == "refused");
}

TEST_CASE("a query that matches the whole fleet is refused for a changing step", "[plan_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "50"});
  // Not empty, but it matches every device all the same.
  write_file(dir / "plan.yaml", R"(version: 1
queries:
  everything: {query: {name: {$ne: "no such device"}}}
steps: [{id: wipe, action: remove_data, query: everything}]
)");
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  CHECK(result.exit_code == 3);
  CHECK(result.out.find("every device of the application (50)") != std::string::npos);
}

TEST_CASE("an invalid plan is refused before any request", "[plan_command]")
{
  TempDir dir;
  SandboxProcess sandbox({"--devices", "5"});
  write_file(dir / "plan.yaml", "version: 1\nsteps:\n  - {id: a, action: delet, query: q}\n");
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  CHECK(result.exit_code == 2);
  CHECK(
      result.err.find("plan.yaml:3:21: error: steps[0].action: unknown action \"delet\" (did you mean \"delete\"?)") !=
      std::string::npos);
  CHECK(sandbox.admin_get("/_sandbox/stats")["requests"].empty());
  CHECK_FALSE(std::filesystem::exists(dir / "plan.fleetrun.db"));
}

TEST_CASE("resolving queries keeps to the plan's rate limit", "[plan_command]")
{
  // Regression: resolution GETs once bypassed the client's rate limit and ran into 429s.
  TempDir dir;
  SandboxProcess sandbox({"--devices", "3500", "--rate", "5", "--burst", "1"});
  write_file(dir / "plan.yaml", R"(version: 1
options: {rate: 4, burst: 1}
queries:
  sensors: {query: {deviceClass: {$ne: gateway}}}
  north: {query: {tags: {site: north}}}
steps:
  - {id: tag, action: patch, query: sensors, updateFields: {description: x}}
  - {id: ping, action: send_command, query: north, name: ping}
)");
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json stats = sandbox.admin_get("/_sandbox/stats");
  CHECK(stats["requests"]["GET /applications/{applicationId}/devices 200"].get<int>() >= 5);
  CHECK_FALSE(stats["totals"].contains("rateLimited"));
}

TEST_CASE("devices holding a tag key twice are marked uncertain, and on_uncertain: abort refuses plan and apply",
          "[plan_command]")
{
  TempDir dir;
  const json fleet = json::array({
      {{"id", "5f0000000000000000000001"},
       {"name", "twice"},
       {"tags", {{{"key", "zone"}, {"value", "z1"}}, {{"key", "zone"}, {"value", "z2"}}}}},
      {{"id", "5f0000000000000000000002"}, {"name", "once"}, {"tags", {{{"key", "zone"}, {"value", "z1"}}}}},
      {{"id", "5f0000000000000000000003"}, {"name", "none"}},
  });
  write_file(dir / "fleet.json", fleet.dump());
  SandboxProcess sandbox({"--load", (dir / "fleet.json").string()});
  const std::string steps = R"(queries: {all: {query: {name: {$ne: nobody}}}}
steps:
  - {id: zone, action: patch, query: all, allow_whole_fleet: true,
     updateOperations: [{operation: set, target: tag, value: {key: zone, value: z9}}]}
)";
  write_file(dir / "plan.yaml", "version: 1\n" + steps);
  const auto text = run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  INFO(text.err);
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("1 devices uncertain"));
  CHECK_THAT(text.out, Catch::Contains("twice: set tag zone on a device holding that key 2 times"));
  const auto json_preview =
      run_fleetrun({"plan", (dir / "plan.yaml").string(), "--output", "json"}, sandbox_env(sandbox));
  const json step = json::parse(json_preview.out)["steps"][0];
  CHECK(step["patch"]["uncertain"] == 1);
  for (const auto& device : step["deviceChanges"]) CHECK(device.contains("uncertain") == (device["name"] == "twice"));

  write_file(dir / "plan.yaml", "version: 1\noptions: {on_uncertain: abort}\n" + steps);
  const auto refused = run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  CHECK(refused.exit_code == 3);
  CHECK_THAT(refused.out, Catch::Contains("on_uncertain: abort refuses the run"));
  const auto applied = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes"}, sandbox_env(sandbox));
  CHECK(applied.exit_code == 3);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices"))
    for (const auto& tag : device["tags"]) CHECK(tag["value"] != "z9");
}
