// One place merges every knob: flags > environment > plan > defaults.
#include "cli/settings.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace fleetrun;
using namespace fleetrun::runner;
using namespace fleetrun::cli;

namespace {

plans::Environment env_of(std::map<std::string, std::string> values)
{
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    return found == values.end() ? std::nullopt : std::optional(found->second);
  };
}

plans::Plan plan_with_target()
{
  plans::Plan plan;
  plan.target.api_url = "https://plan.example";
  plan.target.application_id = "5f1a2b3c4d5e6f7a8b9c0d1e";
  plan.target.token_env = "PLAN_TOKEN";
  plan.options.concurrency = 8;
  plan.options.rate = 20;
  plan.options.max_failure_percent = 3;
  return plan;
}

} // namespace

TEST_CASE("with nothing given every connection setting is its default, and says so", "[settings]")
{
  const auto settings = resolve_connection({}, env_of({}), nullptr);
  CHECK(settings.api_url == "https://api.losant.com");
  CHECK(settings.api_url_source == Source::fallback);
  CHECK(settings.application_id.empty());
  CHECK(settings.token_env == "LOSANT_API_TOKEN");
  CHECK(settings.token_source() == "the token in $LOSANT_API_TOKEN");
  CHECK(settings.read_timeout == std::chrono::milliseconds(60'000));
}

TEST_CASE("flags win over the environment, which wins over the plan's target", "[settings]")
{
  const plans::Plan plan = plan_with_target();
  const auto env =
      env_of({{"LOSANT_API_URL", "https://env.example"}, {"LOSANT_APPLICATION_ID", "5f0000000000000000000000"}});
  auto from_plan = resolve_connection({}, env_of({}), &plan);
  CHECK(from_plan.api_url == "https://plan.example");
  CHECK(from_plan.api_url_source == Source::plan);
  CHECK(from_plan.token_env == "PLAN_TOKEN");
  auto from_env = resolve_connection({}, env, &plan);
  CHECK(from_env.api_url == "https://env.example");
  CHECK(from_env.application_id == "5f0000000000000000000000");
  CHECK(from_env.application_source == Source::environment);
  ConnectionFlags flags;
  flags.api_url = "http://127.0.0.1:9";
  flags.token_file = "/run/secrets/t";
  flags.read_timeout_ms = 1500;
  auto from_flags = resolve_connection(flags, env, &plan);
  CHECK(from_flags.api_url == "http://127.0.0.1:9");
  CHECK(from_flags.api_url_source == Source::flag);
  CHECK(from_flags.token_source() == "the token in file /run/secrets/t");
  CHECK(from_flags.read_timeout == std::chrono::milliseconds(1500));
}

TEST_CASE("an empty environment variable does not hide the plan's value", "[settings]")
{
  const plans::Plan plan = plan_with_target();
  CHECK(resolve_connection({}, env_of({{"LOSANT_API_URL", ""}}), &plan).api_url == "https://plan.example");
}

TEST_CASE("execution settings: flags over the plan's options over the defaults", "[settings]")
{
  const auto defaults = resolve_execution({}, plans::Plan{});
  CHECK(defaults.concurrency == k_default_concurrency);
  CHECK(defaults.rate == 0);
  CHECK(defaults.retry_budget == k_default_retry_budget);
  CHECK(defaults.backoff.max_attempts == k_default_max_attempts);
  CHECK(defaults.max_failure_percent == k_default_max_failure_percent);

  const plans::Plan plan = plan_with_target();
  const auto from_plan = resolve_execution({}, plan);
  CHECK(from_plan.concurrency == 8);
  CHECK(from_plan.rate == 20);
  CHECK(from_plan.max_failure_percent == 3);

  ExecutionFlags flags;
  flags.concurrency = 2;
  flags.rate = 0; // an explicit 0 (unlimited) is a value, not "not given"
  flags.max_failure_percent = 0;
  flags.max_attempts = 1;
  flags.keep_going = true;
  const auto from_flags = resolve_execution(flags, plan);
  CHECK(from_flags.concurrency == 2);
  CHECK(from_flags.rate == 0);
  CHECK(from_flags.max_failure_percent == 0);
  CHECK(from_flags.backoff.max_attempts == 1);
  CHECK(from_flags.keep_going);
}

TEST_CASE("every invocation draws its own jitter seed", "[settings]")
{
  // A fixed seed would make runs started together back off in step.
  std::set<std::uint64_t> seeds;
  for (int i = 0; i < 8; ++i) seeds.insert(resolve_execution({}, plans::Plan{}).seed);
  CHECK(seeds.size() == 8);
}

TEST_CASE("concurrency is kept within 1 and the cap", "[settings]")
{
  ExecutionFlags flags;
  flags.concurrency = 1000;
  CHECK(resolve_execution(flags, plans::Plan{}).concurrency == k_max_concurrency);
  flags.concurrency = 0;
  CHECK(resolve_execution(flags, plans::Plan{}).concurrency == 1);
}

TEST_CASE("an unusable API is explained with where the token, application and URL came from", "[settings]")
{
  api::ApiError refused;
  refused.kind = api::ErrorKind::auth;
  refused.status = 401;
  ConnectionFlags flags;
  flags.token_env = "MY_TOKEN";
  const auto from_env = resolve_connection(
      flags, env_of({{"LOSANT_API_URL", "http://127.0.0.1:9"}, {"LOSANT_APPLICATION_ID", "app1"}}), nullptr);
  CHECK(hint_for(refused, from_env) ==
        "check the token in $MY_TOKEN: it was refused for application app1 (from $LOSANT_APPLICATION_ID) at "
        "http://127.0.0.1:9 (from $LOSANT_API_URL); a token needs the devices permissions of that application");

  api::ApiError unreachable;
  unreachable.kind = api::ErrorKind::transient;
  unreachable.message = "Host not found: api.losant.com";
  const auto defaults = resolve_connection({}, env_of({{"LOSANT_APPLICATION_ID", "app1"}}), nullptr);
  CHECK(hint_for(unreachable, defaults) ==
        "https://api.losant.com is the default API URL; set $LOSANT_API_URL or --api-url for another");
  CHECK(hint_for(unreachable, from_env).empty()); // a URL someone chose needs no word about the default
  api::ApiError invalid;
  invalid.status = 400;
  CHECK(hint_for(invalid, defaults).empty());
}
