#include "api/device_page.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using fleetrun::api::index_device_page;
using nlohmann::json;

TEST_CASE("a page's items are found with their ids and exact text", "[device_page]")
{
  json page = {{"applicationId", "a"}, {"count", 3}, {"totalCount", 1234}, {"perPage", 3}};
  page["items"] = json::array();
  page["items"].push_back({{"id", "000000000000000000000001"},
                           {"name", "quote \" brace } bracket ] comma , colon :"},
                           {"tags", {{{"key", "id"}, {"value", "not the id"}}}},
                           {"attributes", json::array()},
                           {"parentId", nullptr},
                           {"connected", true},
                           {"number", -1.5e3}});
  page["items"].push_back({{"nested", {{"id", "deeper"}}}, {"id", "000000000000000000000002"}});
  page["items"].push_back({{"id", "00000000000000000000000\u0033"}, {"unicode", "caf\u00e9 \\ \n"}});
  for (const int indent : {-1, 2}) {
    const std::string body = page.dump(indent);
    const auto index = index_device_page(body);
    REQUIRE(index.has_value());
    REQUIRE(index->total_count == 1234);
    REQUIRE(index->items.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(index->items[i].id == page["items"][i]["id"]);
      CHECK(json::parse(index->items[i].document) == page["items"][i]);
    }
  }
}

TEST_CASE("escaped ids and member names are decoded", "[device_page]")
{
  const auto index = index_device_page(R"({"it\u0065ms":[{"\u0069d":"abc\u0064"}]})");
  REQUIRE(index.has_value());
  REQUIRE(index->items.size() == 1);
  CHECK(index->items[0].id == "abcd");
  CHECK_FALSE(index->total_count.has_value());
}

TEST_CASE("an empty page has no items", "[device_page]")
{
  const auto index = index_device_page(R"({"items":[],"totalCount":0})");
  REQUIRE(index.has_value());
  CHECK(index->items.empty());
  CHECK(index->total_count == 0);
}

TEST_CASE("malformed pages are refused with the offset", "[device_page]")
{
  for (const char* body : {
           R"({"items":[{"id":"1","name":"open]})", // unterminated string
           R"({"items":[{"id":"1"} {"id":"2"}]})",  // missing comma
           R"({"items":[{"id":"1"}]} trailing)",    // text after the object
           R"({"items":[{"name":"no id"}]})",       // an item without id
           R"({"items":["not an object"]})",        // not a device
           R"({"items":[{"id":"1","x":tru}]})",     // a broken literal
           R"({"items":[{"id":"1"}],"totalCount":"many"})",
           R"([])",
           R"({"items":[{"id":"1"})",
       }) {
    INFO(body);
    const auto index = index_device_page(body);
    REQUIRE_FALSE(index.has_value());
    CHECK(index.error().find("at byte") != std::string::npos);
  }
}

TEST_CASE("members of a document are read by name, the rest skipped", "[device_page]")
{
  const json device = {{"id", "000000000000000000000001"},
                       {"name", "n"},
                       {"tags", {{{"key", "fw"}, {"value", "1"}}}},
                       {"connectionInfo", {{"connected", 1}, {"time", "2026-01-01T00:00:00.000Z"}}},
                       {"description", "say \"hi\""}};
  const auto read = fleetrun::api::read_members(device.dump(2), {"name", "tags", "description", "absent"});
  REQUIRE(read.has_value());
  CHECK(*read == json({{"name", "n"}, {"tags", device["tags"]}, {"description", "say \"hi\""}}));
  CHECK_FALSE(fleetrun::api::read_members(R"({"name":"n",})", {"name"}).has_value());
  CHECK_FALSE(fleetrun::api::read_members(R"({"name":tru})", {"name"}).has_value());
}
