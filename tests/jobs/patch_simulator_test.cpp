// The patch simulator against a table of cases written from the API's
// documentation and the devicesPatch schema: every operation and target,
// multi-valued tag keys, attribute tags, operations on what a device lacks,
// the order of operations, and the per-device failures.
#include "jobs/patch_simulator.hpp"

#include <catch2/catch.hpp>

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

// The changed fields as "field: before -> after".
std::vector<std::string> changed(const json& patch, const json& device = k_device)
{
  const SimulatedPatch simulated = simulate_patch(device, patch);
  std::vector<std::string> out;
  for (const auto& change : document_changes(device, simulated.after)) {
    out.push_back(change.field + ": " + change.before.dump() + " -> " + change.after.dump());
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
  CHECK(changed(patch) == std::vector<std::string>{R"(parentId: "5f00000000000000000000aa" -> null)",
                                                   R"(tags.fw: null -> "2")", R"(tags.site: "north" -> "south")",
                                                   R"(tags.zone: ["z1","z2"] -> null)"});
}

TEST_CASE("set tag changes the first tag of that key, remove tag removes them all", "[patch_simulator]")
{
  CHECK(changed(ops({op("set", "tag", {{"value", {{"key", "zone"}, {"value", "z-main"}}}})})) ==
        std::vector<std::string>{R"(tags.zone: ["z1","z2"] -> ["z-main","z2"])"});
  CHECK(changed(ops({op("remove", "tag", {{"tagKey", "zone"}})})) ==
        std::vector<std::string>{R"(tags.zone: ["z1","z2"] -> null)"});
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

TEST_CASE("operations on an attribute the device lacks do nothing", "[patch_simulator]")
{
  for (const json& operation :
       {op("set", "attributeTag", {{"attributeName", "missing"}, {"value", {{"key", "k"}, {"value", "v"}}}}),
        op("remove", "attributeTag", {{"attributeName", "missing"}, {"tagKey", "k"}}),
        op("set", "attributeDescription", {{"attributeName", "missing"}, {"value", "d"}}),
        op("remove", "attributeDescription", {{"attributeName", "missing"}}),
        op("set", "attributeContentType", {{"attributeName", "missing"}, {"value", "x/y"}}),
        op("set", "attributeName", {{"attributeName", "missing"}, {"value", "found"}}),
        op("remove", "attribute", {{"attributeName", "missing"}})}) {
    INFO(operation.dump());
    CHECK(result_of(ops({operation})) == PatchResult::skipped);
  }
}

TEST_CASE("operations apply in order: a rename, then the renamed attribute's tag", "[patch_simulator]")
{
  const json patch = ops({op("set", "attributeName", {{"attributeName", "temperature"}, {"value", "temp_c"}}),
                          op("remove", "attributeTag", {{"attributeName", "temp_c"}, {"tagKey", "calibrated"}})});
  const auto changes = changed(patch);
  CHECK(changes == std::vector<std::string>{
                       R"(attributes.temp_c: null -> "number")", R"(attributes.temp_c.description: null -> "deg")",
                       R"(attributes.temp_c.tags.unit: null -> "C")", R"(attributes.temperature: "number" -> null)",
                       R"(attributes.temperature.description: "deg" -> null)",
                       R"(attributes.temperature.tags.calibrated: "yes" -> null)",
                       R"(attributes.temperature.tags.unit: "C" -> null)"});
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

TEST_CASE("a device without tags or attributes takes the operations that can apply", "[patch_simulator]")
{
  const json bare = {{"id", "5f0000000000000000000002"}, {"name", "bare"}};
  CHECK(changed(ops({op("set", "tag", {{"value", {{"key", "k"}, {"value", "v"}}}}),
                     op("set", "attributeDescription", {{"attributeName", "t"}, {"value", "x"}})}),
                bare) == std::vector<std::string>{R"(tags.k: null -> "v")"});
}

TEST_CASE("the view of a document leaves out bookkeeping and compares tags as a multiset", "[patch_simulator]")
{
  json reordered = k_device;
  std::reverse(reordered["tags"].begin(), reordered["tags"].end());
  reordered["lastUpdated"] = "2027-01-01T00:00:00.000Z";
  CHECK(same_state(k_device, reordered));
  json changed_value = k_device;
  changed_value["tags"][1]["value"] = "z3";
  CHECK_FALSE(same_state(k_device, changed_value));
}
