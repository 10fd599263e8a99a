#include "cli/settings.hpp"

#include <algorithm>
#include <array>
#include <random>
#include <tuple>

namespace fleetrun::cli {

using namespace runner;

namespace {

// The first of the candidates that is set and not empty, with where it came from.
template <std::size_t N>
std::pair<std::string, Source> first_of(const std::array<std::pair<std::optional<std::string>, Source>, N>& candidates,
                                        std::string fallback)
{
  for (const auto& [value, source] : candidates) {
    if (value && !value->empty()) return {*value, source};
  }
  return {std::move(fallback), Source::fallback};
}

std::optional<std::string> non_empty(const std::string& text)
{
  return text.empty() ? std::nullopt : std::optional(text);
}

} // namespace

std::string hint_for(const api::ApiError& error, const ConnectionSettings& settings)
{
  const auto where = [&](Source source, const char* env, const char* flag) -> std::string {
    switch (source) {
    case Source::flag: return std::string("from ") + flag;
    case Source::environment: return std::string("from $") + env;
    case Source::plan: return "from the plan's target";
    case Source::fallback: break;
    }
    return std::string("the default; set $") + env + " or " + flag + " for another";
  };
  if (error.kind == api::ErrorKind::auth || error.status == 401 || error.status == 403) {
    return "check " + settings.token_source() + ": it was refused for application " + settings.application_id + " (" +
           where(settings.application_source, k_application_env, "--application") + ") at " + settings.api_url + " (" +
           where(settings.api_url_source, k_api_url_env, "--api-url") +
           "); a token needs the devices permissions of that application";
  }
  if (error.status == 0 && error.kind != api::ErrorKind::cancelled && settings.api_url_source == Source::fallback) {
    return settings.api_url + " is the default API URL; set $" + std::string(k_api_url_env) +
           " or --api-url for another";
  }
  return "";
}

ConnectionSettings resolve_connection(const ConnectionFlags& flags, const plans::Environment& env,
                                      const plans::Plan* plan)
{
  using Candidates = std::array<std::pair<std::optional<std::string>, Source>, 3>;
  ConnectionSettings out;
  std::tie(out.api_url, out.api_url_source) =
      first_of(Candidates{{{flags.api_url, Source::flag},
                           {env(k_api_url_env), Source::environment},
                           {plan ? non_empty(plan->target.api_url) : std::nullopt, Source::plan}}},
               k_default_api_url);
  std::tie(out.application_id, out.application_source) =
      first_of(Candidates{{{flags.application_id, Source::flag},
                           {env(k_application_env), Source::environment},
                           {plan ? non_empty(plan->target.application_id) : std::nullopt, Source::plan}}},
               "");
  using Two = std::array<std::pair<std::optional<std::string>, Source>, 2>;
  out.token_env = first_of(Two{{{flags.token_env, Source::flag},
                                {plan ? non_empty(plan->target.token_env) : std::nullopt, Source::plan}}},
                           k_default_token_env)
                      .first;
  out.token_file = first_of(Two{{{flags.token_file, Source::flag},
                                 {plan ? non_empty(plan->target.token_file) : std::nullopt, Source::plan}}},
                            "")
                       .first;
  out.ca_file = flags.ca_file.value_or("");
  out.insecure = flags.insecure;
  out.connect_timeout = std::chrono::milliseconds(flags.connect_timeout_ms.value_or(k_default_connect_timeout_ms));
  out.read_timeout = std::chrono::milliseconds(flags.read_timeout_ms.value_or(k_default_read_timeout_ms));
  out.request_timeout = std::chrono::milliseconds(flags.request_timeout_ms.value_or(k_default_request_timeout_ms));
  out.low_speed_limit = flags.low_speed_limit.value_or(k_default_low_speed_limit);
  out.low_speed_time = std::chrono::seconds(flags.low_speed_time_s.value_or(k_default_low_speed_time_s));
  return out;
}

ExecutionSettings resolve_execution(const ExecutionFlags& flags, const plans::Plan& plan)
{
  ExecutionSettings out;
  out.concurrency =
      std::clamp(flags.concurrency.or_else([&] { return plan.options.concurrency; }).value_or(k_default_concurrency), 1,
                 k_max_concurrency);
  out.rate = std::max(0.0, flags.rate.or_else([&] { return plan.options.rate; }).value_or(0.0));
  out.burst = std::max(0.0, flags.burst.or_else([&] { return plan.options.burst; }).value_or(0.0));
  out.retry_budget = std::max(0, flags.retry_budget.value_or(k_default_retry_budget));
  out.backoff.max_attempts = std::max(1, flags.max_attempts.value_or(k_default_max_attempts));
  out.keep_going = flags.keep_going;
  out.max_failure_percent = flags.max_failure_percent.or_else([&] { return plan.options.max_failure_percent; })
                                .value_or(k_default_max_failure_percent);
  out.max_retry_after = std::chrono::seconds(
      std::max(0, flags.max_retry_after_s.value_or(static_cast<int>(k_default_max_retry_after.count()))));
  // Each invocation its own jitter, so that runs started together (a timer
  // firing on several hosts) do not retry in step.
  std::random_device entropy;
  out.seed = (static_cast<std::uint64_t>(entropy()) << 32) ^ entropy();
  return out;
}

} // namespace fleetrun::cli
