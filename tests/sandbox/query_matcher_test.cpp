#include "sandbox/query_matcher.hpp"

#include "losant/schemas.hpp"
#include "losant/time_format.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace fleetrun::sandbox;

namespace {

Device sample()
{
  Device d;
  d.id = "5f0000000000000000000001";
  d.name = "North-Sensor-001";
  d.device_class = "peripheral";
  d.creation_ms = *fleetrun::losant::parse_iso8601_ms("2025-01-15T00:00:00Z");
  d.last_updated_ms = *fleetrun::losant::parse_iso8601_ms("2026-06-01T12:00:00Z");
  d.tags = {{"site", "north"}, {"fw", "1.2.0"}};
  d.attributes = {{"temperature", "number", "", "", {}, ""}, {"status", "string", "", "", {}, ""}};
  d.gateway_id = "5f00000000000000000000aa";
  d.ancestor_ids = {"5f00000000000000000000bb", "5f00000000000000000000cc"};
  d.connection = Connection::disconnected;
  d.connection_time_ms = *fleetrun::losant::parse_iso8601_ms("2026-05-01T00:00:00Z");
  return d;
}

// Compiles after checking against the official schema, as the sandbox does.
bool matches(const json& query, const Device& device = sample())
{
  INFO(query.dump());
  REQUIRE(fleetrun::losant::validate_against("advancedDeviceQuery", query).empty());
  auto compiled = DeviceQuery::compile(query);
  REQUIRE(compiled.has_value());
  return compiled->matches(device);
}

} // namespace

TEST_CASE("an empty query matches everything", "[query_matcher]")
{
  CHECK(matches(json::object()));
}

TEST_CASE("scalar equality and $eq/$ne", "[query_matcher]")
{
  CHECK(matches({{"name", "North-Sensor-001"}}));
  CHECK_FALSE(matches({{"name", "north-sensor-001"}}));
  CHECK(matches({{"name", {{"$eq", "North-Sensor-001"}}}}));
  CHECK(matches({{"name", {{"$ne", "other"}}}}));
  CHECK_FALSE(matches({{"name", {{"$ne", "North-Sensor-001"}}}}));
  CHECK(matches({{"deviceClass", "peripheral"}}));
}

TEST_CASE("ordering operators on text", "[query_matcher]")
{
  CHECK(matches({{"name", {{"$gt", "M"}}}}));
  CHECK(matches({{"name", {{"$lt", "O"}}}}));
  CHECK(matches({{"name", {{"$gte", "North-Sensor-001"}}}}));
  CHECK(matches({{"name", {{"$lte", "North-Sensor-001"}}}}));
  CHECK_FALSE(matches({{"name", {{"$gt", "North-Sensor-001"}}}}));
  CHECK(matches({{"name", {{"$gt", "M"}, {"$lt", "O"}}}}));
  CHECK_FALSE(matches({{"name", {{"$gt", "M"}, {"$lt", "N"}}}}));
}

TEST_CASE("$startsWith, $endsWith, $contains and $ci", "[query_matcher]")
{
  CHECK(matches({{"name", {{"$startsWith", "North"}}}}));
  CHECK_FALSE(matches({{"name", {{"$startsWith", "north"}}}}));
  CHECK(matches({{"name", {{"$startsWith", "north"}, {"$ci", true}}}}));
  CHECK(matches({{"name", {{"$endsWith", "-001"}}}}));
  CHECK(matches({{"name", {{"$contains", "Sensor"}}}}));
  CHECK(matches({{"name", {{"$contains", "SENSOR"}, {"$ci", true}}}}));
  CHECK(matches({{"name", {{"$eq", "north-sensor-001"}, {"$ci", true}}}}));
  CHECK_FALSE(matches({{"name", {{"$contains", "SENSOR"}, {"$ci", false}}}}));
}

TEST_CASE("$in and $nin", "[query_matcher]")
{
  CHECK(matches({{"deviceClass", {{"$in", {"gateway", "peripheral"}}}}}));
  CHECK_FALSE(matches({{"deviceClass", {{"$in", {"gateway"}}}}}));
  CHECK(matches({{"deviceClass", {{"$nin", {"gateway"}}}}}));
  CHECK_FALSE(matches({{"deviceClass", {{"$nin", {"peripheral"}}}}}));
  CHECK(matches({{"name", {{"$in", {"NORTH-SENSOR-001"}}, {"$ci", true}}}}));
}

