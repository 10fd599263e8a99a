#pragma once
// What plan, apply and resume share: where the API is (flags over
// environment over the plan's target), resolving queries into a run's device
// lists with GET requests only, checking guards, and the preview's facts.

#include "runner/backoff.hpp"
#include "runner/commands.hpp"
#include "runner/connection.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/run_counters.hpp"

#include "jobs/patch_step.hpp"
#include "plans/plan.hpp"
#include "state/state_store.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <expected>
#include <functional>
#include <map>
#include <ostream>
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

// What a patch step would change, counted over its devices: per field,
// per (before, after) as JSON text, the number of devices.
struct PatchTally {
  std::int64_t devices = 0;
  std::map<std::string, std::map<std::pair<std::string, std::string>, std::int64_t>> changes;
  void add(const std::vector<jobs::FieldChange>& device_changes);
};
using PatchTallies = std::map<std::size_t, PatchTally>; // by step index

// Resolves every query some step uses into `run_id`'s device lists, replacing
// what was there. Returns the error that stopped it. With `tallies`, each
// patch step's changes are counted as the pages arrive (while the next page
// is fetched), so that the preview need not read the documents back.
std::expected<void, api::ApiError> resolve_queries(state::StateStore& store, const plans::Plan& plan,
                                                   const std::string& run_id, api::LosantClient& client,
                                                   PreparationContext& context, PatchTallies* tallies = nullptr);

struct GuardViolation {
  std::string where; // "queries.stale.expect" or "steps[1] (retire)"
  std::string message;
};

// expect {min, max} per query, and the whole-fleet guard per changing step,
// over the device lists held by `snapshot_run` (the counts of `counts_run`).
std::expected<std::vector<GuardViolation>, api::ApiError>
check_guards(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
             api::LosantClient& client, PreparationContext& context);

// What `plan` shows and saves: queries with counts, per step its devices,
// requests, a sample, and for a patch every field's before -> after with
// device counts. Holds no per-device lists: see write_preview_json.
// `tallies`: counted during the resolution of `snapshot_run` (resolve_queries).
nlohmann::json preview_facts(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
                             const PatchTallies* tallies = nullptr);

// A step's devices in their stored order; for a patch (with `with_changes`)
// each device's document (only the fields the patch reads) and its changes.
using DeviceVisitor = std::function<void(const std::string& id, const nlohmann::json* document,
                                         const std::vector<jobs::FieldChange>& changes)>;
void visit_step_devices(const state::StateStore& store, const std::string& snapshot_run, const plans::Step& step,
                        bool with_changes, const DeviceVisitor& visit);

// `plan --output json`: the facts, and per step every device id (and, for a
// patch, every device's changes), streamed from the state file to `out`.
void write_preview_json(std::ostream& out, const nlohmann::json& facts, const state::StateStore& store,
                        const plans::Plan& plan, const std::string& snapshot_run);

// The preview for people.
std::string render_preview(const nlohmann::json& facts);

// Steps of a new apply run, pending, each pointing at the device list it uses.
void insert_steps(state::StateStore& store, const plans::Plan& plan, const std::string& run_id,
                  const std::string& snapshot_run);

// The run's steps and batches for `fleetrun status`.
nlohmann::json status_facts(const state::StateStore& store, const state::RunRecord& run);
std::string render_status(const nlohmann::json& facts);

} // namespace fleetrun::runner
