// The patch simulator against a table of cases written from the API's
// documentation and the devicesPatch schema: every operation and target,
// multi-valued tag keys, attribute tags, operations on what a device lacks,
// the order of operations, and the per-device failures.
#include "jobs/patch_simulator.hpp"
#include "tests/support/change_list.hpp"

#include <catch2/catch.hpp>

#include <random>

using nlohmann::json;
using namespace fleetrun::jobs;

namespace {

const json k_device = json::parse(R"({
  "id": "5f0000000000000000000001",
  "name": "north-1",
  "description": "a sensor",
  "deviceClass": "standalone",
  "parentId": "5f00000000000000000000aa",
  "tags": [{"key": "zone", "value": "z1"}, {"key": "zone", "value": "z2"}, {"key": "site", "value": "north"}],
  "attributes": [
    {"name": "temperature", "dataType": "number", "description": "deg", "attributeTags": {"unit": "C", "calibrated": "yes"}},
    {"name": "humidity", "dataType": "number"}
  ],
  "lastUpdated": "2026-01-01T00:00:00.000Z"
})");

json op(std::string operation, std::string target, json extra = json::object())
{
  json out = extra;
  out["operation"] = std::move(operation);
  out["target"] = std::move(target);
  return out;
}

json ops(std::initializer_list<json> list)
{
  return {{"updateOperations", json(list)}};
}

// The change list as "field: before -> after" ("field: renamed to x", "tags: the whole list ...").
std::vector<std::string> changed(const json& patch, const json& device = k_device)
{
  const SimulatedPatch simulated = simulate_patch(device, patch);
  std::vector<std::string> out;
  for (const auto& change : document_changes(device, simulated.after, simulated.trace)) {
    if (change.op == ChangeOp::rename) {
      out.push_back(change.field + ": renamed to " + change.after.get<std::string>());
    } else {
      out.push_back(std::string(change.op == ChangeOp::replace ? "whole " : "") + change.field + ": " +
                    change.before.dump() + " -> " + change.after.dump());
    }
  }
  return out;
}

PatchResult result_of(const json& patch, const json& device = k_device)
{
  return simulate_patch(device, patch).result;
}

} // namespace

TEST_CASE("top-level fields: set and remove", "[patch_simulator]")
{
  CHECK(changed(ops({op("set", "name", {{"value", "north-one"}})})) ==
        std::vector<std::string>{R"(name: "north-1" -> "north-one")"});
  CHECK(changed(ops({op("set", "deviceClass", {{"value", "gateway"}})})) ==
        std::vector<std::string>{R"(deviceClass: "standalone" -> "gateway")"});
  CHECK(changed(ops({op("set", "systemInterval", {{"value", 30}})})) ==
        std::vector<std::string>{"systemInterval: null -> 30"});
  CHECK(changed(ops({op("set", "keepDuplicates", {{"value", true}})})) ==
        std::vector<std::string>{"keepDuplicates: null -> true"});
  CHECK(changed(ops({op("remove", "description")})) == std::vector<std::string>{R"(description: "a sensor" -> "")"});
  CHECK(changed(ops({op("remove", "parentId")})) ==
        std::vector<std::string>{R"(parentId: "5f00000000000000000000aa" -> null)"});
  CHECK(result_of(ops({op("set", "name", {{"value", "north-1"}})})) == PatchResult::skipped); // already so
}

TEST_CASE("updateFields replace whole fields, tags and attributes included, before the operations", "[patch_simulator]")
{
  const json patch = {{"updateFields", {{"tags", {{{"key", "site"}, {"value", "south"}}}}, {"parentId", nullptr}}},
                      {"updateOperations", {op("set", "tag", {{"value", {{"key", "fw"}, {"value", "2"}}}})}}};
  // The device held zone twice: no per-tag entries say that, the whole list does.
  CHECK(
      changed(patch) ==
      std::vector<std::string>{
          R"(parentId: "5f00000000000000000000aa" -> null)",
          R"(whole tags: [{"key":"zone","value":"z1"},{"key":"zone","value":"z2"},{"key":"site","value":"north"}] -> )"
          R"([{"key":"site","value":"south"},{"key":"fw","value":"2"}])"});
}

