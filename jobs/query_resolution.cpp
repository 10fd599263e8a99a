#include "jobs/query_resolution.hpp"

#include <nlohmann/json.hpp>

namespace fleetrun::jobs {

using nlohmann::json;

api::DeviceListParams list_params(const plans::QuerySpec& spec)
{
  api::DeviceListParams params;
  params.sort_field = "id";
  params.sort_direction = "asc";
  params.query_deleted = spec.deleted;
  if (spec.has_advanced_query) {
    params.query_json = spec.query_json;
    return params;
  }
  if (!spec.filter.empty()) {
    params.filter_field = "name";
    params.filter = spec.filter;
  }
  params.device_class = spec.device_classes;
  params.tag_filter = spec.tags;
  if (!spec.parent_id.empty()) params.parent_id = spec.parent_id;
  return params;
}

std::expected<std::int64_t, api::ApiError> resolve_query(const plans::QuerySpec& spec, const FetchPage& fetch,
                                                         const std::function<void(DevicePage&&)>& sink, int per_page)
{
  api::DeviceListParams params = list_params(spec);
  params.per_page = per_page;
  const bool by_cursor = spec.has_advanced_query || spec.matches_everything();
  const json base_query = spec.has_advanced_query ? json::parse(spec.query_json) : json::object();
  std::string last_id;
  std::int64_t total = 0;
  for (int page = 0;; ++page) {
    if (by_cursor) {
      params.page = 0;
      if (!last_id.empty()) {
        params.query_json = json{{"$and", {base_query, {{"id", {{"$gt", last_id}}}}}}}.dump();
      } else if (spec.has_advanced_query) {
        params.query_json = spec.query_json;
      }
    } else {
      params.page = page;
    }
    auto result = fetch(params);
    if (!result) return std::unexpected(result.error());
    const json body = json::parse(result->body);
    const json& items = body.at("items");
    DevicePage devices;
    devices.reserve(items.size());
    for (const auto& device : items) devices.emplace_back(device.at("id").get<std::string>(), device.dump());
    total += static_cast<std::int64_t>(devices.size());
    if (!devices.empty()) last_id = devices.back().first;
    const bool last_page = static_cast<int>(items.size()) < per_page;
    if (!devices.empty()) sink(std::move(devices));
    if (last_page) break;
  }
  return total;
}

} // namespace fleetrun::jobs