TEST_CASE("id fields: exact, null, $in, $nin, ordering", "[query_matcher]")
{
  CHECK(matches({{"id", "5F0000000000000000000001"}})); // ids compare case-insensitively
  CHECK(matches({{"id", {{"$in", {"5f0000000000000000000001", "5f0000000000000000000002"}}}}}));
  CHECK_FALSE(matches({{"id", {{"$nin", {"5f0000000000000000000001"}}}}}));
  CHECK(matches({{"id", {{"$gt", "5f0000000000000000000000"}}}}));
  CHECK(matches({{"gatewayId", "5f00000000000000000000aa"}}));
  CHECK(matches({{"parentId", nullptr}}));
  CHECK_FALSE(matches({{"gatewayId", nullptr}}));
  CHECK(matches({{"parentId", {{"$eq", nullptr}}}}));
  CHECK(matches({{"gatewayId", {{"$ne", nullptr}}}}));
  CHECK(matches({{"experienceUserId", nullptr}}));
  CHECK(matches({{"experienceGroupId", nullptr}}));
}

TEST_CASE("multi-valued fields: any value for positive operators, none for negative", "[query_matcher]")
{
  CHECK(matches({{"ancestorId", "5f00000000000000000000cc"}}));
  CHECK_FALSE(matches({{"ancestorId", {{"$ne", "5f00000000000000000000cc"}}}}));
  CHECK(matches({{"ancestorId", {{"$nin", {"5f00000000000000000000dd"}}}}}));
  CHECK(matches({{"attributeName", "status"}}));
  CHECK(matches({{"attributeName", {{"$startsWith", "temp"}}}}));
  CHECK_FALSE(matches({{"attributeName", {{"$ne", "status"}}}}));
  CHECK(matches({{"attributeName", {{"$nin", {"battery"}}}}}));
}

TEST_CASE("dates compare as ISO strings or epoch milliseconds", "[query_matcher]")
{
  CHECK(matches({{"creationDate", {{"$lt", "2025-02-01T00:00:00Z"}}}}));
  CHECK(matches({{"creationDate", {{"$gte", "2025-01-15"}}}}));
  CHECK(matches({{"lastUpdated", {{"$gt", 1700000000000}}}}));
  CHECK_FALSE(matches({{"lastUpdated", {{"$lt", "2026-01-01T00:00:00Z"}}}}));
  CHECK(matches({{"creationDate", {{"$startsWith", "2025-01"}}}}));
  CHECK(matches({{"deletedAt", nullptr}}));
  CHECK_FALSE(matches({{"deletedAt", {{"$ne", nullptr}}}}));
  CHECK(matches({{"disconnectedAt", {{"$lt", "2026-05-02T00:00:00Z"}}}}));
  CHECK(matches({{"connectedAt", nullptr}}));
}

TEST_CASE("connectionStatus", "[query_matcher]")
{
  CHECK(matches({{"connectionStatus", "disconnected"}}));
  Device never = sample();
  never.connection = Connection::never;
  CHECK(matches({{"connectionStatus", "neverConnected"}}, never));
  CHECK(matches({{"connectionStatus", {{"$ne", "connected"}}}}, never));
}

TEST_CASE("tags: key/value pair form", "[query_matcher]")
{
  CHECK(matches({{"tags", {{"$tagKey", "site"}, {"$tagValue", "north"}}}}));
  CHECK_FALSE(matches({{"tags", {{"$tagKey", "site"}, {"$tagValue", "1.2.0"}}}})); // must be the same tag
  CHECK(matches({{"tags", {{"$tagKey", "fw"}}}}));
  CHECK(matches({{"tags", {{"$tagValue", "north"}}}}));
  CHECK(matches({{"tags", {{"$tagKey", "site"}, {"$tagValue", nullptr}}}}));
  CHECK(matches({{"tags", {{"$tagKey", {{"$in", {"region", "site"}}}}}}}));
  CHECK(matches({{"tags", {{"$tagKey", "site"}, {"$tagValue", {{"$nin", {"south"}}}}}}}));
  CHECK_FALSE(matches({{"tags", {{"$tagKey", "site"}, {"$tagValue", {{"$nin", {"north"}}}}}}}));
}

TEST_CASE("tags: key-name form, all keys must match", "[query_matcher]")
{
  CHECK(matches({{"tags", {{"site", "north"}}}}));
  CHECK(matches({{"tags", {{"site", "north"}, {"fw", "1.2.0"}}}}));
  CHECK_FALSE(matches({{"tags", {{"site", "north"}, {"fw", "2.0.0"}}}}));
  CHECK(matches({{"tags", {{"site", nullptr}}}}));
  CHECK_FALSE(matches({{"tags", {{"region", nullptr}}}}));
  CHECK(matches({{"tags", {{"fw", {{"$in", {"1.2.0", "1.3.1"}}}}}}}));
  CHECK_FALSE(matches({{"tags", {{"fw", {{"$nin", {"1.2.0"}}}}}}}));
}

