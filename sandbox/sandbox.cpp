#include "sandbox/service.hpp"

#include "sandbox/actions.hpp"
#include "sandbox/token_bucket.hpp"

#include "losant/object_id.hpp"
#include "losant/schemas.hpp"
#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>

namespace fleetrun::sandbox {

Response json_response(int status, const json& body)
{
  Response response;
  response.status = status;
  response.body = body.dump();
  return response;
}

Response error_response(int status, const std::string& type, const std::string& message)
{
  return json_response(status, json{{"type", type}, {"message", message}});
}

Response validation_error(const std::string& message)
{
  return error_response(400, "Validation", message);
}

std::string first_violations(const std::vector<losant::SchemaViolation>& violations, const std::string& prefix)
{
  std::string message;
  for (std::size_t i = 0; i < violations.size() && i < 3; ++i) {
    auto v = violations[i];
    v.path = prefix.empty() ? v.path : (v.path.empty() ? prefix : prefix + "." + v.path);
    message += (i == 0 ? "" : "; ") + losant::describe(v);
  }
  return message;
}

std::vector<std::string> split_path(const std::string& path)
{
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string::npos ? path.size() : slash;
    if (end > start) parts.push_back(path.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

bool is_mutation(const std::string& method)
{
  return method == "POST" || method == "PATCH" || method == "DELETE" || method == "PUT";
}

Sandbox::Impl::Impl(SandboxConfig cfg) : config(std::move(cfg)), fault_rng(config.fault_seed)
{
  if (!config.request_log_path.empty()) {
    request_log.open(config.request_log_path, std::ios::app);
  }
  worker = std::thread([this] { run_jobs(); });
}

Sandbox::Impl::~Impl()
{
  {
    std::lock_guard lock(job_mutex);
    stopping = true;
  }
  job_cv.notify_all();
  worker.join();
}

RuntimeConfig Sandbox::Impl::runtime()
{
  std::lock_guard lock(control_mutex);
  return config.runtime;
}

void Sandbox::Impl::count(const std::string& key, const std::string& total)
{
  std::lock_guard lock(stats_mutex);
  ++counters[key];
  ++totals[total];
}

void Sandbox::Impl::count_total(const std::string& total)
{
  std::lock_guard lock(stats_mutex);
  ++totals[total];
}

Response Sandbox::Impl::serve(const Request& request)
{
  const auto started = std::chrono::steady_clock::now();
  const auto parts = split_path(request.path);
  Response response;
  std::string fault;
  std::string route = request.path;
  if (!parts.empty() && parts[0] == "_sandbox") {
    response = admin(request, parts);
    route = "/_sandbox/" + (parts.size() > 1 ? parts[1] : std::string());
  } else {
    route = route_template(parts);
    response = api(request, parts, fault);
    // Every API answer takes the network's time, refusals (401, 429) too.
    response.latency_ms = draw_latency();
  }
  const auto elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const std::string status =
      response.disposition == Response::Disposition::drop ? "dropped" : std::to_string(response.status);
  count(request.method + " " + route + " " + status, "requests");
  log_request(request, response, fault, elapsed_ms + response.latency_ms);
  return response;
}

std::string Sandbox::Impl::route_template(const std::vector<std::string>& parts)
{
  std::string route;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool id_slot = (i == 1 && parts[0] == "applications") ||
                         (i == 3 && parts.size() > 3 && parts[2] == "devices" && losant::is_object_id(parts[3])) ||
                         (i == 3 && parts[2] == "jobLogs");
    route += "/" + (id_slot ? std::string(i == 1 ? "{applicationId}" : "{id}") : parts[i]);
  }
  return route.empty() ? "/" : route;
}

Response Sandbox::Impl::api(const Request& request, const std::vector<std::string>& parts, std::string& fault)
{
  if (parts.size() < 2 || parts[0] != "applications") {
    return error_response(404, "NotFound", "No such resource: " + request.path);
  }
  const std::string token = bearer_token(request.authorization);
  if (token.empty() || std::find(config.tokens.begin(), config.tokens.end(), token) == config.tokens.end()) {
    count("auth rejected", "unauthorized");
    return error_response(401, "Unauthorized", "Invalid access token");
  }
  const RuntimeConfig rc = runtime();
  if (auto wait = take_token(token, rc)) {
    Response limited = error_response(429, "TooManyRequests", "Rate limit exceeded, retry later");
    if (rc.retry_after) {
      limited.headers.emplace_back("Retry-After", std::to_string(static_cast<long>(std::ceil(*wait))));
      limited.headers.emplace_back("X-Sandbox-Retry-After-Ms",
                                   std::to_string(static_cast<long>(std::ceil(*wait * 1000))));
    }
    count("rate limited", "rateLimited");
    return limited;
  }
  fault = roll_fault(request, parts, rc);
  if (fault == "drop_before") {
    Response dropped;
    dropped.disposition = Response::Disposition::drop;
    dropped.latency_ms = rc.latency_ms;
    return dropped;
  }
  if (fault == "5xx") {
    Response unavailable = error_response(503, "ServiceUnavailable", "Injected fault: service unavailable");
    unavailable.latency_ms = rc.latency_ms;
    return unavailable;
  }
  Response response;
  if (!losant::is_object_id(parts[1]) || losant::normalize_object_id(parts[1]) != config.application_id) {
    response = error_response(404, "NotFound", "Application was not found");
  } else {
    try {
      response = route_api(request, parts, rc);
    } catch (const json::exception& error) {
      response = validation_error(std::string("malformed request: ") + error.what());
    }
  }
  response.latency_ms = rc.latency_ms;
  if (fault == "drop_after") response.disposition = Response::Disposition::drop;
  return response;
}

std::string Sandbox::Impl::bearer_token(const std::string& header)
{
  static const std::string k_prefix = "Bearer ";
  if (header.size() <= k_prefix.size() || header.compare(0, k_prefix.size(), k_prefix) != 0) return {};
  return header.substr(k_prefix.size());
}

std::optional<double> Sandbox::Impl::take_token(const std::string& token, const RuntimeConfig& rc)
{
  if (rc.rate <= 0) return std::nullopt;
  std::lock_guard lock(control_mutex);
  const auto now = TokenBucket::Clock::now();
  auto it = buckets.find(token);
  if (it == buckets.end())
    it = buckets.emplace(token, TokenBucket(rc.rate, rc.burst > 0 ? rc.burst : rc.rate, now)).first;
  return it->second.try_take(now);
}

int Sandbox::Impl::draw_latency()
{
  const RuntimeConfig rc = runtime();
  if (rc.jitter_ms <= 0) return rc.latency_ms;
  std::lock_guard lock(control_mutex);
  std::uniform_int_distribution<int> jitter(-rc.jitter_ms, rc.jitter_ms);
  return std::max(0, rc.latency_ms + jitter(latency_rng));
}

std::string Sandbox::Impl::roll_fault(const Request& request, const std::vector<std::string>& parts,
                                      const RuntimeConfig& rc)
{
  const std::string& method = request.method;
  if (!rc.fault_route.empty()) {
    // "POST /devices/command": the method, and the path below /applications/{id}.
    std::string route = method + " ";
    for (std::size_t i = 2; i < parts.size(); ++i) route += "/" + parts[i];
    if (route != rc.fault_route) return {};
  }
  std::lock_guard lock(control_mutex);
  std::uniform_real_distribution<double> dice(0, 1);
  // Always roll all three dice so a seed gives the same sequence whatever
  // the probabilities are.
  const double drop_before = dice(fault_rng);
  const double error = dice(fault_rng);
  const double drop_after = dice(fault_rng);
  std::string fault;
  if (drop_before < rc.fault_drop_before)
    fault = "drop_before";
  else if (error < rc.fault_5xx)
    fault = "5xx";
  else if (is_mutation(method) && drop_after < rc.fault_drop_after)
    fault = "drop_after";
  if (!fault.empty()) {
    std::lock_guard stats_lock(stats_mutex);
    ++totals["fault_" + fault];
  }
  return fault;
}

void Sandbox::Impl::log_request(const Request& request, const Response& response, const std::string& fault, double ms)
{
  if (!request_log.is_open()) return;
  json line = {{"time", losant::format_iso8601_ms(losant::now_epoch_ms())},
               {"method", request.method},
               {"path", request.path},
               {"status", response.disposition == Response::Disposition::drop ? json(nullptr) : json(response.status)},
               {"ms", std::round(ms * 10) / 10}};
  json query = json::object();
  for (const auto& [key, value] : request.query) query[key] = value;
  if (!query.empty()) line["query"] = std::move(query);
  if (!fault.empty()) line["fault"] = fault;
  if (!request.user_agent.empty()) line["agent"] = request.user_agent;
  if (config.log_bodies && !request.body.empty()) {
    line["body"] = json::parse(request.body, nullptr, false);
  }
  // The token never reaches the log: only whether one was presented.
  line["auth"] = request.authorization.empty() ? "none" : "bearer (redacted)";
  std::lock_guard lock(log_mutex);
  request_log << line.dump() << '\n';
  request_log.flush();
}

Response Sandbox::Impl::route_api(const Request& request, const std::vector<std::string>& parts,
                                  const RuntimeConfig& rc)
{
  const std::string& method = request.method;
  const std::size_t n = parts.size();
  if (n >= 3 && parts[2] == "devices") {
    if (n == 3 && method == "GET") return get_devices(request);
    if (n == 3 && method == "POST") return create_device(request);
    if (n == 3 && method == "PATCH") return bulk(request, "patch", rc);
    if (n == 4 && method == "POST" && parts[3] == "delete") return bulk(request, "delete", rc);
    if (n == 4 && method == "POST" && parts[3] == "restore") return bulk(request, "restore", rc);
    if (n == 4 && method == "POST" && parts[3] == "removeData") return bulk(request, "removeData", rc);
    if (n == 4 && method == "POST" && parts[3] == "command") return bulk(request, "command", rc);
    if (n == 4 && method == "POST" && parts[3] == "export") return bulk(request, "export", rc);
    if (n == 4 && method == "GET") return get_device(parts[3]);
    if (n == 4 && method == "PATCH") return patch_device(parts[3], request);
    if (n == 4 && method == "DELETE") return delete_device(parts[3]);
    if (n == 5 && parts[4] == "command" && method == "GET") return get_commands(parts[3], request);
    if (n == 5 && parts[4] == "command" && method == "POST") return post_command(parts[3], request);
  }
  if (n >= 3 && parts[2] == "jobLogs" && method == "GET") {
    if (n == 3) return list_job_logs(request);
    if (n == 4) return get_job_log(parts[3], rc);
  }
  return error_response(404, "NotFound", "No such resource: " + method + " " + request.path);
}

std::optional<json> Sandbox::Impl::parse_body(const Request& request, Response& error)
{
  if (request.body.empty()) return json::object();
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded()) {
    error = validation_error("request body is not valid JSON");
    return std::nullopt;
  }
  return body;
}

bool Sandbox::Impl::validate(const std::string& schema, const json& body, Response& error, const std::string& prefix)
{
  const auto violations = losant::validate_against(schema, body);
  if (violations.empty()) return true;
  error = validation_error(first_violations(violations, prefix));
  return false;
}

Sandbox::Sandbox(SandboxConfig config)
{
  config.application_id = losant::normalize_object_id(config.application_id);
  m_impl = std::make_unique<Impl>(std::move(config));
}

Sandbox::~Sandbox() = default;

void Sandbox::seed(const SeedOptions& options)
{
  std::unique_lock lock(m_impl->store_mutex);
  m_impl->store.seed(options);
}

void Sandbox::load_export(const json& document)
{
  std::unique_lock lock(m_impl->store_mutex);
  m_impl->store.load_export(document);
}

std::size_t Sandbox::device_count() const
{
  std::shared_lock lock(m_impl->store_mutex);
  return m_impl->store.size();
}

void Sandbox::set_base_url(std::string base_url)
{
  m_impl->base_url = std::move(base_url);
}

const SandboxConfig& Sandbox::config() const
{
  return m_impl->config;
}

Response Sandbox::serve(const Request& request)
{
  return m_impl->serve(request);
}

json unflatten_parameters(const std::vector<std::pair<std::string, std::string>>& parameters)
{
  json out = json::object();
  for (const auto& [key, value] : parameters) {
    // Split `a[0][b]` into a, 0, b.
    std::vector<std::string> segments;
    const auto bracket = key.find('[');
    segments.push_back(key.substr(0, bracket));
    for (std::size_t pos = bracket; pos != std::string::npos && pos < key.size();) {
      const auto close = key.find(']', pos);
      if (close == std::string::npos) break;
      segments.push_back(key.substr(pos + 1, close - pos - 1));
      pos = key.find('[', close);
    }
    json* node = &out;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const std::string& segment = segments[i];
      const bool last = i + 1 == segments.size();
      const bool numeric = !segment.empty() && std::all_of(segment.begin(), segment.end(), ::isdigit);
      if (numeric && (node->is_null() || node->is_array())) {
        if (node->is_null()) *node = json::array();
        const auto index = std::stoul(segment);
        while (node->size() <= index) node->push_back(nullptr);
        node = &(*node)[index];
      } else if (segment.empty() && (node->is_null() || node->is_array())) {
        if (node->is_null()) *node = json::array();
        node->push_back(nullptr);
        node = &node->back();
      } else {
        if (!node->is_object()) *node = json::object();
        node = &(*node)[segment];
      }
      if (last) *node = value;
    }
  }
  return out;
}

} // namespace fleetrun::sandbox
