#pragma once
// The Losant Devices API's paths, in one place. Each function returns the
// request an endpoint takes (method, path under /applications/{id}, query
// parameters, body); the client sends it, the jobs build batches with it and
// the coordinator builds its follow-up requests (job polls, command
// histories, lookups) with it. Nothing here sends anything.

#include "api/request_encoding.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleetrun::api {

// One request, its path relative to /applications/{applicationId}.
struct RequestSpec {
  std::string method;
  std::string path;
  QueryParams params;
  std::optional<std::string> body; // JSON text
};

// Parameters of `GET /devices`; unset ones are not sent.
struct DeviceListParams {
  std::optional<std::string> sort_field;     // name, id, creationDate, lastUpdated
  std::optional<std::string> sort_direction; // asc, desc
  int page = 0;
  int per_page = 1000;
  std::optional<std::string> filter_field;
  std::optional<std::string> filter;
  std::vector<std::string> device_class;
  std::vector<std::pair<std::string, std::string>> tag_filter; // empty key or value: omitted
  std::optional<std::string> parent_id;
  std::optional<std::string> query_json; // advanced query as JSON text
  bool exclude_connection_info = false;
  bool query_deleted = false;
};

struct CommandHistoryParams {
  std::optional<int> limit;
  std::optional<std::int64_t> start_ms;
  std::optional<std::int64_t> end_ms;
  std::optional<std::string> sort_direction;
};

struct JobLogListParams {
  int page = 0;
  int per_page = 100;
  std::optional<std::string> sort_direction;
  std::optional<std::string> status;
};

// The parameters exactly as the official clients send them.
QueryParams device_list_query(const DeviceListParams& params);

namespace endpoints {

RequestSpec list_devices(const DeviceListParams& params);
RequestSpec get_device(const std::string& device_id);
RequestSpec create_device(std::string device_post);
RequestSpec patch_devices(std::string devices_patch);
RequestSpec delete_devices(std::string delete_post);
RequestSpec restore_devices(std::string restore_post);
RequestSpec remove_data(std::string remove_data_post);
RequestSpec send_command(std::string multi_device_command);
RequestSpec export_devices(std::string export_post, const std::optional<std::string>& email = std::nullopt,
                           const std::optional<std::string>& callback_url = std::nullopt);
RequestSpec command_history(const std::string& device_id, const CommandHistoryParams& params);
RequestSpec job_log(const std::string& job_log_id);
RequestSpec list_job_logs(const JobLogListParams& params);

} // namespace endpoints

} // namespace fleetrun::api
