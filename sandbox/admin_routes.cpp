// The admin view (/_sandbox/...): health, devices with their history, request
// stats, runtime config, jobs and exports. No token needed.
#include "sandbox/service.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace fleetrun::sandbox {

namespace {

// One runtime setting as POST /_sandbox/config names it.
struct ConfigKey {
  const char* name;
  std::function<bool(RuntimeConfig&, const json&)> set; // false: the value has the wrong type
  std::function<json(const RuntimeConfig&)> get;
};

template <class T> ConfigKey config_key(const char* name, T RuntimeConfig::*member)
{
  return {name,
          [member](RuntimeConfig& config, const json& value) {
            if constexpr (std::is_same_v<T, std::string>) {
              if (!value.is_string()) return false;
            } else if constexpr (std::is_same_v<T, bool>) {
              if (!value.is_boolean()) return false;
            } else if constexpr (std::is_integral_v<T>) {
              if (!value.is_number_integer() || (std::is_unsigned_v<T> && value.get<std::int64_t>() < 0)) return false;
            } else {
              if (!value.is_number()) return false;
            }
            config.*member = value.get<T>();
            return true;
          },
          [member](const RuntimeConfig& config) { return json(config.*member); }};
}

const std::vector<ConfigKey> k_config_keys = {
    config_key("rate", &RuntimeConfig::rate),
    config_key("burst", &RuntimeConfig::burst),
    config_key("retryAfter", &RuntimeConfig::retry_after),
    config_key("fault5xx", &RuntimeConfig::fault_5xx),
    config_key("faultDropBefore", &RuntimeConfig::fault_drop_before),
    config_key("faultDropAfter", &RuntimeConfig::fault_drop_after),
    config_key("faultRoute", &RuntimeConfig::fault_route),
    config_key("latencyMs", &RuntimeConfig::latency_ms),
    config_key("jitterMs", &RuntimeConfig::jitter_ms),
    config_key("jobThreshold", &RuntimeConfig::job_threshold),
    config_key("jobDurationMs", &RuntimeConfig::job_duration_ms),
    config_key("jobErrorRate", &RuntimeConfig::job_error_rate),
    config_key("jobFailRate", &RuntimeConfig::job_fail_rate),
    config_key("joblogByJobId", &RuntimeConfig::joblog_by_job_id),
    config_key("jobLogsVisible", &RuntimeConfig::job_logs_visible),
};

const ConfigKey* find_config_key(const std::string& name)
{
  for (const auto& entry : k_config_keys) {
    if (name == entry.name) return &entry;
  }
  return nullptr;
}

} // namespace

Response Sandbox::Impl::admin(const Request& request, const std::vector<std::string>& parts)
{
  const std::string what = parts.size() > 1 ? parts[1] : "";
  if (what == "health") {
    std::shared_lock lock(store_mutex);
    return json_response(200, json{{"ok", true}, {"devices", store.size()}, {"applicationId", config.application_id}});
  }
  if (what == "devices" && request.method == "GET") {
    const json params = unflatten_parameters(request.query);
    const std::string deleted = params.value("deleted", "include");
    std::shared_lock lock(store_mutex);
    json out = json::array();
    for (const auto& device : store.devices()) {
      const bool is_deleted = device.deleted_at_ms.has_value();
      if ((deleted == "exclude" && is_deleted) || (deleted == "only" && !is_deleted)) continue;
      out.push_back(to_admin_json(device, config.application_id));
    }
    return json_response(200, out);
  }
  if (what == "stats" && request.method == "GET") {
    std::lock_guard lock(stats_mutex);
    return json_response(200, json{{"requests", counters}, {"totals", totals}});
  }
  if (what == "stats" && request.method == "DELETE") {
    std::lock_guard lock(stats_mutex);
    counters.clear();
    totals.clear();
    return json_response(200, json{{"success", true}});
  }
  if (what == "config") {
    std::lock_guard lock(control_mutex);
    if (request.method == "POST") {
      const json body = json::parse(request.body, nullptr, false);
      if (!body.is_object()) return validation_error("config must be a JSON object");
      // All or nothing: every field is checked before any is changed.
      RuntimeConfig changed = config.runtime;
      for (const auto& [key, value] : body.items()) {
        const auto* entry = find_config_key(key);
        if (entry == nullptr) return validation_error("unknown config field \"" + key + "\"");
        if (!entry->set(changed, value)) return validation_error("config field \"" + key + "\" has the wrong type");
      }
      config.runtime = changed;
      buckets.clear(); // a new rate starts with full buckets
    }
    json out = json::object();
    for (const auto& entry : k_config_keys) out[entry.name] = entry.get(config.runtime);
    return json_response(200, out);
  }
  if (what == "validate" && parts.size() == 3 && request.method == "POST") {
    // The sandbox's own schema verdict, so tests can compare it with ajv's.
    const json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) return validation_error("body is not JSON");
    std::vector<losant::SchemaViolation> violations;
    try {
      violations = losant::validate_against(parts[2], body);
    } catch (const std::out_of_range&) {
      return error_response(404, "NotFound", "no official schema named " + parts[2]);
    }
    json messages = json::array();
    for (const auto& v : violations) messages.push_back(losant::describe(v));
    return json_response(200, json{{"valid", violations.empty()}, {"violations", messages}});
  }
  if (what == "jobs") {
    std::lock_guard lock(job_mutex);
    json out = json::array();
    for (const auto& [id, log] : job_logs) out.push_back(job_log_json(log));
    return json_response(200, out);
  }
  if (what == "exports" && parts.size() == 3) {
    std::shared_lock lock(store_mutex);
    const auto it = exports.find(parts[2]);
    if (it == exports.end()) return error_response(404, "NotFound", "No such export");
    Response response;
    response.body = it->second;
    response.content_type = parts[2].ends_with(".json") ? "application/json" : "text/csv";
    return response;
  }
  return error_response(404, "NotFound", "No such sandbox admin resource: " + request.path);
}

} // namespace fleetrun::sandbox
