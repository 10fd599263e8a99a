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

LosantClient::LosantClient(HttpTransport& transport, ClientOptions options)
    : m_transport(transport), m_options(std::move(options))
{
}

std::string LosantClient::app_path() const
{
  return "/applications/" + url_encode(m_options.application_id);
}

ApiResult LosantClient::call(const std::string& method, const std::string& path, QueryParams params, const json* body)
{
  return send(method, path, std::move(params),
              body == nullptr ? std::nullopt : std::optional<std::string>(body->dump()));
}

ApiResult LosantClient::request(const std::string& method, const std::string& path, QueryParams params,
                                const std::optional<std::string>& body)
{
  return send(method, app_path() + path, std::move(params), body);
}

ApiResult LosantClient::send(const std::string& method, const std::string& path, QueryParams params,
                             const std::optional<std::string>& body)
{
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
  return call("GET", app_path() + "/devices", device_list_query(params), nullptr);
}

ApiResult LosantClient::get_device(const std::string& device_id)
{
  return call("GET", app_path() + "/devices/" + url_encode(device_id), {}, nullptr);
}

ApiResult LosantClient::create_device(const json& device_post)
{
  return call("POST", app_path() + "/devices", {}, &device_post);
}
ApiResult LosantClient::patch_devices(const json& devices_patch)
{
  return call("PATCH", app_path() + "/devices", {}, &devices_patch);
}
ApiResult LosantClient::delete_devices(const json& delete_post)
{
  return call("POST", app_path() + "/devices/delete", {}, &delete_post);
}
ApiResult LosantClient::restore_devices(const json& restore_post)
{
  return call("POST", app_path() + "/devices/restore", {}, &restore_post);
}
ApiResult LosantClient::remove_data(const json& remove_data_post)
{
  return call("POST", app_path() + "/devices/removeData", {}, &remove_data_post);
}
ApiResult LosantClient::send_command(const json& command)
{
  return call("POST", app_path() + "/devices/command", {}, &command);
}

ApiResult LosantClient::export_devices(const json& export_post, const std::optional<std::string>& email,
                                       const std::optional<std::string>& callback_url)
{
  QueryParams params;
  if (email) params.emplace_back("email", *email);
  if (callback_url) params.emplace_back("callbackUrl", *callback_url);
  return call("POST", app_path() + "/devices/export", std::move(params), &export_post);
}

ApiResult LosantClient::get_command_history(const std::string& device_id, const CommandHistoryParams& params)
{
  QueryParams query;
  if (params.limit) query.emplace_back("limit", std::to_string(*params.limit));
  if (params.start_ms) query.emplace_back("start", std::to_string(*params.start_ms));
  if (params.end_ms) query.emplace_back("end", std::to_string(*params.end_ms));
  if (params.sort_direction) query.emplace_back("sortDirection", *params.sort_direction);
  return call("GET", app_path() + "/devices/" + url_encode(device_id) + "/command", std::move(query), nullptr);
}

ApiResult LosantClient::get_job_log(const std::string& job_log_id)
{
  return call("GET", app_path() + "/jobLogs/" + url_encode(job_log_id), {}, nullptr);
}

ApiResult LosantClient::list_job_logs(const JobLogListParams& params)
{
  QueryParams query = {{"page", std::to_string(params.page)}, {"perPage", std::to_string(params.per_page)}};
  if (params.sort_direction) query.emplace_back("sortDirection", *params.sort_direction);
  if (params.status) query.emplace_back("status", *params.status);
  return call("GET", app_path() + "/jobLogs", std::move(query), nullptr);
}

} // namespace fleetrun::api
