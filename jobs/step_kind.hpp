#pragma once
// What one kind of step sends and how its answers read. Pure: no I/O, so the
// coordinator in runner/ can drive any kind the same way and tests can check
// each request body without a server. One implementation per file:
// delete_step.cpp, patch_step.cpp, remove_data_step.cpp, send_command_step.cpp,
// export_step.cpp, create_step.cpp, restore_step.cpp.

#include "api/endpoints.hpp"
#include "plans/plan.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fleetrun::jobs {

// One batch's request, built with api/endpoints.hpp; batches carry no query
// parameters, so method, path and body are all the state file keeps.
using Request = api::RequestSpec;

// What resume does with a batch whose outcome is unknown (crash while
// sending, connection lost after the request left). See docs/STATE.md.
enum class OnUnknown {
  resend,             // repeating it gives the same end state
  reconcile_commands, // ask each device's command history, send only to those without it
  reconcile_creates,  // look the device up by name and the run's marker tag
  report,             // never repeat it by itself; report it
};

struct BatchContext {
  std::string run_id;
  std::int64_t command_time_ms = 0; // send_command: the deterministic `time` of this batch
};

// The tag create adds to every device it makes, so resume can find them.
inline constexpr const char* k_marker_tag = "fleetrun_run";

class StepKind {
public:
  virtual ~StepKind() = default;

  // Items per request: device ids, or for create the indexes of plan devices.
  virtual int max_batch_size() const = 0;
  // Whether the step runs over a query's devices (everything but create).
  virtual bool uses_devices() const { return true; }
  virtual Request build(const std::vector<std::string>& items, const BatchContext& context) const = 0;
  // Counts from a 2xx answer, named like the API names them ({"updated": 3, ...}).
  virtual nlohmann::json outcome(const nlohmann::json& body, std::size_t items) const;
  virtual OnUnknown on_unknown() const = 0;
};

// The devices of a final batch that failed, from its outcome (an answer's or
// a job's counts) and its size. A done batch failed for the devices its
// outcome counts as `failed`; a failed batch for all of them, unless its
// outcome counts what was done (a job that ended errored part-way: output
// {updated: 815, failed: 622}), then for all but those. Always within
// [0, devices].
std::int64_t failed_devices_of(const nlohmann::json& outcome, std::int64_t devices, bool batch_failed);

// The kind for a plan step; its Losant fields come from the step's params.
std::unique_ptr<StepKind> make_step_kind(const plans::Step& step);

// {"id":{"$in":[...]}} for up to 100 ids, else {"$or":[{"id":{"$in":[<=100]}}, ...]}
// for up to 10,000: how ids are pinned where an endpoint only takes a query.
nlohmann::json pinned_query(const std::vector<std::string>& ids);
inline constexpr int k_max_pinned_ids = 10'000;
inline constexpr int k_max_device_ids = 1'000;

} // namespace fleetrun::jobs
