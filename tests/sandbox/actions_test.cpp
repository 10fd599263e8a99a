#include "sandbox/actions.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace fleetrun::sandbox;

namespace {

Device sample()
{
  Device d;
  d.id = "5f0000000000000000000001";
  d.name = "dev";
  d.tags = {{"site", "north"}};
  d.attributes = {{"temp", "number", "", "", {}, ""}};
  d.data = {{100, "temp"}, {200, "temp"}, {300, "humidity"}};
  return d;
}

json ops(json operations)
{
  return {{"updateOperations", std::move(operations)}};
}

} // namespace

TEST_CASE("patch set operations change fields and bump lastUpdated", "[actions]")
{
  Device d = sample();
  const auto outcome =
      apply_patch(d,
                  ops({{{"operation", "set"}, {"target", "tag"}, {"value", {{"key", "fw"}, {"value", "2"}}}},
                       {{"operation", "set"}, {"target", "description"}, {"value", "hello"}},
                       {{"operation", "set"},
                        {"target", "attributeTag"},
                        {"attributeName", "temp"},
                        {"value", {{"key", "unit"}, {"value", "C"}}}}}),
                  500);
  CHECK(outcome == PatchOutcome::updated);
  CHECK(d.find_tag("fw")->value == "2");
  CHECK(d.description == "hello");
  CHECK(d.attributes[0].attribute_tags == std::vector<Tag>{{"unit", "C"}});
  CHECK(d.last_updated_ms == 500);
  CHECK(d.data.size() == 3); // history survives a patch
}

TEST_CASE("patch that changes nothing is skipped", "[actions]")
{
  Device d = sample();
  CHECK(apply_patch(d,
                    ops({{{"operation", "set"}, {"target", "tag"}, {"value", {{"key", "site"}, {"value", "north"}}}}}),
                    500) == PatchOutcome::skipped);
  CHECK(d.last_updated_ms == 0);
}

TEST_CASE("patch failing on one operation leaves the device unchanged", "[actions]")
{
  Device d = sample();
  const auto outcome = apply_patch(
      d,
      ops({{{"operation", "set"}, {"target", "name"}, {"value", "renamed"}},
           {{"operation", "add"}, {"target", "attribute"}, {"value", {{"name", "temp"}, {"dataType", "number"}}}}}),
      500);
  CHECK(outcome == PatchOutcome::failed);
  CHECK(d.name == "dev");
}

TEST_CASE("rename and remove attributes", "[actions]")
{
  Device d = sample();
  CHECK(apply_patch(d,
                    ops({{{"operation", "set"},
                          {"target", "attributeName"},
                          {"attributeName", "temp"},
                          {"value", "temperature"}}}),
                    1) == PatchOutcome::updated);
  CHECK(d.attributes[0].name == "temperature");
  CHECK(apply_patch(
            d, ops({{{"operation", "set"}, {"target", "attributeName"}, {"attributeName", "temp"}, {"value", "x"}}}),
            2) == PatchOutcome::failed); // renaming again fails harmlessly, as RESUME.md expects
  CHECK(apply_patch(d, ops({{{"operation", "remove"}, {"target", "attribute"}, {"attributeName", "temperature"}}}),
                    3) == PatchOutcome::updated);
  CHECK(d.attributes.empty());
}

TEST_CASE("updateFields replace whole fields", "[actions]")
{
  Device d = sample();
  CHECK(apply_patch(d, {{"updateFields", {{"tags", {{{"key", "a"}, {"value", "b"}}}}, {"deviceClass", "gateway"}}}},
                    9) == PatchOutcome::updated);
  CHECK(d.tags == std::vector<Tag>{{"a", "b"}});
  CHECK(d.device_class == "gateway");
}

TEST_CASE("remove tag and parentId", "[actions]")
{
  Device d = sample();
  d.parent_id = "5f00000000000000000000aa";
  CHECK(apply_patch(d,
                    ops({{{"operation", "remove"}, {"target", "tag"}, {"tagKey", "site"}},
                         {{"operation", "remove"}, {"target", "parentId"}}}),
                    1) == PatchOutcome::updated);
  CHECK(d.tags.empty());
  CHECK_FALSE(d.parent_id.has_value());
}

TEST_CASE("delete and restore are idempotent in effect", "[actions]")
{
  Device d = sample();
  CHECK(apply_delete(d, 10));
  CHECK_FALSE(apply_delete(d, 20));
  CHECK(d.deleted_at_ms == 10);
  CHECK(apply_restore(d));
  CHECK_FALSE(apply_restore(d));
  CHECK_FALSE(d.deleted_at_ms.has_value());
}

TEST_CASE("remove data honours range and attributes", "[actions]")
{
  Device d = sample();
  CHECK(apply_remove_data(d, remove_data_spec({{"start", 150}, {"end", 400}, {"attributes", {"temp"}}}, 1000)));
  REQUIRE(d.data.size() == 2);
  CHECK(d.data[0].time_ms == 100);
  CHECK(d.data[1].attribute == "humidity");
  CHECK_FALSE(apply_remove_data(d, remove_data_spec({{"start", 150}, {"end", 400}, {"attributes", {"temp"}}}, 1000)));
  CHECK(apply_remove_data(d, remove_data_spec({{"query", json::object()}}, 1000)));
  CHECK(d.data.empty());
}

TEST_CASE("remove data times are relative to now when 0 or negative", "[actions]")
{
  const auto spec = remove_data_spec({{"start", -100}, {"end", 0}}, 1000);
  CHECK(spec.start_ms == 900);
  CHECK(spec.end_ms == 1000);
}

TEST_CASE("command time accepts number, ISO string and $date", "[actions]")
{
  CHECK(command_time_ms(json(1234)) == 1234);
  CHECK(command_time_ms(json("1970-01-01T00:00:01.000Z")) == 1000);
  CHECK(command_time_ms(json{{"$date", "1970-01-01T00:00:02Z"}}) == 2000);
  CHECK_FALSE(command_time_ms(json(true)).has_value());
}
