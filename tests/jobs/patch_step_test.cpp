#include "jobs/patch_step.hpp"

#include <catch2/catch.hpp>

using fleetrun::jobs::patch_changes;
using nlohmann::json;

namespace {

const json k_device = {{"name", "dev"},
                       {"description", ""},
                       {"tags", {{{"key", "fw"}, {"value", "1.2.0"}}, {{"key", "owner"}, {"value", "ops"}}}},
                       {"attributes", {{{"name", "temp"}, {"dataType", "number"}}}}};

} // namespace

TEST_CASE("tag changes are listed by key with before and after", "[patch_step]")
{
  const auto changes = patch_changes(
      k_device, {{"updateOperations",
                  {{{"operation", "set"}, {"target", "tag"}, {"value", {{"key", "fw"}, {"value", "2.0"}}}},
                   {{"operation", "remove"}, {"target", "tag"}, {"tagKey", "owner"}},
                   {{"operation", "set"}, {"target", "tag"}, {"value", {{"key", "new"}, {"value", "x"}}}}}}});
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].field == "tags.fw");
  CHECK(changes[0].before == "1.2.0");
  CHECK(changes[0].after == "2.0");
  CHECK(changes[1].field == "tags.owner");
  CHECK(changes[1].after.is_null());
  CHECK(changes[2].before.is_null());
}

TEST_CASE("a field set to its current value is not a change", "[patch_step]")
{
  CHECK(patch_changes(k_device, {{"updateOperations", {{{"operation", "set"}, {"target", "name"}, {"value", "dev"}}}}})
            .empty());
  CHECK(patch_changes(k_device, {{"updateFields", {{"name", "dev"}}}}).empty());
}

TEST_CASE("fields, attributes and attribute properties", "[patch_step]")
{
  const auto changes = patch_changes(
      k_device,
      {{"updateFields", {{"description", "hello"}}},
       {"updateOperations",
        {{{"operation", "add"}, {"target", "attribute"}, {"value", {{"name", "hum"}, {"dataType", "number"}}}},
         {{"operation", "set"}, {"target", "attributeDescription"}, {"attributeName", "temp"}, {"value", "deg C"}},
         {{"operation", "remove"}, {"target", "attribute"}, {"attributeName", "temp"}}}}});
  REQUIRE(changes.size() == 4);
  CHECK(changes[0].field == "description");
  CHECK(changes[0].after == "hello");
  CHECK(changes[1].field == "attributes.hum");
  CHECK(changes[1].after == "number");
  CHECK(changes[2].field == "attributes.temp.description");
  CHECK(changes[3].field == "attributes.temp");
  CHECK(changes[3].before == "number");
  CHECK(changes[3].after.is_null());
}

TEST_CASE("a document cut down to the fields a patch reads gives the same changes", "[patch_step]")
{
  const json device = {{"id", "000000000000000000000001"},
                       {"name", "dev"},
                       {"description", "old"},
                       {"deviceClass", "standalone"},
                       {"tags", {{{"key", "fw"}, {"value", "1.2.0"}}}},
                       {"attributes", {{{"name", "temp"}, {"dataType", "number"}, {"description", "t"}}}},
                       {"connectionInfo", {{"connected", 1}}}};
  const std::vector<json> patches = {
      {{"updateFields", {{"description", "new"}, {"deviceClass", "gateway"}}}},
      {{"updateOperations", {{{"operation", "set"}, {"target", "tag"}, {"value", {{"key", "fw"}, {"value", "2"}}}}}}},
      {{"updateOperations",
        {{{"operation", "set"}, {"target", "attributeDescription"}, {"attributeName", "temp"}, {"value", "x"}},
         {{"operation", "remove"}, {"target", "attribute"}, {"attributeName", "temp"}}}}},
      {{"updateOperations", {{{"operation", "set"}, {"target", "description"}, {"value", "op"}}}}},
  };
  for (const auto& params : patches) {
    INFO(params.dump());
    const auto read = fleetrun::jobs::patch_fields_read(params);
    json cut = json::object();
    for (const auto& [key, value] : device.items()) {
      if (read.contains(key)) cut[key] = value;
    }
    CHECK(cut.size() < device.size());
    const auto full = patch_changes(device, params);
    const auto from_cut = patch_changes(cut, params);
    REQUIRE(full.size() == from_cut.size());
    REQUIRE_FALSE(full.empty());
    for (std::size_t i = 0; i < full.size(); ++i) {
      CHECK(full[i].field == from_cut[i].field);
      CHECK(full[i].before == from_cut[i].before);
      CHECK(full[i].after == from_cut[i].after);
    }
  }
}
