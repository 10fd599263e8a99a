#pragma once
// What a run is given: where the API is and how to reach it, and how the
// engine paces, retries and stops. The CLI merges them once, in one order
// (cli/settings.hpp); the defaults are here.

#include "runner/machine_names.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace fleetrun::runner {

inline constexpr const char* k_default_api_url = "https://api.losant.com";
inline constexpr const char* k_default_token_env = "LOSANT_API_TOKEN";
inline constexpr const char* k_api_url_env = "LOSANT_API_URL";
inline constexpr const char* k_application_env = "LOSANT_APPLICATION_ID";
inline constexpr int k_default_connect_timeout_ms = 10'000;
inline constexpr int k_default_read_timeout_ms = 60'000;
inline constexpr int k_default_request_timeout_ms = 180'000;
// An answer slower than this many bytes a second over this many seconds is
// cut off and retried (curl's --speed-limit/--speed-time).
inline constexpr int k_default_low_speed_limit = 1024;
inline constexpr int k_default_low_speed_time_s = 20;
// The ceiling of requests in flight; the dispatcher adapts below it (runner/dispatcher.hpp).
inline constexpr int k_default_concurrency = 64;
inline constexpr int k_max_concurrency = 64;
inline constexpr int k_default_retry_budget = 500;
inline constexpr int k_default_max_attempts = 8;
inline constexpr double k_default_max_failure_percent = 10;
// A Retry-After longer than this stops the run (resumable) instead of waiting.
inline constexpr std::chrono::seconds k_default_max_retry_after{300};

// Where a merged value came from, for messages ("the default", "LOSANT_API_URL").
enum class Source { flag, environment, plan, fallback };

struct ConnectionSettings {
  std::string api_url;
  Source api_url_source = Source::fallback;
  std::string application_id;
  Source application_source = Source::fallback;
  std::string token_env;  // the variable the token is read from (unless token_file)
  std::string token_file; // empty: the environment variable
  std::string ca_file;
  bool insecure = false;
  std::chrono::milliseconds connect_timeout{k_default_connect_timeout_ms};
  std::chrono::milliseconds read_timeout{k_default_read_timeout_ms};
  std::chrono::milliseconds request_timeout{k_default_request_timeout_ms};
  int low_speed_limit = k_default_low_speed_limit; // bytes/s over low_speed_time; 0: none
  std::chrono::seconds low_speed_time{k_default_low_speed_time_s};

  // "the token in $LOSANT_API_TOKEN" or "the token in file /run/secrets/t".
  std::string token_source() const;
};

struct ExecutionSettings {
  int concurrency = k_default_concurrency; // requests in flight at most (the adaptive limit's ceiling)
  double rate = 0;                         // requests/second; 0: unlimited until throttled
  double burst = 0;                        // 0: same as rate
  BackoffPolicy backoff;
  int retry_budget = k_default_retry_budget;                  // retries per invocation, all batches together
  bool keep_going = false;                                    // run later steps after a step with failures
  double max_failure_percent = k_default_max_failure_percent; // of a step's devices
  // After a stop signal, answers to requests in flight are awaited this long;
  // a request still unanswered then is left as a crash would leave it
  // (`sending`), and resume sorts it out (docs/STATE.md).
  std::chrono::milliseconds drain_deadline{1'000};
  std::chrono::milliseconds job_poll_max{5'000};
  std::chrono::seconds max_retry_after = k_default_max_retry_after;
  // Seeds the backoff's jitter: a test passes one to replay a run exactly;
  // the CLI draws one.
  std::uint64_t seed = 1;
};

} // namespace fleetrun::runner
