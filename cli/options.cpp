#include "cli/options.hpp"

namespace fleetrun::cli {

using namespace runner;

void add_connection_options(CLI::App& command, ConnectionFlags& options)
{
  add_optional(command, "--api-url", options.api_url, "API base URL [env LOSANT_API_URL, then the plan's target]",
               k_default_api_url);
  add_optional(command, "--application", options.application_id,
               "application id [env LOSANT_APPLICATION_ID, then the plan's target]");
  add_optional(command, "--token-env", options.token_env,
               "environment variable holding the API token [the plan's target.token_env]", k_default_token_env);
  add_optional(command, "--token-file", options.token_file, "read the API token from this file instead");
  add_optional(command, "--ca-file", options.ca_file, "extra trusted CA certificates (PEM) for HTTPS");
  command.add_flag("--insecure", options.insecure, "do not verify TLS certificates (dangerous; warns)");
  add_optional(command, "--connect-timeout-ms", options.connect_timeout_ms, "connect timeout",
               std::to_string(k_default_connect_timeout_ms));
  add_optional(command, "--read-timeout-ms", options.read_timeout_ms, "longest wait for the next bytes of an answer",
               std::to_string(k_default_read_timeout_ms))
      ->check(CLI::PositiveNumber);
  add_optional(command, "--request-timeout-ms", options.request_timeout_ms,
               "deadline for a whole request, however slowly its answer arrives",
               std::to_string(k_default_request_timeout_ms))
      ->check(CLI::PositiveNumber);
  add_optional(command, "--low-speed-limit", options.low_speed_limit,
               "bytes per second: an answer slower than this over --low-speed-time is cut off and retried; 0: "
               "no limit",
               std::to_string(k_default_low_speed_limit))
      ->check(CLI::NonNegativeNumber);
  add_optional(command, "--low-speed-time", options.low_speed_time_s, "seconds over which --low-speed-limit is judged",
               std::to_string(k_default_low_speed_time_s))
      ->check(CLI::PositiveNumber);
}

void add_progress_option(CLI::App& command, std::string& progress)
{
  command
      .add_option("--progress", progress,
                  "auto: a live line on a terminal, a log line every 5 s otherwise; always: the live line even "
                  "without a terminal; never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

void add_execution_options(CLI::App& command, ExecutionFlags& o)
{
  add_optional(command, "--concurrency", o.concurrency,
               "requests in flight at most; below it the number adapts to the rate limit and round trip "
               "[plan: options.concurrency]",
               std::to_string(k_default_concurrency))
      ->check(CLI::Range(1, k_max_concurrency));
  add_optional(command, "--rate", o.rate,
               "requests per second; 0: unlimited until the API throttles [plan: options.rate]", "0")
      ->check(CLI::NonNegativeNumber);
  add_optional(command, "--burst", o.burst, "rate-limit burst [plan: options.burst]", "the rate")
      ->check(CLI::NonNegativeNumber);
  add_optional(command, "--retry-budget", o.retry_budget, "retries allowed in this invocation, all batches together",
               std::to_string(k_default_retry_budget))
      ->check(CLI::NonNegativeNumber);
  add_optional(command, "--max-attempts", o.max_attempts, "failed requests per batch before it fails",
               std::to_string(k_default_max_attempts))
      ->check(CLI::PositiveNumber);
  add_optional(command, "--max-failure-percent", o.max_failure_percent,
               "abort when more of a step's devices fail [plan: options.max_failure_percent]", "10")
      ->check(CLI::Range(0.0, 100.0));
  add_optional(command, "--max-retry-after", o.max_retry_after_s,
               "seconds: a longer Retry-After stops the run (resume continues it) instead of waiting",
               std::to_string(k_default_max_retry_after.count()))
      ->check(CLI::NonNegativeNumber);
  command.add_flag("--keep-going", o.keep_going, "run later steps even after a step had failures");
}

void add_output_option(CLI::App& command, std::string& output)
{
  command.add_option("--output", output, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
}

void add_state_option(CLI::App& command, std::optional<std::string>& state, const std::string& fallback)
{
  add_optional(command, "--state", state, "state file [default: " + fallback + "]");
}

} // namespace fleetrun::cli
