#pragma once
// Typed calls for the Losant Devices API. Each returns the raw response on
// success (status and body text; callers parse what they need) or an
// ApiError that says whether to retry. The client neither retries nor
// sleeps: only the scheduler decides that. One client per worker thread.

#include "api/api_error.hpp"
#include "api/endpoints.hpp"
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
  std::string request; // "GET https://api.losant.com/applications/…/devices", for messages
};

using ApiResult = std::expected<ApiResponse, ApiError>;

struct ClientOptions {
  std::string base_url; // for messages: "GET https://api.losant.com/applications/…"
  std::string application_id;
  Secret token;
  std::string accept_version = "^1.29.3";
};

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

  // Any call under /applications/{applicationId} (api/endpoints.hpp builds
  // them): how workers send batches and follow-up requests.
  ApiResult send(const RequestSpec& request);

  const std::string& application_id() const { return m_options.application_id; }

private:
  std::string app_path() const;

  HttpTransport& m_transport;
  ClientOptions m_options;
};

// Classifies an HTTP answer that is not 2xx. Exposed for tests.
ApiError error_from_response(const HttpResponse& response);

} // namespace fleetrun::api
