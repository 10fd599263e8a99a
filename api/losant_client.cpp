#include "api/losant_client.hpp"

#include "api/answer_text.hpp"

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
  case ErrorKind::cancelled: return "cancelled";
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

std::string ApiError::describe_with_request() const
{
  return request.empty() ? describe() : describe() + " [" + request + "]";
}

ApiError cancelled_error()
{
  ApiError error;
  error.kind = ErrorKind::cancelled;
  error.delivery = Delivery::not_sent;
  error.message = "not sent: fleetrun is stopping";
  return error;
}

ApiError error_from_response(const HttpResponse& response)
{
  ApiError error;
  error.status = response.status;
  error.delivery = Delivery::answered;
  if (json_depth_within(response.body)) {
    const json body = json::parse(response.body, nullptr, false);
    if (body.is_object()) {
      if (const auto type = body.find("type"); type != body.end() && type->is_string()) error.type = *type;
      if (const auto message = body.find("message"); message != body.end() && message->is_string())
        error.message = *message;
    }
  }
  if (error.message.empty()) error.message = excerpt(response.body);
  if (response.status >= 300 && response.status < 400) {
    const std::string location = response.header("Location");
    error.kind = ErrorKind::permanent;
    error.message = "the API answered with a redirect" +
                    (location.empty() ? std::string() : " to " + excerpt(location, 300)) +
                    "; fleetrun does not follow redirects (the token would go along): check the API URL";
  } else if (response.status == 401 || response.status == 403) {
    error.kind = ErrorKind::auth;
  } else if (response.status == 408 || response.status == 429 || response.status >= 500) {
    error.kind = ErrorKind::transient;
  } else {
    error.kind = ErrorKind::permanent;
  }
  if (const std::string retry_after = response.header("Retry-After"); !retry_after.empty()) {
    error.retry_after_s = parse_retry_after(retry_after);
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
  const std::string where = method + " " + m_options.base_url + path;
  // Whatever a server or the network says is redacted before it is kept or
  // shown anywhere: an answer may echo the token.
  const auto failed = [&](ApiError error) -> ApiResult {
    error.message = redact(std::move(error.message), m_options.token);
    error.type = redact(std::move(error.type), m_options.token);
    error.request = where;
    return std::unexpected(std::move(error));
  };
  // One line per request for operators; the path carries no secret, the headers are not logged.
  if (!response) {
    spdlog::debug("{} {} -> {} ({} ms)", method, path, redact(response.error().message, m_options.token),
                  elapsed.count());
    return failed({response.error().kind, response.error().delivery, 0, "", response.error().message, {}, {}});
  }
  spdlog::debug("{} {} -> {} ({} ms)", method, path, response->status, elapsed.count());
  if (response->status < 200 || response->status >= 300) return failed(error_from_response(*response));
  if (!json_depth_within(response->body)) {
    if (method == "GET") {
      return failed({ErrorKind::transient,
                     Delivery::answered,
                     response->status,
                     "",
                     "the answer nests deeper than " + std::to_string(k_max_answer_depth) +
                         " levels; it is not an answer of the Losant API",
                     {},
                     {}});
    }
    // A change was answered 2xx: it was applied; only its details are unreadable.
    spdlog::warn("{}: the answer nests deeper than {} levels; its details are ignored", where, k_max_answer_depth);
    response->body = "{}";
  }
  return ApiResponse{response->status, redact(std::move(response->body), m_options.token), elapsed, where};
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