TEST_CASE("updateFields.tags keep the plan's order: entries remove, change in place, then append in order",
          "[patch_simulator]")
{
  const json device = {{"name", "d"}, {"tags", {{{"key", "old"}, {"value", "1"}}, {{"key", "site"}, {"value", "a"}}}}};
  const json patch = {{"updateFields",
                       {{"tags",
                         {{{"key", "site"}, {"value", "b"}},
                          {{"key", "owner"}, {"value", "ops"}},
                          {{"key", "env"}, {"value", "prod"}}}}}}};
  CHECK(changed(patch, device) == std::vector<std::string>{R"(tags.old: "1" -> null)", R"(tags.site: "a" -> "b")",
                                                           R"(tags.owner: null -> "ops")",
                                                           R"(tags.env: null -> "prod")"});
  // The same tags in another order than the device's: only the whole list says it.
  const json reordered = {
      {"updateFields", {{"tags", {{{"key", "site"}, {"value", "a"}}, {{"key", "old"}, {"value", "1"}}}}}}};
  CHECK(changed(reordered, device).size() == 1);
  CHECK(simulate_patch(device, reordered).result == PatchResult::updated);
}

TEST_CASE("set tag changes the first tag of that key, remove tag removes them all, and both are uncertain then",
          "[patch_simulator]")
{
  const json set_zone = ops({op("set", "tag", {{"value", {{"key", "zone"}, {"value", "z-main"}}}})});
  const SimulatedPatch set = simulate_patch(k_device, set_zone);
  CHECK(set.after["tags"] == json::parse(R"([{"key":"zone","value":"z-main"},{"key":"zone","value":"z2"},)"
                                         R"({"key":"site","value":"north"}])"));
  CHECK_THAT(set.uncertain, Catch::Contains("set tag zone on a device holding that key 2 times"));
  const SimulatedPatch removed = simulate_patch(k_device, ops({op("remove", "tag", {{"tagKey", "zone"}})}));
  CHECK(removed.after["tags"] == json::parse(R"([{"key":"site","value":"north"}])"));
  CHECK_THAT(removed.uncertain, Catch::Contains("remove tag zone"));
  // Even a set that leaves the first tag as it is: the other reading collapses the key.
  CHECK_FALSE(simulate_patch(k_device, ops({op("set", "tag", {{"value", {{"key", "zone"}, {"value", "z1"}}}})}))
                  .uncertain.empty());
  // A key held once is certain.
  const SimulatedPatch site =
      simulate_patch(k_device, ops({op("set", "tag", {{"value", {{"key", "site"}, {"value", "s"}}}})}));
  CHECK(site.uncertain.empty());
  CHECK(result_of(ops({op("remove", "tag", {{"tagKey", "nope"}})})) == PatchResult::skipped);
}

TEST_CASE("attribute operations on an attribute the device has", "[patch_simulator]")
{
  CHECK(changed(ops({op("set", "attributeTag",
                        {{"attributeName", "temperature"}, {"value", {{"key", "unit"}, {"value", "degC"}}}})})) ==
        std::vector<std::string>{R"(attributes.temperature.tags.unit: "C" -> "degC")"});
  CHECK(changed(ops({op("remove", "attributeTag", {{"attributeName", "temperature"}, {"tagKey", "calibrated"}})})) ==
        std::vector<std::string>{R"(attributes.temperature.tags.calibrated: "yes" -> null)"});
  CHECK(changed(ops({op("set", "attributeDescription", {{"attributeName", "humidity"}, {"value", "rel"}})})) ==
        std::vector<std::string>{R"(attributes.humidity.description: null -> "rel")"});
  CHECK(changed(ops({op("remove", "attributeDescription", {{"attributeName", "temperature"}})})) ==
        std::vector<std::string>{R"(attributes.temperature.description: "deg" -> null)"});
  CHECK(changed(ops({op("set", "attributeContentType", {{"attributeName", "humidity"}, {"value", "text/plain"}})})) ==
        std::vector<std::string>{R"(attributes.humidity.contentType: null -> "text/plain")"});
  CHECK(changed(ops({op("remove", "attribute", {{"attributeName", "humidity"}})})) ==
        std::vector<std::string>{R"(attributes.humidity: "number" -> null)"});
  CHECK(changed(ops({op("add", "attribute", {{"value", {{"name", "pressure"}, {"dataType", "number"}}}})})) ==
        std::vector<std::string>{R"(attributes.pressure: null -> "number")"});
}

