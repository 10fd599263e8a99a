#pragma once
// What plan, apply and resume share: where the API is (flags over
// environment over the plan's target), resolving queries into a run's device
// lists with GET requests only, checking guards, and the preview's facts.

#include "runner/backoff.hpp"
#include "runner/commands.hpp"
#include "runner/connection.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/run_counters.hpp"

#include "plans/plan.hpp"
#include "state/state_store.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <expected>
#include <string>
#include <vector>

namespace fleetrun::runner {

// Flags win, then LOSANT_API_URL / LOSANT_APPLICATION_ID, then the plan's
// target, then the defaults.
ConnectionOptions effective_connection(const ConnectionOptions& flags, const plans::Plan* plan);

// `plan.yaml` -> `plan.fleetrun.db` beside it, unless --state says otherwise.
std::string default_state_path(const std::string& plan_path);

// Requests made before the coordinator starts (query resolution, guards):
// they retry transient failures with backoff and keep to the rate limit.
struct PreparationContext {
  const std::atomic<bool>& stop_requested;
  RunCounters& counters;
  RateLimiter& limiter;
};

// A GET under the rate limit, retried on transient failures, sleeping in between.
api::ApiResult get_with_retries(const std::function<api::ApiResult()>& call, const BackoffPolicy& policy,
                                PreparationContext& context);

// Resolves every query some step uses into `run_id`'s device lists, replacing
// what was there. Returns the error that stopped it.
std::expected<void, api::ApiError> resolve_queries(state::StateStore& store, const plans::Plan& plan,
                                                   const std::string& run_id, api::LosantClient& client,
                                                   PreparationContext& context);

struct GuardViolation {
  std::string where; // "queries.stale.expect" or "steps[1] (retire)"
  std::string message;
};

// expect {min, max} per query, and the whole-fleet guard per changing step,
// over the device lists held by `snapshot_run` (the counts of `counts_run`).
std::expected<std::vector<GuardViolation>, api::ApiError>
check_guards(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
             api::LosantClient& client, PreparationContext& context);

// The preview's facts: per query its count, per step what would happen.
// `with_device_ids`: list every device id each step would touch (JSON output).
nlohmann::json preview_facts(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
                             bool with_device_ids);

// The preview for people.
std::string render_preview(const nlohmann::json& facts);

// Steps of a new apply run, pending, each pointing at the device list it uses.
void insert_steps(state::StateStore& store, const plans::Plan& plan, const std::string& run_id,
                  const std::string& snapshot_run);

// The run's steps and batches for `fleetrun status`.
nlohmann::json status_facts(const state::StateStore& store, const state::RunRecord& run);
std::string render_status(const nlohmann::json& facts);

} // namespace fleetrun::runner
