#include "sandbox/device.hpp"
#include "sandbox/device_store.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace fleetrun::sandbox;
using nlohmann::json;

namespace {

json written(const Device& device, bool with_connection)
{
  std::string text = "prefix";
  append_api_json(text, device, "5f1a2b3c4d5e6f7a8b9c0d1e", with_connection);
  REQUIRE(text.starts_with("prefix"));
  return json::parse(text.substr(6));
}

} // namespace

TEST_CASE("the direct writer gives what to_api_json gives, for a seeded fleet", "[device_json]")
{
  DeviceStore store;
  store.seed({400, 3, 1'790'000'000'000});
  for (const auto& device : store.devices()) {
    for (const bool with_connection : {true, false}) {
      CHECK(written(device, with_connection) == to_api_json(device, "5f1a2b3c4d5e6f7a8b9c0d1e", with_connection));
    }
  }
}

TEST_CASE("the direct writer escapes like a JSON serializer and writes every optional field", "[device_json]")
{
  Device device;
  device.id = "0123456789abcdef01234567";
  device.name = "quote \" backslash \\ newline \n tab \t bell \x07 caf\xc3\xa9";
  device.description = std::string("nul \0 inside", 12);
  device.device_class = "gateway";
  device.creation_ms = 1'700'000'000'123;
  device.last_updated_ms = 1'700'000'100'456;
  device.deleted_at_ms = 1'700'000'200'789;
  device.tags = {{"site", "north"}, {"k\"ey", "v\\al"}};
  Attribute attribute;
  attribute.name = "temperature";
  attribute.data_type = "number";
  attribute.content_type = "text/plain";
  attribute.description = "degrees";
  attribute.attribute_tags = {{"unit", "C"}, {"unit", "F"}};
  attribute.system_json = R"({"hidden":true})";
  device.attributes = {attribute, Attribute{"plain", "string", "", "", {}, ""}};
  device.gateway_id = "0123456789abcdef01234568";
  device.parent_id = "0123456789abcdef01234569";
  device.ancestor_ids = {"0123456789abcdef01234569", "0123456789abcdef0123456a"};
  device.system_interval = 30;
  device.keep_duplicates = false;
  for (const auto connection : {Connection::never, Connection::connected, Connection::disconnected}) {
    device.connection = connection;
    device.connection_time_ms = 1'700'000'300'000;
    CHECK(written(device, true) == to_api_json(device, "5f1a2b3c4d5e6f7a8b9c0d1e", true));
  }
}
