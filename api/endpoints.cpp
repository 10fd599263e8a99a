#include "api/endpoints.hpp"

#include <nlohmann/json.hpp>

namespace fleetrun::api {

using nlohmann::json;

QueryParams device_list_query(const DeviceListParams& params)
{
  QueryParams query;
  if (params.sort_field) query.emplace_back("sortField", *params.sort_field);
  if (params.sort_direction) query.emplace_back("sortDirection", *params.sort_direction);
  query.emplace_back("page", std::to_string(params.page));
  query.emplace_back("perPage", std::to_string(params.per_page));
  if (params.filter_field) query.emplace_back("filterField", *params.filter_field);
  if (params.filter) query.emplace_back("filter", *params.filter);
  if (params.device_class.size() == 1) {
    query.emplace_back("deviceClass", params.device_class.front());
  } else if (!params.device_class.empty()) {
    flatten_param("deviceClass", json(params.device_class), query);
  }
  if (!params.tag_filter.empty()) {
    json tags = json::array();
    for (const auto& [key, value] : params.tag_filter) {
      json pair = json::object();
      if (!key.empty()) pair["key"] = key;
      if (!value.empty()) pair["value"] = value;
      tags.push_back(std::move(pair));
    }
    flatten_param("tagFilter", tags, query);
  }
  if (params.exclude_connection_info) query.emplace_back("excludeConnectionInfo", "true");
  if (params.parent_id) query.emplace_back("parentId", *params.parent_id);
  if (params.query_json) query.emplace_back("query", *params.query_json);
  if (params.query_deleted) query.emplace_back("queryDeleted", "true");
  return query;
}

namespace endpoints {

namespace {

RequestSpec post(std::string path, std::string body)
{
  return {"POST", std::move(path), {}, std::move(body)};
}

} // namespace

RequestSpec list_devices(const DeviceListParams& params)
{
  return {"GET", "/devices", device_list_query(params), std::nullopt};
}

RequestSpec get_device(const std::string& device_id)
{
  return {"GET", "/devices/" + url_encode(device_id), {}, std::nullopt};
}

RequestSpec create_device(std::string device_post)
{
  return post("/devices", std::move(device_post));
}

RequestSpec patch_devices(std::string devices_patch)
{
  return {"PATCH", "/devices", {}, std::move(devices_patch)};
}

RequestSpec delete_devices(std::string delete_post)
{
  return post("/devices/delete", std::move(delete_post));
}

RequestSpec restore_devices(std::string restore_post)
{
  return post("/devices/restore", std::move(restore_post));
}

RequestSpec remove_data(std::string remove_data_post)
{
  return post("/devices/removeData", std::move(remove_data_post));
}

RequestSpec send_command(std::string multi_device_command)
{
  return post("/devices/command", std::move(multi_device_command));
}

RequestSpec export_devices(std::string export_post, const std::optional<std::string>& email,
                           const std::optional<std::string>& callback_url)
{
  RequestSpec spec = post("/devices/export", std::move(export_post));
  if (email) spec.params.emplace_back("email", *email);
  if (callback_url) spec.params.emplace_back("callbackUrl", *callback_url);
  return spec;
}

RequestSpec command_history(const std::string& device_id, const CommandHistoryParams& params)
{
  RequestSpec spec{"GET", "/devices/" + url_encode(device_id) + "/command", {}, std::nullopt};
  if (params.limit) spec.params.emplace_back("limit", std::to_string(*params.limit));
  if (params.start_ms) spec.params.emplace_back("start", std::to_string(*params.start_ms));
  if (params.end_ms) spec.params.emplace_back("end", std::to_string(*params.end_ms));
  if (params.sort_direction) spec.params.emplace_back("sortDirection", *params.sort_direction);
  return spec;
}

RequestSpec job_log(const std::string& job_log_id)
{
  return {"GET", "/jobLogs/" + url_encode(job_log_id), {}, std::nullopt};
}

RequestSpec list_job_logs(const JobLogListParams& params)
{
  RequestSpec spec{"GET",
                   "/jobLogs",
                   {{"page", std::to_string(params.page)}, {"perPage", std::to_string(params.per_page)}},
                   std::nullopt};
  if (params.sort_direction) spec.params.emplace_back("sortDirection", *params.sort_direction);
  if (params.status) spec.params.emplace_back("status", *params.status);
  return spec;
}

} // namespace endpoints

} // namespace fleetrun::api
