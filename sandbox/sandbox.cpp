#include "sandbox/sandbox.hpp"

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

using nlohmann::json;

namespace {

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

// A job log as `GET /jobLogs/{id}` serves it, plus what the worker needs.
struct JobLog {
  std::string id;
  std::string job_id;
  std::string name;
  std::string status = "queued";
  std::size_t completed = 0;
  std::size_t total = 0;
  std::int64_t queued_ms = 0;
  std::int64_t started_ms = 0;
  std::int64_t completed_ms = 0;
  json error;
  json output = json::object();
  json input = json::object();
};

// The work behind a job: the devices matched when it was requested and what
// to do to each. `apply` returns the output counter to bump.
struct JobWork {
  std::string log_id;
  std::vector<std::string> device_ids;
  std::function<std::string(Device&)> apply;
  std::function<void(JobLog&)> finish; // fills in output beyond the counters
  std::vector<std::string> counters;
};

struct CachedSelection {
  std::string key;
  std::uint64_t generation;
  std::shared_ptr<const std::vector<std::uint32_t>> indices;
};

} // namespace

struct Sandbox::Impl {
  explicit Impl(SandboxConfig cfg) : config(std::move(cfg)), fault_rng(config.fault_seed)
  {
    if (!config.request_log_path.empty()) {
      request_log.open(config.request_log_path, std::ios::app);
    }
    worker = std::thread([this] { run_jobs(); });
  }

  ~Impl()
  {
    {
      std::lock_guard lock(job_mutex);
      stopping = true;
    }
    job_cv.notify_all();
    worker.join();
  }

  SandboxConfig config;
  std::string base_url = "http://127.0.0.1";

  // The fleet and everything that changes with it.
  mutable std::shared_mutex store_mutex;
  DeviceStore store;
  std::map<std::string, std::string> exports; // id -> document text
  std::deque<std::string> export_order;

  // Config that changes at run time, rate buckets and fault dice.
  std::mutex control_mutex;
  std::map<std::string, TokenBucket> buckets;
  std::mt19937_64 fault_rng;

  // Counters for the admin view.
  std::mutex stats_mutex;
  std::map<std::string, std::uint64_t> counters;
  std::map<std::string, std::uint64_t> totals;

  std::mutex log_mutex;
  std::ofstream request_log;

  // Query results by (query, sort, scope), valid for one store generation.
  std::mutex cache_mutex;
  std::list<CachedSelection> cache;

  // Devices' list documents (without and with connection info), by index.
  struct RenderedDevices {
    std::uint64_t generation = ~std::uint64_t{0};
    std::vector<std::string> texts;
  };
  std::mutex rendered_mutex;
  std::array<RenderedDevices, 2> rendered_cache;

  // Jobs and the worker that runs them.
  std::mutex job_mutex;
  std::condition_variable job_cv;
  std::map<std::string, JobLog> job_logs;
  std::deque<JobWork> job_queue;
  std::uint64_t job_counter = 0;
  bool stopping = false;
  std::thread worker;

  RuntimeConfig runtime()
  {
    std::lock_guard lock(control_mutex);
    return config.runtime;
  }

  void count(const std::string& key, const std::string& total)
  {
    std::lock_guard lock(stats_mutex);
    ++counters[key];
    ++totals[total];
  }

  void count_total(const std::string& total)
  {
    std::lock_guard lock(stats_mutex);
    ++totals[total];
  }

  // ---- the request pipeline ----------------------------------------------

