#include "jobs/step_kind.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace fleetrun::jobs {

using nlohmann::json;

json StepKind::outcome(const json& body, std::size_t) const
{
  json counts = json::object();
  if (body.is_object()) {
    for (const auto& [key, value] : body.items()) {
      if (value.is_number_integer()) counts[key] = value;
    }
  }
  return counts;
}

std::int64_t failed_devices_of(const json& outcome, std::int64_t devices, bool batch_failed)
{
  std::int64_t failed = 0;
  std::int64_t succeeded = 0;
  bool counted = false;
  if (outcome.is_object()) {
    for (const auto& [key, value] : outcome.items()) {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0) continue;
      counted = true;
      (key == "failed" ? failed : succeeded) += value.get<std::int64_t>();
    }
  }
  if (batch_failed) return counted ? std::clamp<std::int64_t>(devices - succeeded, 0, devices) : devices;
  return std::clamp<std::int64_t>(failed, 0, devices);
}

json pinned_query(const std::vector<std::string>& ids)
{
  constexpr std::size_t k_per_clause = 100;
  if (ids.size() <= k_per_clause) return {{"id", {{"$in", ids}}}};
  json clauses = json::array();
  for (std::size_t i = 0; i < ids.size(); i += k_per_clause) {
    const auto end = std::min(ids.size(), i + k_per_clause);
    clauses.push_back({{"id",
                        {{"$in", std::vector<std::string>(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                                          ids.begin() + static_cast<std::ptrdiff_t>(end))}}}});
  }
  return {{"$or", clauses}};
}

} // namespace fleetrun::jobs