TEST_CASE("on an attribute the device lacks, a remove does nothing and a set fails the device", "[patch_simulator]")
{
  for (const json& operation : {op("remove", "attributeTag", {{"attributeName", "missing"}, {"tagKey", "k"}}),
                                op("remove", "attributeDescription", {{"attributeName", "missing"}}),
                                op("remove", "attribute", {{"attributeName", "missing"}})}) {
    INFO(operation.dump());
    CHECK(result_of(ops({operation})) == PatchResult::skipped);
  }
  for (const json& operation :
       {op("set", "attributeTag", {{"attributeName", "missing"}, {"value", {{"key", "k"}, {"value", "v"}}}}),
        op("set", "attributeDescription", {{"attributeName", "missing"}, {"value", "d"}}),
        op("set", "attributeContentType", {{"attributeName", "missing"}, {"value", "x/y"}}),
        op("set", "attributeName", {{"attributeName", "missing"}, {"value", "found"}})}) {
    INFO(operation.dump());
    const SimulatedPatch simulated =
        simulate_patch(k_device, ops({op("set", "description", {{"value", "n"}}), operation}));
    CHECK(simulated.result == PatchResult::failed);
    CHECK(simulated.after == k_device); // all or nothing
  }
}

TEST_CASE("operations apply in order: a rename, then the renamed attribute's tag", "[patch_simulator]")
{
  const json patch = ops({op("set", "attributeName", {{"attributeName", "temperature"}, {"value", "temp_c"}}),
                          op("remove", "attributeTag", {{"attributeName", "temp_c"}, {"tagKey", "calibrated"}})});
  // A rename, in place, and the later change under the new name.
  CHECK(changed(patch) == std::vector<std::string>{"attributes.temperature: renamed to temp_c",
                                                   R"(attributes.temp_c.tags.calibrated: "yes" -> null)"});
  CHECK(simulate_patch(k_device, patch).after["attributes"][0]["name"] == "temp_c");
  // The same two in the other order: the tag is removed from an attribute not yet renamed: nothing.
  const json reversed = ops({op("remove", "attributeTag", {{"attributeName", "temp_c"}, {"tagKey", "calibrated"}}),
                             op("set", "attributeName", {{"attributeName", "temperature"}, {"value", "temp_c"}})});
  const auto after = simulate_patch(k_device, reversed).after;
  CHECK(after["attributes"][0]["attributeTags"].contains("calibrated"));
}

TEST_CASE("adding an attribute a device has, or renaming onto one, fails the device and changes nothing",
          "[patch_simulator]")
{
  const json add = ops({op("set", "description", {{"value", "changed"}}),
                        op("add", "attribute", {{"value", {{"name", "humidity"}, {"dataType", "string"}}}})});
  const SimulatedPatch added = simulate_patch(k_device, add);
  CHECK(added.result == PatchResult::failed);
  CHECK_THAT(added.failure, Catch::Contains("humidity exists already"));
  CHECK(added.after == k_device);
  const json rename = ops({op("set", "attributeName", {{"attributeName", "temperature"}, {"value", "humidity"}})});
  CHECK(result_of(rename) == PatchResult::failed);
  const json system =
      ops({op("add", "attributeSystem", {{"value", {{"name", "temperature"}, {"dataType", "number"}}}})});
  CHECK(result_of(system) == PatchResult::failed);
}

TEST_CASE("a device without tags or attributes takes tags, and removes from attributes do nothing", "[patch_simulator]")
{
  const json bare = {{"id", "5f0000000000000000000002"}, {"name", "bare"}};
  CHECK(changed(ops({op("set", "tag", {{"value", {{"key", "k"}, {"value", "v"}}}}),
                     op("remove", "attributeDescription", {{"attributeName", "t"}})}),
                bare) == std::vector<std::string>{R"(tags.k: null -> "v")"});
}