TEST_CASE("tags: $eq and $ne of either form", "[query_matcher]")
{
  CHECK(matches({{"tags", {{"$eq", {{"site", "north"}}}}}}));
  CHECK(matches({{"tags", {{"$ne", {{"site", "south"}}}}}}));
  CHECK_FALSE(matches({{"tags", {{"$ne", {{"$tagKey", "site"}}}}}}));
  CHECK(matches({{"tags", {{"$ne", {{"$tagKey", "decommissioned"}}}}}}));
}

TEST_CASE("logical operators $and, $or, $nor nest", "[query_matcher]")
{
  CHECK(matches({{"$and", {{{"name", {{"$startsWith", "North"}}}}, {{"deviceClass", "peripheral"}}}}}));
  CHECK_FALSE(matches({{"$and", {{{"name", {{"$startsWith", "North"}}}}, {{"deviceClass", "gateway"}}}}}));
  CHECK(matches({{"$or", {{{"deviceClass", "gateway"}}, {{"tags", {{"site", "north"}}}}}}}));
  CHECK_FALSE(matches({{"$or", {{{"deviceClass", "gateway"}}, {{"tags", {{"site", "south"}}}}}}}));
  CHECK(matches({{"$nor", {{{"deviceClass", "gateway"}}, {{"tags", {{"site", "south"}}}}}}}));
  CHECK(matches({{"$or", {{{"$and", {{{"name", "x"}}, {{"name", "y"}}}}}, {{"$nor", {{{"name", "x"}}}}}}}}));
  CHECK(matches({{"deviceClass", "peripheral"}, {"$or", {{{"id", {{"$in", {"5f0000000000000000000001"}}}}}}}}));
}

TEST_CASE("invalid queries are refused by the schema or the compiler", "[query_matcher]")
{
  using fleetrun::losant::validate_against;
  CHECK_FALSE(validate_against("advancedDeviceQuery", {{"colour", "red"}}).empty());
  CHECK_FALSE(validate_against("advancedDeviceQuery", {{"id", "not-an-id"}}).empty());
  CHECK_FALSE(validate_against("advancedDeviceQuery", {{"id", {{"$in", {"x"}}}}}).empty());
  CHECK_FALSE(validate_against("advancedDeviceQuery", {{"name", {{"$regex", "x"}}}}).empty());
  CHECK_FALSE(validate_against("advancedDeviceQuery", {{"name", {{"$startsWith", ""}}}}).empty());
  CHECK_FALSE(validate_against("advancedDeviceQuery", {{"$or", "x"}}).empty());
  json many = json::array();
  for (int i = 0; i < 101; ++i) many.push_back("5f0000000000000000000001");
  CHECK_FALSE(validate_against("advancedDeviceQuery", {{"id", {{"$in", many}}}}).empty());
  // The compiler refuses what the schema lets through but cannot mean anything.
  CHECK_FALSE(DeviceQuery::compile({{"creationDate", {{"$gt", "not a date"}}}}).has_value());
  CHECK_FALSE(DeviceQuery::compile({{"tags", {{"$tagKey", "a"}, {"site", "b"}}}}).has_value());
  CHECK_FALSE(DeviceQuery::compile(json::array()).has_value());
}

TEST_CASE("simple GET filters", "[query_matcher]")
{
  SimpleFilters filters;
  filters.filter = "north-*-0?1";
  CHECK(DeviceQuery::from_filters(filters).matches(sample()));
  filters.device_classes = {"gateway"};
  CHECK_FALSE(DeviceQuery::from_filters(filters).matches(sample()));
  SimpleFilters tags;
  tags.tag_filter = {{"site", ""}, {"", "1.2.0"}};
  CHECK(DeviceQuery::from_filters(tags).matches(sample()));
  tags.tag_filter.emplace_back("site", "south");
  CHECK_FALSE(DeviceQuery::from_filters(tags).matches(sample()));
}

TEST_CASE("glob matching", "[query_matcher]")
{
  CHECK(glob_matches("*", ""));
  CHECK(glob_matches("a*c", "abbbc"));
  CHECK(glob_matches("A?C", "abc"));
  CHECK_FALSE(glob_matches("a*d", "abc"));
  CHECK(glob_matches("*sensor*", "north-SENSOR-1"));
}
