#pragma once
// Reading members of JSON that came from a server, without trusting its
// types: a member of the wrong type reads as absent. (nlohmann's value()
// throws on a wrong type, which an API answer must never be able to cause.)

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace fleetrun::api {

inline std::string string_member(const nlohmann::json& object, const char* key, std::string fallback = {})
{
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// A whole number in [minimum, maximum], else nothing.
inline std::optional<std::int64_t> integer_member(const nlohmann::json& object, const char* key,
                                                  std::int64_t minimum = 0,
                                                  std::int64_t maximum = INT64_C(1'000'000'000'000))
{
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(maximum)) return std::nullopt;
  const auto value = it->get<std::int64_t>();
  if (value < minimum || value > maximum) return std::nullopt;
  return value;
}

} // namespace fleetrun::api