TEST_CASE("the state of a document leaves out bookkeeping and keeps the order of tags", "[patch_simulator]")
{
  json touched = k_device;
  touched["lastUpdated"] = "2027-01-01T00:00:00.000Z";
  CHECK(same_state(k_device, touched));
  json reordered = k_device;
  std::reverse(reordered["tags"].begin(), reordered["tags"].end());
  CHECK_FALSE(same_state(k_device, reordered)); // the API keeps the order: a reorder is a change
  json changed_value = k_device;
  changed_value["tags"][1]["value"] = "z3";
  CHECK_FALSE(same_state(k_device, changed_value));
}

TEST_CASE("each device's change list, applied in order, gives the simulated device, order of lists included",
          "[patch_simulator]")
{
  std::mt19937 random(7);
  const auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  const std::vector<std::string> keys = {"site", "zone", "fw", "owner", "env"};
  const std::vector<std::string> names = {"temp", "hum", "volt", "rssi"};
  int checked = 0;
  int renames = 0;
  for (int round = 0; round < 3000; ++round) {
    json device = {{"id", "5f0000000000000000000001"}, {"name", "d"}, {"description", "x"}};
    json tags = json::array();
    for (int i = pick(4); i > 0; --i) tags.push_back({{"key", keys[pick(5)]}, {"value", std::to_string(pick(3))}});
    if (pick(2)) device["tags"] = tags;
    json attributes = json::array();
    for (const auto& name : names) {
      if (!pick(2)) continue;
      json attribute = {{"name", name}, {"dataType", "number"}};
      if (pick(2)) attribute["description"] = "d" + std::to_string(pick(2));
      if (pick(2)) attribute["attributeTags"] = {{"unit", "u" + std::to_string(pick(2))}};
      attributes.push_back(attribute);
    }
    device["attributes"] = attributes;
    json operations = json::array();
    for (int i = 1 + pick(4); i > 0; --i) {
      switch (pick(9)) {
      case 0: operations.push_back(op("set", "tag", {{"value", {{"key", keys[pick(5)]}, {"value", "v"}}}})); break;
      case 1: operations.push_back(op("remove", "tag", {{"tagKey", keys[pick(5)]}})); break;
      case 2:
        operations.push_back(
            op("set", "attributeName", {{"attributeName", names[pick(4)]}, {"value", names[pick(4)] + "2"}}));
        break;
      case 3:
        operations.push_back(
            op("add", "attribute", {{"value", {{"name", names[pick(4)] + "2"}, {"dataType", "string"}}}}));
        break;
      case 4: operations.push_back(op("remove", "attribute", {{"attributeName", names[pick(4)]}})); break;
      case 5:
        operations.push_back(op("set", "attributeTag",
                                {{"attributeName", names[pick(4)]}, {"value", {{"key", "unit"}, {"value", "k"}}}}));
        break;
      case 6: operations.push_back(op("remove", "attributeDescription", {{"attributeName", names[pick(4)]}})); break;
      case 7: operations.push_back(op("set", "description", {{"value", "y"}})); break;
      default:
        operations.push_back(
            op("set", "attributeDescription", {{"attributeName", names[pick(4)] + "2"}, {"value", "n"}}));
        break;
      }
    }
    json patch = {{"updateOperations", operations}};
    if (!pick(4))
      patch["updateFields"] = {
          {"tags", {{{"key", keys[pick(5)]}, {"value", "f"}}, {{"key", "owner"}, {"value", "o"}}}}};
    const SimulatedPatch simulated = simulate_patch(device, patch);
    if (simulated.result == PatchResult::failed) continue;
    const auto changes = document_changes(device, simulated.after, simulated.trace);
    for (const auto& change : changes) renames += change.op == ChangeOp::rename ? 1 : 0;
    INFO(device.dump() << "\n" << patch.dump());
    json entries = json::array();
    for (const auto& change : changes)
      entries.push_back(
          {{"field", change.field}, {"op", to_string(change.op)}, {"before", change.before}, {"after", change.after}});
    json applied = fleetrun::testing::apply_change_list(device, entries);
    json expected = simulated.after;
    for (json* d : {&applied, &expected}) {
      if (d->contains("tags") && (*d)["tags"].empty()) d->erase("tags");
      if (d->contains("attributes") && (*d)["attributes"].empty()) d->erase("attributes");
    }
    REQUIRE(applied == expected);
    ++checked;
  }
  CHECK(checked > 1500);
  CHECK(renames > 200);
}
