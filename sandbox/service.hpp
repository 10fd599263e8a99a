#pragma once
// Internal to sandbox/: the sandbox service's state and the declarations of
// its parts, each defined in a file of its own:
//   sandbox.cpp        the request pipeline (token, rate limit, faults,
//                      routing, request log) and the public Sandbox class
//   device_routes.cpp  GET /devices (queries, sorting, pages), one device,
//                      command history
//   bulk_actions.cpp   patch, delete, restore, removeData, command, export
//   job_logs.cpp       202 jobs, the worker that runs them, job logs
//   admin_routes.cpp   /_sandbox/...: health, devices, stats, config, jobs
// Not installed and not included outside sandbox/.

#include "sandbox/sandbox.hpp"

#include "sandbox/actions.hpp"
#include "sandbox/token_bucket.hpp"

#include "losant/schemas.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>

namespace fleetrun::sandbox {

using nlohmann::json;

Response json_response(int status, const json& body);

Response error_response(int status, const std::string& type, const std::string& message);

Response validation_error(const std::string& message);

std::string first_violations(const std::vector<losant::SchemaViolation>& violations, const std::string& prefix);

std::vector<std::string> split_path(const std::string& path);

bool is_mutation(const std::string& method);

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

struct Sandbox::Impl {
  explicit Impl(SandboxConfig cfg);

  ~Impl();

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
  std::mt19937_64 latency_rng{7};

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

  RuntimeConfig runtime();

  void count(const std::string& key, const std::string& total);

  void count_total(const std::string& total);

  // ---- the request pipeline ----------------------------------------------

  Response serve(const Request& request);

  static std::string route_template(const std::vector<std::string>& parts);

  Response api(const Request& request, const std::vector<std::string>& parts, std::string& fault);

  static std::string bearer_token(const std::string& header);

  std::optional<double> take_token(const std::string& token, const RuntimeConfig& rc);

  int draw_latency();
  std::string roll_fault(const Request& request, const std::vector<std::string>& parts, const RuntimeConfig& rc);

  void log_request(const Request& request, const Response& response, const std::string& fault, double ms);

  // ---- API routes ----------------------------------------------------------

  Response route_api(const Request& request, const std::vector<std::string>& parts, const RuntimeConfig& rc);

  static std::optional<json> parse_body(const Request& request, Response& error);

  static bool validate(const std::string& schema, const json& body, Response& error, const std::string& prefix = "");

  // ---- GET /devices ----------------------------------------------------------

  Response get_devices(const Request& request);

  // The JSON text of a device as lists show it, cached until the store
  // changes. Requires store_mutex held (shared is enough).
  void append_rendered(std::string& out, std::uint32_t index, bool with_connection);

  // {"$and": [q, {"id": {"$gt": "<object id>"}}]}: the id after which a
  // cursor page starts, or nothing for any other query.
  // An id range over a query: {"$and": [q, {"id": {op: id}}, ...]} with up to
  // two bounds ($gt, $gte, $lt, $lte), lowercase ids. What an index on id
  // serves at the cost of the page, whatever its depth.
  struct IdRange {
    std::optional<std::string> low;
    bool low_inclusive = false;
    std::optional<std::string> high;
    bool high_inclusive = false;
  };
  static std::optional<IdRange> id_range(const json& query);

  // Requires store_mutex held (shared is enough).
  std::shared_ptr<const std::vector<std::uint32_t>> selection(const std::string& key, const DeviceQuery& query,
                                                              DeletedScope scope, const std::string& sort_field,
                                                              bool descending);

  // ---- single device ---------------------------------------------------------

  Response create_device(const Request& request);

  Response get_device(const std::string& id);

  const Device* live_device(const std::string& id) const;
  Device* live_device(const std::string& id);

  Response patch_device(const std::string& id, const Request& request);

  Response delete_device(const std::string& id);

  Response get_commands(const std::string& id, const Request& request);

  Response post_command(const std::string& id, const Request& request);

  static Command make_command(const json& body);

  // ---- bulk actions ------------------------------------------------------------

  struct BulkPlan {
    std::string job_name;
    std::vector<std::string> counters;
    std::function<std::string(Device&)> apply;
    std::function<void(JobLog&)> finish;
    std::function<json(const std::map<std::string, std::size_t>&)> sync_body;
  };

  Response bulk(const Request& request, const std::string& action, const RuntimeConfig& rc);

  BulkPlan plan_for(const std::string& action, const json& body);

  // Requires store_mutex held exclusively.
  std::string store_export(const std::vector<json>& devices, const std::string& format);

  // ---- jobs ------------------------------------------------------------------

  std::string enqueue(BulkPlan& plan, std::vector<std::string> targets, const json& body, const RuntimeConfig&);

  void run_jobs();

  bool sleep_unless_stopping(std::chrono::milliseconds duration);

  void run_job(JobWork& work);

  void update_log(const std::string& id, const std::function<void(JobLog&)>& change);

  json job_log_json(const JobLog& log) const;

  Response get_job_log(const std::string& id, const RuntimeConfig& rc);

  Response list_job_logs(const Request& request);

  // ---- the admin view ---------------------------------------------------------

  Response admin(const Request& request, const std::vector<std::string>& parts);
};

} // namespace fleetrun::sandbox
