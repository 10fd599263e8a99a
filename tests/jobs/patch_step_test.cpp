#include "jobs/patch_simulator.hpp"
#include "jobs/patch_step.hpp"

#include <catch2/catch.hpp>

using nlohmann::json;
using namespace fleetrun::jobs;

TEST_CASE("a document cut down to the fields a patch reads simulates to the same changes", "[patch_step]")
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
    const auto read = patch_fields_read(params);
    json cut = json::object();
    for (const auto& [key, value] : device.items()) {
      if (read.contains(key)) cut[key] = value;
    }
    CHECK(cut.size() < device.size());
    const auto full = document_changes(device, simulate_patch(device, params).after);
    const auto from_cut = document_changes(cut, simulate_patch(cut, params).after);
    REQUIRE(full.size() == from_cut.size());
    REQUIRE_FALSE(full.empty());
    for (std::size_t i = 0; i < full.size(); ++i) {
      CHECK(full[i].field == from_cut[i].field);
      CHECK(full[i].before == from_cut[i].before);
      CHECK(full[i].after == from_cut[i].after);
    }
  }
}
