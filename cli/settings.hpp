#pragma once
// Every knob of a run merged once, in one order: command-line flags, then the
// environment, then the plan, then the defaults (runner/settings.hpp). Flags
// are `std::optional` so that "not given" is never confused with a value.

#include "api/api_error.hpp"
#include "plans/plan.hpp"
#include "plans/plan_parser.hpp"
#include "runner/settings.hpp"

#include <optional>
#include <string>

namespace fleetrun::cli {

using runner::ConnectionSettings;
using runner::ExecutionSettings;
using runner::Source;

// Where the API is and how to reach it, as given on the command line.
struct ConnectionFlags {
  std::optional<std::string> api_url;        // --api-url
  std::optional<std::string> application_id; // --application
  std::optional<std::string> token_env;      // --token-env
  std::optional<std::string> token_file;     // --token-file
  std::optional<std::string> ca_file;        // --ca-file
  bool insecure = false;                     // --insecure
  std::optional<int> connect_timeout_ms;     // --connect-timeout-ms
  std::optional<int> read_timeout_ms;        // --read-timeout-ms
  std::optional<int> request_timeout_ms;     // --request-timeout-ms
  std::optional<int> low_speed_limit;        // --low-speed-limit (bytes/s; 0: none)
  std::optional<int> low_speed_time_s;       // --low-speed-time
};

// How apply and resume run, as given on the command line.
struct ExecutionFlags {
  std::optional<int> concurrency;
  std::optional<double> rate;
  std::optional<double> burst;
  std::optional<int> retry_budget;
  std::optional<int> max_attempts;
  bool keep_going = false;
  std::optional<double> max_failure_percent;
  std::optional<int> max_retry_after_s;
};

// flags > environment (LOSANT_API_URL, LOSANT_APPLICATION_ID) > the plan's target > defaults.
// What to do about an error that made the API unusable, for people: a 401/403
// names the token's source and the application and URL it was used for; a
// failure to connect says when the URL is the default one. Empty when there
// is nothing to add.
std::string hint_for(const api::ApiError& error, const ConnectionSettings& settings);

ConnectionSettings resolve_connection(const ConnectionFlags& flags, const plans::Environment& env,
                                      const plans::Plan* plan);

// flags > the plan's options > defaults.
ExecutionSettings resolve_execution(const ExecutionFlags& flags, const plans::Plan& plan);

} // namespace fleetrun::cli
