#pragma once
// The official Losant request and response schemas (losant/schemas/*.json,
// MIT licensed, see losant/schemas/LICENSE), embedded in the binary.

#include "losant/json_schema.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetrun::losant {

// The schema named like its file without `.json` (e.g. "devicesPatch").
// Throws std::out_of_range for an unknown name: a programming error.
const nlohmann::json& official_schema(std::string_view name);

// Validates against an official schema; nested `#/definitions/advancedDeviceQuery`
// references resolve to the advancedDeviceQuery schema itself, as the API
// notes say (../shared/losant-api/NOTES.md, "Reading the schemas").
std::vector<SchemaViolation> validate_against(std::string_view schema_name, const nlohmann::json& instance);

std::vector<std::string> official_schema_names();

namespace detail {
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_schema_texts();
}

} // namespace fleetrun::losant
