#include "losant/json_schema.hpp"
#include "losant/schemas.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using fleetrun::losant::describe;
using fleetrun::losant::validate_against;
using nlohmann::json;

namespace {

std::string first_error(const std::string& schema, const json& body)
{
  const auto violations = validate_against(schema, body);
  return violations.empty() ? std::string() : describe(violations.front());
}

} // namespace

TEST_CASE("every official schema is embedded and parses", "[json_schema]")
{
  const auto names = fleetrun::losant::official_schema_names();
  CHECK(names.size() == 22);
  CHECK(std::find(names.begin(), names.end(), "devicesPatch") != names.end());
  CHECK_THROWS_AS(fleetrun::losant::official_schema("noSuchSchema"), std::out_of_range);
}

TEST_CASE("a valid devicesPatch body has no violations", "[json_schema]")
{
  const json body = {{"deviceIds", {"575ec8687ae143cd83dc4a97"}},
                     {"updateOperations",
                      {{{"operation", "set"}, {"target", "tag"}, {"value", {{"key", "fw"}, {"value", "2.0"}}}},
                       {{"operation", "remove"}, {"target", "attribute"}, {"attributeName", "temp"}}}}};
  CHECK(validate_against("devicesPatch", body).empty());
}

TEST_CASE("an unknown field is named, with a suggestion", "[json_schema]")
{
  CHECK(first_error("devicesPatch", {{"deviceIDs", json::array()}}) ==
        R"(deviceIDs: unknown field "deviceIDs" (did you mean "deviceIds"?))");
}

TEST_CASE("a bad id inside an array names its index", "[json_schema]")
{
  CHECK(first_error("devicesPatch", {{"deviceIds", {"575ec8687ae143cd83dc4a97", "nope"}}}) ==
        "deviceIds[1]: must be a 24-character hexadecimal id, not \"nope\"");
}

TEST_CASE("an update operation with an unknown target lists the allowed targets", "[json_schema]")
{
  const std::string error = first_error(
      "devicesPatch", {{"updateOperations", {{{"operation", "set"}, {"target", "colour"}, {"value", "x"}}}}});
  CHECK(error.starts_with("updateOperations[0].target: must be one of \"name\""));
  CHECK(error.find("\"keepDuplicates\"") != std::string::npos);
  CHECK(error.ends_with(", not \"colour\""));
}

TEST_CASE("a wrong value type in an update operation names the value", "[json_schema]")
{
  CHECK(first_error("devicesPatch",
                    {{"updateOperations", {{{"operation", "set"}, {"target", "systemInterval"}, {"value", 2}}}}}) ==
        "updateOperations[0].value: must be at least 5");
}

TEST_CASE("maxItems limits are enforced", "[json_schema]")
{
  json ids = json::array();
  for (int i = 0; i < 1001; ++i) ids.push_back("575ec8687ae143cd83dc4a97");
  CHECK(first_error("devicesPatch", {{"deviceIds", ids}}) == "deviceIds: must have at most 1000 items, not 1001");
}

TEST_CASE("required fields are reported", "[json_schema]")
{
  CHECK(first_error("devicesRemoveDataPost", json::object()) == "query: is required");
  CHECK(first_error("multiDeviceCommand", {{"deviceIds", json::array()}}) == "name: is required");
}

TEST_CASE("nested advanced queries resolve to the query schema itself", "[json_schema]")
{
  CHECK(validate_against("advancedDeviceQuery", {{"$or", {{{"name", "a"}}, {{"tags", {{"site", "x"}}}}}}}).empty());
  CHECK(first_error("advancedDeviceQuery", {{"$or", {{{"nmae", "a"}}}}}) ==
        R"($or[0].nmae: unknown field "nmae" (did you mean "name"?))");
}

TEST_CASE("formats email, uri and date-time are checked", "[json_schema]")
{
  CHECK(first_error("devicesExportPost", {{"email", "not-an-email"}}) == "email: must be a valid email");
  CHECK(first_error("devicesExportPost", {{"callbackUrl", "no scheme"}}) == "callbackUrl: must be a valid uri");
  CHECK(validate_against("devicesExportPost", {{"email", "ops@example.com"}, {"callbackUrl", "https://example.com/cb"}})
            .empty());
}

TEST_CASE("a generic schema: types, enums, numbers, oneOf ambiguity", "[json_schema]")
{
  const json schema = {{"type", "object"},
                       {"properties",
                        {{"n", {{"type", "integer"}, {"minimum", 1}, {"maximum", 3}}},
                         {"e", {{"enum", {"a", "b"}}}},
                         {"o", {{"oneOf", {{{"type", "string"}}, {{"type", "string"}, {"minLength", 1}}}}}}}}};
  const fleetrun::losant::SchemaResolver none = [](std::string_view) { return nullptr; };
  CHECK(fleetrun::losant::validate_json(schema, {{"n", 2}, {"e", "a"}}, none).empty());
  CHECK(describe(fleetrun::losant::validate_json(schema, {{"n", 2.5}}, none).at(0)) ==
        "n: must be an integer, not number");
  CHECK(describe(fleetrun::losant::validate_json(schema, {{"n", 4}}, none).at(0)) == "n: must be at most 3");
  CHECK(describe(fleetrun::losant::validate_json(schema, {{"e", "c"}}, none).at(0)) ==
        R"(e: must be one of "a", "b", not "c")");
  CHECK(describe(fleetrun::losant::validate_json(schema, {{"o", "x"}}, none).at(0)) ==
        "o: is ambiguous: it matches more than one allowed form");
  CHECK(describe(fleetrun::losant::validate_json(schema, json::array(), none).at(0)) == "must be an object, not array");
}
