#pragma once
// The preview as a simulation of the whole plan: the steps run in order over
// a copy of the devices they touch, so that a later step sees what an earlier
// one did. A delete takes its devices out of every later step (apply skips
// them too: runner/coordinator.cpp plans a step's batches without them); a
// patch changes what a later patch starts from (jobs/patch_simulator.hpp).
//
// It walks the device lists of all steps side by side in id order, one device
// at a time through every step, reading the documents from the state file:
// memory does not grow with the fleet.

#include "jobs/patch_simulator.hpp"
#include "plans/plan.hpp"
#include "state/state_store.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace fleetrun::preview {

// One change entry (jobs::FieldChange) and how many devices it is predicted for.
struct ChangeTally {
  std::string field;
  jobs::ChangeOp op = jobs::ChangeOp::set;
  std::string before; // JSON text
  std::string after;  // JSON text
  std::int64_t devices = 0;
};

// What a step is predicted to do.
struct StepPrediction {
  std::int64_t devices = 0;        // devices it will send requests for
  std::int64_t deleted_before = 0; // of its list, devices an earlier step deletes (not sent)
  std::int64_t updated = 0;        // patch: devices that change
  std::int64_t skipped = 0;        // patch: devices already as the patch leaves them
  std::int64_t failed = 0;         // patch: devices the API will refuse (e.g. adding an attribute they have)
  std::int64_t uncertain = 0;      // patch: devices whose result rests on a reading the docs do not settle
  std::string uncertain_example;   // why, for one of them
  std::string failed_example;      // why one device would fail
  // patch: the change entries in the order they were first seen (a device's
  // own entries are in the order they apply).
  std::vector<ChangeTally> changes;

  void count(const jobs::FieldChange& change);

private:
  std::map<std::tuple<std::string, int, std::string, std::string>, std::size_t> m_index;
};

// One device through one patch step: its document before and after.
struct DevicePrediction {
  std::size_t step = 0;
  const std::string& id;
  const nlohmann::json& before;
  const nlohmann::json& after;
  const jobs::SimulatedPatch& simulated;
};
using PredictionVisitor = std::function<void(const DevicePrediction&)>;

// Simulates the plan's steps up to and including `last_step` (all of them by
// default) over the device lists of `snapshot_run`; returns one prediction a
// step. `visit` sees each device of each patch step.
std::vector<StepPrediction> simulate_plan(const state::StateStore& store, const plans::Plan& plan,
                                          const std::string& snapshot_run, const PredictionVisitor& visit = {},
                                          std::size_t last_step = static_cast<std::size_t>(-1));

} // namespace fleetrun::preview
