#pragma once
// Typed calls for the Losant Devices API. Each returns the raw response on
// success (status and body text; callers parse what they need) or an
// ApiError that says whether to retry. The client neither retries nor
// sleeps: only the scheduler decides that. One client per worker thread.

#include "api/api_error.hpp"
#include "api/http_transport.hpp"
#include "api/request_encoding.hpp"
#include "api/secrets.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace fleetrun::api {

struct ApiResponse {
  int status = 0;
  std::string body;
  std::chrono::milliseconds elapsed{0};
};

using ApiResult = std::expected<ApiResponse, ApiError>;

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

struct ClientOptions {
  std::string application_id;
  Secret token;
  std::string accept_version = "^1.29.3";
};

// The parameters exactly as the official clients send them; exposed for tests.
QueryParams device_list_query(const DeviceListParams& params);

class LosantClient {
public:
  LosantClient(HttpTransport& transport, ClientOptions options);

  ApiResult get_devices(const DeviceListParams& params);
  ApiResult get_device(const std::string& device_id);
  ApiResult create_device(const nlohmann::json& device_post);
  ApiResult patch_devices(const nlohmann::json& devices_patch);
  ApiResult delete_devices(const nlohmann::json& delete_post);
  ApiResult restore_devices(const nlohmann::json& restore_post);
  ApiResult remove_data(const nlohmann::json& remove_data_post);
  ApiResult send_command(const nlohmann::json& multi_device_command);
  ApiResult export_devices(const nlohmann::json& export_post, const std::optional<std::string>& email = std::nullopt,
                           const std::optional<std::string>& callback_url = std::nullopt);
  ApiResult get_command_history(const std::string& device_id, const CommandHistoryParams& params);
  ApiResult get_job_log(const std::string& job_log_id);
  ApiResult list_job_logs(const JobLogListParams& params);

  // Any call under /applications/{applicationId}: `path` like "/devices/delete",
  // `body` already JSON text. The coordinator replays stored requests with it.
  ApiResult request(const std::string& method, const std::string& path, QueryParams params,
                    const std::optional<std::string>& body);

  const std::string& application_id() const { return m_options.application_id; }

private:
  ApiResult call(const std::string& method, const std::string& path, QueryParams params, const nlohmann::json* body);
  ApiResult send(const std::string& method, const std::string& path, QueryParams params,
                 const std::optional<std::string>& body);
  std::string app_path() const;

  HttpTransport& m_transport;
  ClientOptions m_options;
};

// Classifies an HTTP answer that is not 2xx. Exposed for tests.
ApiError error_from_response(const HttpResponse& response);

} // namespace fleetrun::api