  Response serve(const Request& request)
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
    }
    const auto elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    const std::string status =
        response.disposition == Response::Disposition::drop ? "dropped" : std::to_string(response.status);
    count(request.method + " " + route + " " + status, "requests");
    log_request(request, response, fault, elapsed_ms + response.latency_ms);
    return response;
  }

  static std::string route_template(const std::vector<std::string>& parts)
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

  Response api(const Request& request, const std::vector<std::string>& parts, std::string& fault)
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
      limited.headers.emplace_back("Retry-After", std::to_string(static_cast<long>(std::ceil(*wait))));
      limited.headers.emplace_back("X-Sandbox-Retry-After-Ms",
                                   std::to_string(static_cast<long>(std::ceil(*wait * 1000))));
      count("rate limited", "rateLimited");
      return limited;
    }
    fault = roll_fault(request.method, rc);
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

  static std::string bearer_token(const std::string& header)
  {
    static const std::string k_prefix = "Bearer ";
    if (header.size() <= k_prefix.size() || header.compare(0, k_prefix.size(), k_prefix) != 0) return {};
    return header.substr(k_prefix.size());
  }

  std::optional<double> take_token(const std::string& token, const RuntimeConfig& rc)
  {
    if (rc.rate <= 0) return std::nullopt;
    std::lock_guard lock(control_mutex);
    const auto now = TokenBucket::Clock::now();
    auto it = buckets.find(token);
    if (it == buckets.end())
      it = buckets.emplace(token, TokenBucket(rc.rate, rc.burst > 0 ? rc.burst : rc.rate, now)).first;
    return it->second.try_take(now);
  }

  std::string roll_fault(const std::string& method, const RuntimeConfig& rc)
  {
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

  void log_request(const Request& request, const Response& response, const std::string& fault, double ms)
  {
    if (!request_log.is_open()) return;
    json line = {
        {"time", losant::format_iso8601_ms(losant::now_epoch_ms())},
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

  // ---- API routes ----------------------------------------------------------

  Response route_api(const Request& request, const std::vector<std::string>& parts, const RuntimeConfig& rc)
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

  static std::optional<json> parse_body(const Request& request, Response& error)
  {
    if (request.body.empty()) return json::object();
    json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) {
      error = validation_error("request body is not valid JSON");
      return std::nullopt;
    }
    return body;
  }

  static bool validate(const std::string& schema, const json& body, Response& error, const std::string& prefix = "")
  {
    const auto violations = losant::validate_against(schema, body);
    if (violations.empty()) return true;
    error = validation_error(first_violations(violations, prefix));
    return false;
  }

  // ---- GET /devices ----------------------------------------------------------

  Response get_devices(const Request& request)
  {
    const json params = unflatten_parameters(request.query);
    const auto text_param = [&](const char* key, const std::string& fallback) {
      const auto it = params.find(key);
      return it != params.end() && it->is_string() && !it->get<std::string>().empty() ? it->get<std::string>()
                                                                                      : fallback;
    };
    const std::string sort_field = text_param("sortField", "name");
    std::string sort_direction = text_param("sortDirection", "asc");
    std::transform(sort_direction.begin(), sort_direction.end(), sort_direction.begin(),
                   [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    if (sort_field != "name" && sort_field != "id" && sort_field != "creationDate" && sort_field != "lastUpdated") {
      return validation_error("sortField must be one of name, id, creationDate, lastUpdated");
    }
    if (sort_direction != "asc" && sort_direction != "desc")
      return validation_error("sortDirection must be asc or desc");
    long page = 0;
    long per_page = 100;
    try {
      page = std::stol(text_param("page", "0"));
      per_page = std::stol(text_param("perPage", "100"));
    } catch (const std::exception&) {
      return validation_error("page and perPage must be whole numbers");
    }
    if (page < 0) return validation_error("page must be 0 or more");
    if (per_page < 1 || per_page > 1000) return validation_error("perPage must be between 1 and 1000");
    const bool query_deleted = text_param("queryDeleted", "false") == "true";
    const bool exclude_connection = text_param("excludeConnectionInfo", "false") == "true";

    std::string cache_key;
    std::optional<std::string> after_id; // an id cursor: only devices after this id
    std::optional<DeviceQuery> query;
    json echoed_query;
    if (auto q = params.find("query"); q != params.end() && q->is_string() && !q->get<std::string>().empty()) {
      echoed_query = json::parse(q->get<std::string>(), nullptr, false);
      if (echoed_query.is_discarded()) return validation_error("query must be JSON text");
      Response error;
      if (!validate("advancedDeviceQuery", echoed_query, error, "query")) return error;
      auto compiled = DeviceQuery::compile(echoed_query);
      if (!compiled) return validation_error("query." + compiled.error());
      query = std::move(*compiled);
      cache_key = "q:" + echoed_query.dump();
      // An id cursor over a query ({"$and": [q, {"id": {"$gt": id}}]} sorted
      // by id) selects the suffix of q's selection after that id: select q
      // once and cache it, then binary-search each page's start. The answer
      // is the one matching the whole query would give.
      if (sort_field == "id" && sort_direction == "asc") {
        if (auto cursor = id_cursor(echoed_query)) {
          auto base = DeviceQuery::compile(echoed_query["$and"][0]);
          if (base) {
            query = std::move(*base);
            cache_key = "q:" + echoed_query["$and"][0].dump();
            after_id = std::move(*cursor);
          }
        }
      }
    } else {
      SimpleFilters filters;
      filters.filter_field = text_param("filterField", "");
      filters.filter = text_param("filter", "");
      if (!filters.filter.empty() && !filters.filter_field.empty() && filters.filter_field != "name") {
        return validation_error("filterField must be name");
      }
      if (auto dc = params.find("deviceClass"); dc != params.end()) {
        if (dc->is_string()) filters.device_classes.push_back(dc->get<std::string>());
        if (dc->is_array())
          for (const auto& c : *dc) filters.device_classes.push_back(c.get<std::string>());
        Response error;
        if (!validate("deviceClassFilter", *dc, error, "deviceClass")) return error;
      }
      if (auto tf = params.find("tagFilter"); tf != params.end()) {
        Response error;
        if (!validate("deviceTagFilter", *tf, error, "tagFilter")) return error;
        for (const auto& pair : *tf) filters.tag_filter.emplace_back(pair.value("key", ""), pair.value("value", ""));
      }
      if (auto parent = params.find("parentId"); parent != params.end() && parent->is_string()) {
        if (!losant::is_object_id(parent->get<std::string>()))
          return validation_error("parentId must be a 24-character hexadecimal id");
        filters.parent_id = parent->get<std::string>();
      }
      query = DeviceQuery::from_filters(filters);
      // Only what selects devices belongs in the key: not page, perPage or the envelope flags.
      json selecting = json::object();
      for (const char* key : {"filterField", "filter", "deviceClass", "tagFilter", "parentId"}) {
        if (params.contains(key)) selecting[key] = params[key];
      }
      cache_key = "f:" + selecting.dump();
    }
    cache_key += "|" + sort_field + "|" + sort_direction + "|" + (query_deleted ? "deleted" : "live");

    std::shared_lock lock(store_mutex);
    const auto indices = selection(cache_key, *query, query_deleted ? DeletedScope::deleted : DeletedScope::live,
                                   sort_field, sort_direction == "desc");
    const auto& devices = store.devices();
    std::size_t first = 0; // where the query's selection starts in `indices`
    if (after_id) {
      first = static_cast<std::size_t>(
          std::upper_bound(indices->begin(), indices->end(), *after_id,
                           [&](const std::string& id, std::uint32_t index) { return id < devices[index].id; }) -
          indices->begin());
    }
    const std::size_t total = indices->size() - first;
    const std::size_t begin = first + static_cast<std::size_t>(page) * static_cast<std::size_t>(per_page);
    const std::size_t end = std::min(indices->size(), begin + static_cast<std::size_t>(per_page));
    json envelope = {{"totalCount", total},
                     {"perPage", per_page},
                     {"page", page},
                     {"sortField", sort_field},
                     {"sortDirection", sort_direction},
                     {"applicationId", config.application_id},
                     {"count", end > begin ? end - begin : 0}};
    if (!echoed_query.is_null()) envelope["query"] = echoed_query;
    // The envelope's members, then the items: each device's document is
    // rendered once per store generation and reused by later pages.
    Response response;
    response.body = envelope.dump();
    response.body.reserve(response.body.size() + (end > begin ? end - begin : 0) * 1024);
    response.body.pop_back();
    response.body += ",\"items\":[";
    for (std::size_t i = begin; i < end; ++i) {
      if (i > begin) response.body += ',';
      append_rendered(response.body, (*indices)[i], !exclude_connection);
    }
    response.body += "]}";
    return response;
  }

  // The JSON text of a device as lists show it, cached until the store
  // changes. Requires store_mutex held (shared is enough).
  void append_rendered(std::string& out, std::uint32_t index, bool with_connection)
  {
    auto& cache = rendered_cache[with_connection ? 1 : 0];
    std::lock_guard lock(rendered_mutex);
    if (cache.generation != store.generation() || cache.texts.size() != store.size()) {
      cache.texts.assign(store.size(), std::string());
      cache.generation = store.generation();
    }
    std::string& text = cache.texts[index];
    if (text.empty()) {
      text.reserve(1024);
      append_api_json(text, store.devices()[index], config.application_id, with_connection);
      text.shrink_to_fit();
    }
    out += text;
  }

  // {"$and": [q, {"id": {"$gt": "<object id>"}}]}: the id after which a
  // cursor page starts, or nothing for any other query.
  static std::optional<std::string> id_cursor(const json& query)
  {
    if (!query.is_object() || query.size() != 1 || !query.contains("$and")) return std::nullopt;
    const json& terms = query["$and"];
    if (!terms.is_array() || terms.size() != 2 || !terms[1].is_object() || terms[1].size() != 1) return std::nullopt;
    const auto id = terms[1].find("id");
    if (id == terms[1].end() || !id->is_object() || id->size() != 1) return std::nullopt;
    const auto gt = id->find("$gt");
    if (gt == id->end() || !gt->is_string()) return std::nullopt;
    const std::string value = gt->get<std::string>();
    // Ids are lowercase hex; then "greater than" is plain text order.
    if (!losant::is_object_id(value) ||
        std::any_of(value.begin(), value.end(), [](char c) { return c >= 'A' && c <= 'F'; }))
      return std::nullopt;
    return value;
  }

  // Requires store_mutex held (shared is enough).
  std::shared_ptr<const std::vector<std::uint32_t>> selection(const std::string& key, const DeviceQuery& query,
                                                              DeletedScope scope, const std::string& sort_field,
                                                              bool descending)
  {
    const std::uint64_t generation = store.generation();
    {
      std::lock_guard lock(cache_mutex);
      for (auto it = cache.begin(); it != cache.end(); ++it) {
        if (it->key == key && it->generation == generation) {
          count_total("queryCacheHits");
          cache.splice(cache.begin(), cache, it);
          return cache.front().indices;
        }
      }
    }
    count_total("queryCacheMisses");
    auto indices = store.select(query, scope);
    const auto& devices = store.devices();
    // Ties break on id, so paging through a fixed set is stable.
    const auto by = [&](auto key_of) {
      std::stable_sort(indices.begin(), indices.end(), [&](std::uint32_t a, std::uint32_t b) {
        const auto& ka = key_of(devices[a]);
        const auto& kb = key_of(devices[b]);
        if (ka == kb) return descending ? devices[a].id > devices[b].id : devices[a].id < devices[b].id;
        return descending ? kb < ka : ka < kb;
      });
    };
    if (sort_field == "name") {
      // Sort (name, index) pairs side by side rather than chasing each
      // device: a million names sort several times faster this way.
      std::vector<std::pair<std::string_view, std::uint32_t>> keyed;
      keyed.reserve(indices.size());
      for (const auto index : indices) keyed.emplace_back(devices[index].name, index);
      std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
        if (a.first == b.first) {
          return descending ? devices[a.second].id > devices[b.second].id : devices[a.second].id < devices[b.second].id;
        }
        return descending ? b.first < a.first : a.first < b.first;
      });
      for (std::size_t i = 0; i < keyed.size(); ++i) indices[i] = keyed[i].second;
    } else if (sort_field == "creationDate") {
      by([](const Device& d) { return d.creation_ms; });
    } else if (sort_field == "lastUpdated") {
      by([](const Device& d) { return d.last_updated_ms; });
    } else if (descending) {
      std::reverse(indices.begin(), indices.end());
    }
    auto shared = std::make_shared<const std::vector<std::uint32_t>>(std::move(indices));
    std::lock_guard lock(cache_mutex);
    cache.push_front({key, generation, shared});
    if (cache.size() > 8) cache.pop_back();
    return shared;
  }

  // ---- single device ---------------------------------------------------------

  Response create_device(const Request& request)
  {
    Response error;
    auto body = parse_body(request, error);
    if (!body) return error;
    if (!validate("devicePost", *body, error)) return error;
    std::unique_lock lock(store_mutex);
    Device device;
    apply_device_fields(device, *body);
    device.creation_ms = device.last_updated_ms = losant::now_epoch_ms();
    const Device& added = store.add(std::move(device));
    return json_response(201, to_api_json(added, config.application_id));
  }

  Response get_device(const std::string& id)
  {
    std::shared_lock lock(store_mutex);
    const Device* device = live_device(id);
    if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
    return json_response(200, to_api_json(*device, config.application_id));
  }

  const Device* live_device(const std::string& id) const
  {
    if (!losant::is_object_id(id)) return nullptr;
    const Device* device = store.find(id);
    return device == nullptr || device->deleted_at_ms ? nullptr : device;
  }

  Response patch_device(const std::string& id, const Request& request)
  {
    Response error;
    auto body = parse_body(request, error);
    if (!body) return error;
    if (!validate("devicePatch", *body, error)) return error;
    std::unique_lock lock(store_mutex);
    Device* device = const_cast<Device*>(live_device(id));
    if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
    apply_patch(*device, json{{"updateFields", *body}}, losant::now_epoch_ms());
    store.touch();
    return json_response(200, to_api_json(*device, config.application_id));
  }

  Response delete_device(const std::string& id)
  {
    std::unique_lock lock(store_mutex);
    Device* device = const_cast<Device*>(live_device(id));
    if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
    apply_delete(*device, losant::now_epoch_ms());
    store.touch();
    return json_response(200, json{{"success", true}});
  }

  Response get_commands(const std::string& id, const Request& request)
  {
    const json params = unflatten_parameters(request.query);
    const auto number = [&](const char* key, std::int64_t fallback) -> std::int64_t {
      const auto it = params.find(key);
      if (it == params.end() || !it->is_string() || it->get<std::string>().empty()) return fallback;
      return std::stoll(it->get<std::string>());
    };
    std::int64_t limit = 1, start = 0, end = 0;
    try {
      limit = number("limit", 1);
      start = number("start", 0);
      end = number("end", 0);
    } catch (const std::exception&) {
      return validation_error("limit, start and end must be whole numbers");
    }
    const std::int64_t now = losant::now_epoch_ms();
    if (end <= 0) end = now + end;
    if (start < 0) start = now + start;
    const bool ascending = params.value("sortDirection", "desc") == "asc";
    std::shared_lock lock(store_mutex);
    const Device* device = live_device(id);
    if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
    std::vector<const Command*> found;
    for (const auto& command : device->commands) {
      if (command.time_ms >= start && command.time_ms <= end) found.push_back(&command);
    }
    std::stable_sort(found.begin(), found.end(), [&](const Command* a, const Command* b) {
      return ascending ? a->time_ms < b->time_ms : a->time_ms > b->time_ms;
    });
    json out = json::array();
    for (std::size_t i = 0; i < found.size() && static_cast<std::int64_t>(i) < limit; ++i) {
      json entry = {{"name", found[i]->name}, {"time", losant::format_iso8601_ms(found[i]->time_ms)}};
      if (!found[i]->payload_json.empty()) entry["payload"] = json::parse(found[i]->payload_json);
      out.push_back(std::move(entry));
    }
    return json_response(200, out);
  }

  Response post_command(const std::string& id, const Request& request)
  {
    Response error;
    auto body = parse_body(request, error);
    if (!body) return error;
    if (!validate("deviceCommand", *body, error)) return error;
    std::unique_lock lock(store_mutex);
    Device* device = const_cast<Device*>(live_device(id));
    if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
    device->commands.push_back(make_command(*body));
    return json_response(200, json{{"success", true}});
  }

  static Command make_command(const json& body)
  {
    Command command;
    command.name = body.at("name").get<std::string>();
    command.time_ms = losant::now_epoch_ms();
    if (auto time = body.find("time"); time != body.end())
      command.time_ms = command_time_ms(*time).value_or(command.time_ms);
    if (auto payload = body.find("payload"); payload != body.end()) command.payload_json = payload->dump();
    return command;
  }

  // ---- bulk actions ------------------------------------------------------------

  struct BulkPlan {
    std::string job_name;
    std::vector<std::string> counters;
    std::function<std::string(Device&)> apply;
    std::function<void(JobLog&)> finish;
    std::function<json(const std::map<std::string, std::size_t>&)> sync_body;
  };

  Response bulk(const Request& request, const std::string& action, const RuntimeConfig& rc)
  {
    Response error;
    auto parsed = parse_body(request, error);
    if (!parsed) return error;
    json body = std::move(*parsed);
    static const std::map<std::string, std::string> k_schemas = {{"patch", "devicesPatch"},
                                                                 {"delete", "devicesDeleteOrRestorePost"},
                                                                 {"restore", "devicesDeleteOrRestorePost"},
                                                                 {"removeData", "devicesRemoveDataPost"},
                                                                 {"command", "multiDeviceCommand"},
                                                                 {"export", "devicesExportPost"}};
    if (!validate(k_schemas.at(action), body, error)) return error;
    if (action == "export") {
      // The email and callback may also come as query parameters.
      for (const auto& [key, value] : request.query) {
        if ((key == "email" || key == "callbackUrl") && !body.contains(key)) body[key] = value;
      }
    }

    // Which devices: ids, tags or a query, as each action allows.
    std::vector<std::string> targets;
    std::size_t unknown_ids = 0;
    std::unique_lock lock(store_mutex);
    const DeletedScope scope = action == "restore" ? DeletedScope::deleted : DeletedScope::live;
    if (action == "patch" && !body.contains("updateFields") && !body.contains("updateOperations")) {
      return validation_error("updateFields or updateOperations is required");
    }
    const bool has_ids = body.contains("deviceIds");
    const bool has_tags = action == "command" && body.contains("deviceTags");
    const char* query_key = action == "command" ? "deviceQuery" : "query";
    const bool has_query = body.contains(query_key);
    if ((action == "patch" || action == "command") && !has_ids && !has_query && !has_tags) {
      return validation_error(action == "patch" ? "deviceIds or query is required"
                                                : "deviceIds, deviceTags or deviceQuery is required");
    }
    std::set<std::string> chosen;
    if (has_ids) {
      for (const auto& id : body["deviceIds"]) {
        const Device* device = live_device(id.get<std::string>());
        if (device == nullptr)
          ++unknown_ids;
        else
          chosen.insert(device->id);
      }
    }
    if (has_tags) {
      SimpleFilters filters;
      for (const auto& pair : body["deviceTags"])
        filters.tag_filter.emplace_back(pair.value("key", ""), pair.value("value", ""));
      for (auto index : store.select(DeviceQuery::from_filters(filters), DeletedScope::live))
        chosen.insert(store.devices()[index].id);
    }
    if (has_query || action == "export") {
      auto compiled = has_query ? DeviceQuery::compile(body[query_key]) : DeviceQuery::match_all();
      if (!compiled) return validation_error(std::string(query_key) + "." + compiled.error());
      for (auto index : store.select(*compiled, scope)) chosen.insert(store.devices()[index].id);
    }
    targets.assign(chosen.begin(), chosen.end());

    BulkPlan plan = plan_for(action, body);
    const bool force_job = body.value("forceJob", false);
    if (force_job || targets.size() > rc.job_threshold) {
      const std::string job_id = enqueue(plan, std::move(targets), body, rc);
      return json_response(202, json{{"jobQueued", true}, {"jobId", job_id}, {"success", true}});
    }
    std::map<std::string, std::size_t> counts;
    for (const auto& counter : plan.counters) counts[counter] = 0;
    if (action == "patch") counts["failed"] += unknown_ids;
    for (const auto& id : targets) ++counts[plan.apply(*store.find(id))];
    store.touch();
    return json_response(200, plan.sync_body(counts));
  }

  BulkPlan plan_for(const std::string& action, const json& body)
  {
    BulkPlan plan;
    const std::int64_t now = losant::now_epoch_ms();
    const auto counts_body = [](const std::map<std::string, std::size_t>& counts) {
      json out = json::object();
      for (const auto& [key, value] : counts) out[key] = value;
      return out;
    };
    plan.sync_body = counts_body;
    if (action == "patch") {
      plan.job_name = "Device Bulk Update";
      plan.counters = {"updated", "failed", "skipped"};
      plan.apply = [body, now](Device& d) {
        switch (apply_patch(d, body, now)) {
        case PatchOutcome::updated: return std::string("updated");
        case PatchOutcome::skipped: return std::string("skipped");
        case PatchOutcome::failed: break;
        }
        return std::string("failed");
      };
    } else if (action == "delete") {
      plan.job_name = "Device Bulk Delete";
      plan.counters = {"removed", "failed"};
      plan.apply = [now](Device& d) { return apply_delete(d, now) ? std::string("removed") : std::string("failed"); };
    } else if (action == "restore") {
      plan.job_name = "Device Bulk Restore";
      plan.counters = {"restored", "failed"};
      plan.apply = [](Device& d) { return apply_restore(d) ? std::string("restored") : std::string("failed"); };
    } else if (action == "removeData") {
      plan.job_name = "Device Data Removal";
      plan.counters = {"completed", "notApplicable"};
      const RemoveDataSpec spec = remove_data_spec(body, now);
      plan.apply = [spec](Device& d) {
        return apply_remove_data(d, spec) ? std::string("completed") : std::string("notApplicable");
      };
    } else if (action == "command") {
      plan.job_name = "Device Bulk Command";
      plan.counters = {"sent"};
      const Command command = make_command(body);
      plan.apply = [command](Device& d) {
        d.commands.push_back(command);
        return std::string("sent");
      };
      plan.sync_body = [](const std::map<std::string, std::size_t>&) { return json{{"success", true}}; };
    } else if (action == "export") {
      plan.job_name = "Device Metadata Export";
      plan.counters = {"exported"};
      const std::string format = body.value("format", "csv");
      auto collected = std::make_shared<std::vector<json>>();
      plan.apply = [this, collected](Device& d) {
        collected->push_back(to_api_json(d, config.application_id));
        return std::string("exported");
      };
      plan.finish = [this, collected, format](JobLog& log) {
        log.output["downloadUrls"] = json::array({store_export(*collected, format)});
      };
      plan.sync_body = [this, collected, format](const std::map<std::string, std::size_t>&) {
        store_export(*collected, format);
        return json{{"success", true}};
      };
    }
    return plan;
  }

  // Requires store_mutex held exclusively.
  std::string store_export(const std::vector<json>& devices, const std::string& format)
  {
    std::string text;
    if (format == "json") {
      text = json(devices).dump();
    } else {
      text = "id,name,deviceClass,tags\n";
      for (const auto& d : devices) {
        std::string tags;
        for (const auto& t : d["tags"])
          tags += (tags.empty() ? "" : ";") + t["key"].get<std::string>() + "=" + t["value"].get<std::string>();
        text += d["id"].get<std::string>() + ",\"" + d["name"].get<std::string>() + "\"," +
                d["deviceClass"].get<std::string>() + ",\"" + tags + "\"\n";
      }
    }
    const std::string id = "export-" + std::to_string(exports.size() + export_order.size() + 1) + "." + format;
    exports[id] = std::move(text);
    export_order.push_back(id);
    if (export_order.size() > 16) {
      exports.erase(export_order.front());
      export_order.pop_front();
    }
    return base_url + "/_sandbox/exports/" + id;
  }

  // ---- jobs ------------------------------------------------------------------

  std::string enqueue(BulkPlan& plan, std::vector<std::string> targets, const json& body, const RuntimeConfig&)
  {
    std::lock_guard lock(job_mutex);
    ++job_counter;
    JobLog log;
    char id[32];
    std::snprintf(id, sizeof id, "%08llx%016llx", 0x6a0b0000ULL, static_cast<unsigned long long>(job_counter));
    log.id = id;
    // The 202's jobId is a shorter token than a job log id, as the API's
    // schema says (at most 21 characters); the job log carries it as jobId.
    std::snprintf(id, sizeof id, "job%017llu", static_cast<unsigned long long>(job_counter));
    log.job_id = id;
    log.name = plan.job_name;
    log.total = targets.size();
    log.queued_ms = losant::now_epoch_ms();
    for (const char* key : {"email", "callbackUrl"}) {
      if (body.contains(key)) log.input[key] = body[key];
    }
    for (const char* key : {"query", "deviceQuery"}) {
      if (body.contains(key)) log.input["query"] = body[key].dump();
    }
    for (const auto& counter : plan.counters) log.output[counter] = 0;
    job_logs[log.id] = log;
    job_queue.push_back({log.id, std::move(targets), plan.apply, plan.finish, plan.counters});
    job_cv.notify_all();
    return log.job_id;
  }

  void run_jobs()
  {
    std::unique_lock lock(job_mutex);
    while (true) {
      job_cv.wait(lock, [&] { return stopping || !job_queue.empty(); });
      if (stopping) return;
      JobWork work = std::move(job_queue.front());
      job_queue.pop_front();
      lock.unlock();
      run_job(work);
      lock.lock();
    }
  }

  bool sleep_unless_stopping(std::chrono::milliseconds duration)
  {
    std::unique_lock lock(job_mutex);
    return !job_cv.wait_for(lock, duration, [&] { return stopping; });
  }

  void run_job(JobWork& work)
  {
    const RuntimeConfig rc = runtime();
    const int steps = 10;
    const auto pause = std::chrono::milliseconds(std::max(1, rc.job_duration_ms / (steps + 1)));
    if (!sleep_unless_stopping(pause)) return;
    double fail_roll = 0, error_roll = 0;
    {
      std::lock_guard lock(control_mutex);
      std::uniform_real_distribution<double> dice(0, 1);
      fail_roll = dice(fault_rng);
      error_roll = dice(fault_rng);
    }
    update_log(work.log_id, [](JobLog& log) {
      log.status = "inProgress";
      log.started_ms = losant::now_epoch_ms();
    });
    if (fail_roll < rc.job_fail_rate) {
      update_log(work.log_id, [](JobLog& log) {
        log.status = "failed";
        log.completed_ms = losant::now_epoch_ms();
        log.error = {{"name", "JobFailed"}, {"message", "Injected fault: the job failed before doing any work"}};
      });
      return;
    }
    const bool errors_midway = error_roll < rc.job_error_rate;
    const std::size_t total = work.device_ids.size();
    const std::size_t stop_at = errors_midway ? total / 2 : total;
    const std::size_t chunk = std::max<std::size_t>(1, (total + steps - 1) / steps);
    std::map<std::string, std::size_t> counts;
    for (const auto& counter : work.counters) counts[counter] = 0;
    for (std::size_t begin = 0; begin < stop_at; begin += chunk) {
      const std::size_t end = std::min(stop_at, begin + chunk);
      {
        std::unique_lock lock(store_mutex);
        for (std::size_t i = begin; i < end; ++i) {
          Device* device = store.find(work.device_ids[i]);
          if (device != nullptr) ++counts[work.apply(*device)];
        }
        store.touch();
      }
      update_log(work.log_id, [&](JobLog& log) {
        log.completed = end;
        for (const auto& [key, value] : counts) log.output[key] = value;
      });
      if (end < stop_at && !sleep_unless_stopping(pause)) return;
    }
    if (!errors_midway && work.finish) {
      std::unique_lock lock(store_mutex);
      std::lock_guard job_lock(job_mutex);
      work.finish(job_logs[work.log_id]);
    }
    update_log(work.log_id, [&](JobLog& log) {
      log.completed_ms = losant::now_epoch_ms();
      if (errors_midway) {
        log.status = "errored";
        log.error = {{"name", "JobErrored"},
                     {"message", "Injected fault: the job stopped after " + std::to_string(stop_at) + " of " +
                                     std::to_string(total) + " devices"}};
      } else {
        log.status = "completed";
      }
    });
  }

  void update_log(const std::string& id, const std::function<void(JobLog&)>& change)
  {
    std::lock_guard lock(job_mutex);
    change(job_logs[id]);
  }

  json job_log_json(const JobLog& log) const
  {
    json out = {{"id", log.id},
                {"jobId", log.job_id},
                {"name", log.name},
                {"applicationId", config.application_id},
                {"status", log.status},
                {"resourceType", "device"},
                {"ownerType", "application"},
                {"ownerId", config.application_id},
                {"requestedByType", "apiToken"},
                {"runQueuedAt", losant::format_iso8601_ms(log.queued_ms)},
                {"progress", {{"completed", log.completed}, {"total", log.total}}},
                {"input", log.input},
                {"output", log.output}};
    if (log.started_ms != 0) out["runStartedAt"] = losant::format_iso8601_ms(log.started_ms);
    if (log.completed_ms != 0) out["runCompletedAt"] = losant::format_iso8601_ms(log.completed_ms);
    if (!log.error.is_null()) out["error"] = log.error;
    return out;
  }

  Response get_job_log(const std::string& id, const RuntimeConfig& rc)
  {
    if (!rc.job_logs_visible) return error_response(404, "NotFound", "Application job log was not found");
    std::lock_guard lock(job_mutex);
    if (auto it = job_logs.find(losant::normalize_object_id(id)); it != job_logs.end()) {
      return json_response(200, job_log_json(it->second));
    }
    if (rc.joblog_by_job_id) {
      for (const auto& [log_id, log] : job_logs) {
        if (log.job_id == id) return json_response(200, job_log_json(log));
      }
    }
    return error_response(404, "NotFound", "Application job log was not found");
  }

  Response list_job_logs(const Request& request)
  {
    const json params = unflatten_parameters(request.query);
    long page = 0, per_page = 100;
    try {
      page = std::stol(params.value("page", "0"));
      per_page = std::stol(params.value("perPage", "100"));
    } catch (const std::exception&) {
      return validation_error("page and perPage must be whole numbers");
    }
    if (page < 0 || per_page < 1 || per_page > 1000) return validation_error("perPage must be between 1 and 1000");
    const std::string status = params.value("status", "");
    const bool ascending = params.value("sortDirection", "desc") == "asc";
    const bool visible = runtime().job_logs_visible;
    std::lock_guard lock(job_mutex);
    std::vector<const JobLog*> logs;
    for (const auto& [id, log] : job_logs) {
      if (visible && (status.empty() || log.status == status)) logs.push_back(&log);
    }
    // Newest first by default; ids grow with time, so they break ties.
    std::sort(logs.begin(), logs.end(),
              [&](const JobLog* a, const JobLog* b) { return ascending ? a->id < b->id : a->id > b->id; });
    json items = json::array();
    const std::size_t begin = static_cast<std::size_t>(page * per_page);
    for (std::size_t i = begin; i < logs.size() && i < begin + static_cast<std::size_t>(per_page); ++i) {
      items.push_back(job_log_json(*logs[i]));
    }
    json body = {
        {"items", items}, {"count", items.size()}, {"totalCount", logs.size()}, {"perPage", per_page}, {"page", page}};
    return json_response(200, body);
  }

  // ---- the admin view ---------------------------------------------------------

  Response admin(const Request& request, const std::vector<std::string>& parts)
  {
    const std::string what = parts.size() > 1 ? parts[1] : "";
    if (what == "health") {
      std::shared_lock lock(store_mutex);
      return json_response(200,
                           json{{"ok", true}, {"devices", store.size()}, {"applicationId", config.application_id}});
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
        auto& rc = config.runtime;
        for (const auto& [key, value] : body.items()) {
          if (key == "rate")
            rc.rate = value.get<double>();
          else if (key == "burst")
            rc.burst = value.get<double>();
          else if (key == "fault5xx")
            rc.fault_5xx = value.get<double>();
          else if (key == "faultDropBefore")
            rc.fault_drop_before = value.get<double>();
          else if (key == "faultDropAfter")
            rc.fault_drop_after = value.get<double>();
          else if (key == "latencyMs")
            rc.latency_ms = value.get<int>();
          else if (key == "jobThreshold")
            rc.job_threshold = value.get<std::size_t>();
          else if (key == "jobDurationMs")
            rc.job_duration_ms = value.get<int>();
          else if (key == "jobErrorRate")
            rc.job_error_rate = value.get<double>();
          else if (key == "jobFailRate")
            rc.job_fail_rate = value.get<double>();
          else if (key == "joblogByJobId")
            rc.joblog_by_job_id = value.get<bool>();
          else if (key == "jobLogsVisible")
            rc.job_logs_visible = value.get<bool>();
          else
            return validation_error("unknown config field \"" + key + "\"");
        }
        buckets.clear(); // a new rate starts with full buckets
      }
      const auto& rc = config.runtime;
      return json_response(200, json{{"rate", rc.rate},
                                     {"burst", rc.burst},
                                     {"fault5xx", rc.fault_5xx},
                                     {"faultDropBefore", rc.fault_drop_before},
                                     {"faultDropAfter", rc.fault_drop_after},
                                     {"latencyMs", rc.latency_ms},
                                     {"jobThreshold", rc.job_threshold},
                                     {"jobDurationMs", rc.job_duration_ms},
                                     {"jobErrorRate", rc.job_error_rate},
                                     {"jobFailRate", rc.job_fail_rate},
                                     {"joblogByJobId", rc.joblog_by_job_id},
                                     {"jobLogsVisible", rc.job_logs_visible}});
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
};

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
