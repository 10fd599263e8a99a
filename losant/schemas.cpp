#include "losant/schemas.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <stdexcept>

namespace fleetrun::losant {

namespace {

const std::map<std::string, nlohmann::json, std::less<>>& registry()
{
  // Parsed once, on first use; never modified afterwards, so reads are safe
  // from any thread.
  static const auto k_registry = [] {
    std::map<std::string, nlohmann::json, std::less<>> parsed;
    for (const auto& [name, text] : detail::embedded_schema_texts()) {
      parsed.emplace(std::string(name), nlohmann::json::parse(text));
    }
    return parsed;
  }();
  return k_registry;
}

} // namespace

const nlohmann::json& official_schema(std::string_view name)
{
  const auto& schemas = registry();
  const auto it = schemas.find(name);
  if (it == schemas.end()) {
    throw std::out_of_range("no official Losant schema named " + std::string(name));
  }
  return it->second;
}

std::vector<SchemaViolation> validate_against(std::string_view schema_name, const nlohmann::json& instance)
{
  static const SchemaResolver k_resolver = [](std::string_view ref) -> const nlohmann::json* {
    if (ref == "#/definitions/advancedDeviceQuery") {
      return &official_schema("advancedDeviceQuery");
    }
    return nullptr;
  };
  return validate_json(official_schema(schema_name), instance, k_resolver);
}

std::vector<std::string> official_schema_names()
{
  std::vector<std::string> names;
  for (const auto& [name, unused] : registry()) names.push_back(name);
  return names;
}

} // namespace fleetrun::losant
