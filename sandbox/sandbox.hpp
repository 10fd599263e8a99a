#pragma once
// The sandbox service: a Losant-compatible Devices API over an in-memory
// fleet, independent of any HTTP library. `serve` takes a parsed request and
// returns what to answer (or that the connection must be dropped); the Poco
// adapter in http_server.cpp only moves bytes. Thread safe.

#include "sandbox/device_store.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fleetrun::sandbox {

// What can be changed while the sandbox runs (POST /_sandbox/config).
struct RuntimeConfig {
  double rate = 0;                 // requests per second per token; 0: unlimited
  double burst = 0;                // bucket size; 0: same as rate
  bool retry_after = true;         // false: a bare 429 (no Retry-After), as Losant is said to answer
  double fault_5xx = 0;            // probability of a 503 instead of handling
  double fault_drop_before = 0;    // probability of closing the connection before handling
  double fault_drop_after = 0;     // probability (mutations only) of closing it after handling
  std::string fault_route;         // "POST /devices/command": faults only there; empty: every route
  int latency_ms = 0;              // added to every API request
  int jitter_ms = 0;               // each request's latency varies by up to this much either way
  std::size_t job_threshold = 100; // more matched devices than this: 202 and a background job
  int job_duration_ms = 1000;      // how long a background job takes
  double job_error_rate = 0;       // probability a job ends `errored` half done
  double job_fail_rate = 0;        // probability a job ends `failed` having done nothing
  bool joblog_by_job_id = true;    // GET /jobLogs/{id} also accepts a 202's jobId
  bool job_logs_visible = true;    // false: job logs are neither served nor listed (clients must check the devices)
};

struct SandboxConfig {
  std::string application_id = "5f1a2b3c4d5e6f7a8b9c0d1e";
  std::vector<std::string> tokens = {"sandbox-token"};
  std::uint64_t fault_seed = 1;
  std::string request_log_path; // JSON lines; empty: no log
  bool log_bodies = false;      // include request bodies in the log
  RuntimeConfig runtime;
};

struct Request {
  std::string method;
  std::string path;                                       // decoded, without the query string
  std::vector<std::pair<std::string, std::string>> query; // decoded parameters, in order
  std::string authorization;                              // the Authorization header
  std::string body;
  std::string user_agent;
};

struct Response {
  enum class Disposition { respond, drop };
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  Disposition disposition = Disposition::respond;
  int latency_ms = 0; // the adapter sleeps this long before answering
};

class Sandbox {
public:
  explicit Sandbox(SandboxConfig config);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Populate before serving.
  void seed(const SeedOptions& options);
  void load_export(const nlohmann::json& document);
  std::size_t device_count() const;

  // Where the sandbox is reachable; used in export download URLs.
  void set_base_url(std::string base_url);
  const SandboxConfig& config() const;

  Response serve(const Request& request);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// Turns bracket-flattened parameters (`tagFilter[0][key]=site`) into JSON.
nlohmann::json unflatten_parameters(const std::vector<std::pair<std::string, std::string>>& parameters);

} // namespace fleetrun::sandbox
