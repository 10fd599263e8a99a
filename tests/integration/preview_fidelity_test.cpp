// The preview is a simulation of the whole plan: for a corpus of multi-step
// plans over fleets with repeated tag keys, attribute tags and missing
// attributes, the end state the preview predicts for every device equals the
// sandbox's after apply, field by field. Two readings of Losant's patch
// documentation meet here: fleetrun's simulator (jobs/patch_simulator.cpp)
// and the sandbox's own (sandbox/actions.cpp).
#include "jobs/patch_simulator.hpp"
#include "tests/support/change_list.hpp"
#include "tests/support/sandbox_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <random>

using nlohmann::json;
using namespace fleetrun::testing;

namespace {

std::string id_of(int n)
{
  char id[25];
  std::snprintf(id, sizeof id, "5f%022x", n);
  return id;
}

// A fleet with what trips up a per-field preview: tag keys that repeat,
// attributes with tags, devices without the attributes a plan names.
json varied_fleet(int devices, unsigned seed)
{
  std::mt19937 rng(seed);
  const auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  json items = json::array();
  for (int n = 0; n < devices; ++n) {
    json tags = json::array({{{"key", "site"}, {"value", chance(50) ? "north" : "south"}}});
    if (chance(40)) tags.push_back({{"key", "zone"}, {"value", "z1"}});
    if (chance(30)) tags.push_back({{"key", "zone"}, {"value", "z2"}});
    if (chance(20)) tags.push_back({{"key", "fw"}, {"value", chance(50) ? "1.0" : "2.0"}});
    json attributes = json::array();
    if (chance(70)) {
      json temperature = {{"name", "temperature"}, {"dataType", "number"}};
      if (chance(60)) temperature["attributeTags"] = {{"unit", chance(50) ? "C" : "F"}};
      if (chance(40)) temperature["attributeTags"]["calibrated"] = "yes";
      if (chance(30)) temperature["description"] = "ambient";
      attributes.push_back(temperature);
    }
    if (chance(50)) attributes.push_back({{"name", "humidity"}, {"dataType", "number"}});
    if (chance(15)) attributes.push_back({{"name", "temp_c"}, {"dataType", "number"}}); // a rename target, taken
    json device = {{"id", id_of(n + 1)},
                   {"name", "dev-" + std::to_string(n)},
                   {"deviceClass", chance(20) ? "gateway" : "standalone"},
                   {"tags", tags},
                   {"attributes", attributes}};
    if (chance(50)) device["description"] = "device " + std::to_string(n);
    items.push_back(device);
  }
  return items;
}

// Every device as the API shows it, by id.
std::map<std::string, json> api_fleet(const SandboxProcess& sandbox)
{
  std::map<std::string, json> out;
  for (int page = 0;; ++page) {
    const auto [status, body] = http_request(sandbox.port(), "GET",
                                             std::string("/applications/") + k_sandbox_application +
                                                 "/devices?sortField=id&perPage=1000&page=" + std::to_string(page));
    REQUIRE(status == 200);
    const json parsed = json::parse(body);
    for (const auto& device : parsed["items"]) out[device["id"].get<std::string>()] = device;
    if (parsed["items"].size() < 1000) break;
  }
  return out;
}

// A device's document without what a clock changes, empty lists as none:
// tags and attributes compare in order.
json comparable(json device)
{
  device.erase("lastUpdated");
  for (const char* list : {"tags", "attributes"}) {
    if (device.contains(list) && device[list].empty()) device.erase(list);
  }
  if (device.contains("attributes")) {
    for (auto& attribute : device["attributes"]) {
      if (attribute.contains("attributeTags") && attribute["attributeTags"].empty()) attribute.erase("attributeTags");
    }
  }
  return device;
}

struct Case {
  const char* name;
  const char* plan;
};

const std::vector<Case> k_cases = {
    {"tags replaced whole keep the plan's order; a rename keeps its place and later steps use its new name",
     R"(version: 1
queries: {all: {query: {name: {$startsWith: dev}}}}
steps:
  - {id: tags, action: patch, query: all, allow_whole_fleet: true,
     updateFields: {tags: [{key: site, value: s1}, {key: owner, value: ops}, {key: env, value: prod}]}}
  - {id: rename, action: patch, query: all, allow_whole_fleet: true,
     updateOperations: [{operation: set, target: attributeName, attributeName: temperature, value: temp_k}]}
  - {id: later, action: patch, query: all, allow_whole_fleet: true,
     updateOperations: [{operation: set, target: attributeDescription, attributeName: temp_k, value: kelvin},
                        {operation: set, target: tag, value: {key: owner, value: field}}]}
)"},
    {"rename, then a tag of the renamed attribute, then a set of its tag in a later step", R"(version: 1
queries: {all: {query: {name: {$startsWith: dev}}}}
steps:
  - {id: rename, action: patch, query: all, allow_whole_fleet: true,
     updateOperations: [
       {operation: set, target: attributeName, attributeName: temperature, value: temp_c},
       {operation: remove, target: attributeTag, attributeName: temp_c, tagKey: calibrated}]}
  - {id: unit, action: patch, query: all, allow_whole_fleet: true,
     updateOperations: [{operation: set, target: attributeTag, attributeName: temp_c, value: {key: unit, value: degC}}]}
)"},
    {"tags with repeated keys, set and removed", R"(version: 1
queries:
  north: {query: {tags: {site: north}}}
  all: {query: {name: {$startsWith: dev}}}
steps:
  - {id: zone, action: patch, query: north, updateOperations: [{operation: set, target: tag, value: {key: zone, value: z-main}}]}
  - {id: drop, action: patch, query: all, allow_whole_fleet: true,
     updateOperations: [{operation: remove, target: tag, tagKey: fw}, {operation: set, target: tag, value: {key: checked, value: "yes"}}]}
)"},
    {"fields replaced, operations after them, attributes added where missing", R"(version: 1
queries:
  gateways: {query: {deviceClass: gateway}}
  all: {query: {name: {$startsWith: dev}}}
steps:
  - {id: fields, action: patch, query: gateways,
     updateFields: {description: edge box, tags: [{key: role, value: edge}, {key: zone, value: z9}]},
     updateOperations: [{operation: set, target: tag, value: {key: role, value: gateway}}, {operation: remove, target: description}]}
  - {id: add, action: patch, query: all, allow_whole_fleet: true,
     updateOperations: [{operation: add, target: attribute, value: {name: humidity, dataType: number}},
                        {operation: set, target: attributeDescription, attributeName: humidity, value: relative}]}
)"},
    {"a delete before a patch: the deleted devices are left out", R"(version: 1
queries:
  south: {query: {tags: {site: south}}}
  all: {query: {name: {$startsWith: dev}}}
steps:
  - {id: retire, action: delete, query: south}
  - {id: mark, action: patch, query: all, allow_whole_fleet: true,
     updateOperations: [{operation: set, target: description, value: survivor}, {operation: remove, target: attribute, attributeName: humidity}]}
)"},
};

// Runs one case: preview (JSON), apply, and compare for every device the end
// state predicted with the end state found.
void check_case(const Case& example, bool from_preview, unsigned seed)
{
  INFO(example.name << (from_preview ? " (apply --from-preview)" : " (apply)") << " seed " << seed);
  TempDir dir;
  write_file(dir / "fleet.json", varied_fleet(600, seed).dump());
  SandboxProcess sandbox({"--load", (dir / "fleet.json").string(), "--job-threshold", "100000"});
  write_file(dir / "plan.yaml", example.plan);
  const auto before = api_fleet(sandbox);
  const auto preview = run_fleetrun({"plan", (dir / "plan.yaml").string(), "--output", "json"}, sandbox_env(sandbox));
  INFO(preview.err);
  REQUIRE(preview.exit_code == 0);
  const json predicted_json = json::parse(preview.out);

  // The predicted end state: the fleet before, each patch step's change list
  // applied in order on top (tests/support/change_list.cpp), deletes away.
  std::map<std::string, json> predicted = before;
  std::set<std::string> deleted;
  for (const auto& step : predicted_json["steps"]) {
    if (step["action"] == "delete") {
      for (const auto& id : step["deviceIds"]) deleted.insert(id.get<std::string>());
    }
    for (const auto& device : step.value("deviceChanges", json::array())) {
      json& document = predicted[device["id"].get<std::string>()];
      document = apply_change_list(document, device["changes"]);
    }
  }
  std::vector<std::string> args = {"apply",       (dir / "plan.yaml").string(), "--yes", "--max-failure-percent", "100",
                                   "--keep-going"}; // the preview shows every step; failures predicted by it stop none
  if (from_preview) {
    args.push_back("--from-preview");
    args.push_back(predicted_json["run"].get<std::string>());
  }
  args.push_back("--output");
  args.push_back("json");
  const auto applied = run_fleetrun(args, sandbox_env(sandbox));
  INFO(applied.err);
  REQUIRE((applied.exit_code == 0 || applied.exit_code == 1)); // 1: devices the API refused, as predicted
  // Each patch step's counts as the preview said: updated, skipped, failed.
  const json outcome = json::parse(applied.out);
  for (std::size_t i = 0; i < predicted_json["steps"].size(); ++i) {
    const json& step = predicted_json["steps"][i];
    if (!step.contains("patch")) continue;
    const json& totals = outcome["steps"][i]["result"]["totals"];
    INFO("step " << step["id"]);
    for (const char* count : {"updated", "skipped", "failed"}) CHECK(totals.value(count, 0) == step["patch"][count]);
  }
  const auto after = api_fleet(sandbox);
  int devices = 0;
  int changed = 0;
  for (const auto& [id, expected] : predicted) {
    if (deleted.contains(id)) {
      CHECK_FALSE(after.contains(id));
      continue;
    }
    REQUIRE(after.contains(id));
    INFO("device " << id);
    CHECK(comparable(after.at(id)) == comparable(expected));
    ++devices;
    changed += comparable(before.at(id)) == comparable(expected) ? 0 : 1;
  }
  CHECK(devices > 100);
  CHECK(changed > 0);
  WARN(example.name << ": " << devices << " devices (" << changed << " changed), predicted = found, in order");
}

} // namespace

TEST_CASE("the preview's predicted end state equals the state after apply, for every device and field",
          "[preview_fidelity]")
{
  for (const auto& example : k_cases) {
    for (const bool from_preview : {true, false}) check_case(example, from_preview, 11);
  }
}
