#include "jobs/step_kind.hpp"

#include <nlohmann/json.hpp>

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

std::int64_t StepKind::failed_count(const json& outcome) const
{
  return outcome.is_object() && outcome.contains("failed") && outcome["failed"].is_number_integer()
             ? outcome["failed"].get<std::int64_t>()
             : 0;
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
