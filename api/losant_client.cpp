#include "api/losant_client.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>

namespace fleetrun::api {

using nlohmann::json;

const char* to_string(ErrorKind kind)
{
  switch (kind) {
  case ErrorKind::transient: return "transient";
  case ErrorKind::timeout: return "timeout";
  case ErrorKind::auth: return "auth";
  case ErrorKind::permanent: break;
  }
  return "permanent";
}

std::string ApiError::describe() const
{
  std::string text;
  if (status != 0) {
    text = "HTTP " + std::to_string(status);
    if (!type.empty()) text += " " + type;
    if (!message.empty()) text += ": " + message;
  } else {
    text = message;
  }
  if (delivery == Delivery::maybe_sent) text += " (the request may have been applied)";
  return text;
}

ApiError error_from_response(const HttpResponse& response)
{
  ApiError error;
  error.status = response.status;
  error.delivery = Delivery::answered;
  const json body = json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    error.type = body.value("type", "");
    error.message = body.value("message", "");
  }
  if (error.message.empty()) error.message = response.body.substr(0, 200);
  if (response.status == 401 || response.status == 403) {
    error.kind = ErrorKind::auth;
  } else if (response.status == 408 || response.status == 429 || response.status >= 500) {
    error.kind = ErrorKind::transient;
  } else {
    error.kind = ErrorKind::permanent;
  }
  // Retry-After is delta-seconds here; an HTTP date is ignored (the scheduler backs off itself).
  const std::string retry_after = response.header("Retry-After");
  double seconds = 0;
  if (!retry_after.empty()) {
    const auto [ptr, ec] = std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
    if (ec == std::errc() && ptr == retry_after.data() + retry_after.size() && seconds >= 0)
      error.retry_after_s = seconds;
  }
  return error;
}

LosantClient::LosantClient(HttpTransport& transport, ClientOptions options)
    : m_transport(transport), m_options(std::move(options))
{
}

std::string LosantClient::app_path() const
{
  return "/applications/" + url_encode(m_options.application_id);
}

ApiResult LosantClient::send(const RequestSpec& spec)
{
  const std::string& method = spec.method;
  const std::string path = app_path() + spec.path;
  QueryParams params = spec.params;
  const std::optional<std::string>& body = spec.body;
  // The official clients ask for the same envelope on every call.
  params.emplace_back("_actions", "false");
  params.emplace_back("_links", "true");
  params.emplace_back("_embedded", "true");
  HttpRequest request;
  request.method = method;
  request.target = path + "?" + encode_query(params);
  request.headers = {{"Authorization", "Bearer " + m_options.token.reveal()},
                     {"Accept", "application/json"},
                     {"Accept-Version", m_options.accept_version},
                     {"User-Agent", "fleetrun/0.1.0"}};
  if (body) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = *body;
  }
  const auto started = std::chrono::steady_clock::now();
  auto response = m_transport.send(request);
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  // One line per request for operators; the path carries no secret, the headers are not logged.
  if (!response) {
    spdlog::debug("{} {} -> {} ({} ms)", method, path, response.error().message, elapsed.count());
    return std::unexpected(
        ApiError{response.error().kind, response.error().delivery, 0, "", response.error().message, {}});
  }
  spdlog::debug("{} {} -> {} ({} ms)", method, path, response->status, elapsed.count());
  if (response->status < 200 || response->status >= 300) return std::unexpected(error_from_response(*response));
  return ApiResponse{response->status, std::move(response->body), elapsed};
}

ApiResult LosantClient::get_devices(const DeviceListParams& params)
{
  return send(endpoints::list_devices(params));
}

ApiResult LosantClient::get_device(const std::string& device_id)
{
  return send(endpoints::get_device(device_id));
}

ApiResult LosantClient::create_device(const json& device_post)
{
  return send(endpoints::create_device(device_post.dump()));
}

ApiResult LosantClient::patch_devices(const json& devices_patch)
{
  return send(endpoints::patch_devices(devices_patch.dump()));
}

ApiResult LosantClient::delete_devices(const json& delete_post)
{
  return send(endpoints::delete_devices(delete_post.dump()));
}

ApiResult LosantClient::restore_devices(const json& restore_post)
{
  return send(endpoints::restore_devices(restore_post.dump()));
}

ApiResult LosantClient::remove_data(const json& remove_data_post)
{
  return send(endpoints::remove_data(remove_data_post.dump()));
}

ApiResult LosantClient::send_command(const json& command)
{
  return send(endpoints::send_command(command.dump()));
}

ApiResult LosantClient::export_devices(const json& export_post, const std::optional<std::string>& email,
                                       const std::optional<std::string>& callback_url)
{
  return send(endpoints::export_devices(export_post.dump(), email, callback_url));
}

ApiResult LosantClient::get_command_history(const std::string& device_id, const CommandHistoryParams& params)
{
  return send(endpoints::command_history(device_id, params));
}

ApiResult LosantClient::get_job_log(const std::string& job_log_id)
{
  return send(endpoints::job_log(job_log_id));
}

ApiResult LosantClient::list_job_logs(const JobLogListParams& params)
{
  return send(endpoints::list_job_logs(params));
}

} // namespace fleetrun::api
