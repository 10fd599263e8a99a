#include "preview/plan_simulation.hpp"

#include "api/device_page.hpp"
#include "api/json_read.hpp"

#include <algorithm>
#include <memory>
#include <set>

namespace fleetrun::preview {

using nlohmann::json;

void StepPrediction::count(const jobs::FieldChange& change)
{
  const std::string before = change.before.dump();
  const std::string after = change.after.dump();
  const auto key = std::make_tuple(change.field, static_cast<int>(change.op), before, after);
  const auto [found, added] = m_index.try_emplace(key, changes.size());
  if (added) changes.push_back({change.field, change.op, before, after, 0});
  ++changes[found->second].devices;
}

std::vector<StepPrediction> simulate_plan(const state::StateStore& store, const plans::Plan& plan,
                                          const std::string& snapshot_run, const PredictionVisitor& visit,
                                          std::size_t last_step)
{
  const std::size_t steps =
      std::min(plan.steps.size(), last_step == static_cast<std::size_t>(-1) ? plan.steps.size() : last_step + 1);
  std::vector<StepPrediction> predictions(plan.steps.size());
  // One cursor per query a step uses, all in id order.
  struct List {
    std::string query;
    std::unique_ptr<state::StateStore::DeviceCursor> cursor;
    bool more = false;
  };
  std::vector<List> lists;
  std::vector<int> list_of_step(steps, -1);
  bool any_patch = false;
  std::set<std::string> fields_read; // of each document, only what the patch steps read is parsed
  for (std::size_t i = 0; i < steps; ++i) {
    const auto& step = plan.steps[i];
    if (step.action == plans::ActionKind::patch) {
      any_patch = true;
      fields_read.merge(jobs::patch_fields_read(step.params()));
    }
    if (step.query.empty()) continue;
    auto found = std::find_if(lists.begin(), lists.end(), [&](const List& l) { return l.query == step.query; });
    if (found == lists.end()) {
      lists.push_back({step.query, nullptr, false});
      found = std::prev(lists.end());
    }
    list_of_step[i] = static_cast<int>(found - lists.begin());
  }
  for (auto& list : lists) {
    list.cursor = store.devices_by_id(snapshot_run, list.query, any_patch);
    list.more = list.cursor->next();
  }
  std::vector<bool> in_list(lists.size());
  for (;;) {
    // The smallest id any list is at: the next device.
    const std::string* next = nullptr;
    for (const auto& list : lists) {
      if (list.more && (next == nullptr || list.cursor->id() < *next)) next = &list.cursor->id();
    }
    if (next == nullptr) break;
    const std::string id = *next;
    json document;
    for (std::size_t l = 0; l < lists.size(); ++l) {
      in_list[l] = lists[l].more && lists[l].cursor->id() == id;
      if (in_list[l] && document.is_null() && any_patch) {
        auto members = api::read_members(lists[l].cursor->document(), fields_read);
        document = members ? std::move(*members) : json{{"id", id}};
      }
    }
    bool deleted = false;
    for (std::size_t i = 0; i < steps; ++i) {
      if (list_of_step[i] < 0 || !in_list[static_cast<std::size_t>(list_of_step[i])]) continue;
      auto& prediction = predictions[i];
      if (deleted) {
        ++prediction.deleted_before;
        continue;
      }
      ++prediction.devices;
      const auto& step = plan.steps[i];
      if (step.action == plans::ActionKind::delete_devices) {
        deleted = true;
      } else if (step.action == plans::ActionKind::patch) {
        const jobs::SimulatedPatch simulated = jobs::simulate_patch(document, step.params());
        switch (simulated.result) {
        case jobs::PatchResult::updated: ++prediction.updated; break;
        case jobs::PatchResult::skipped: ++prediction.skipped; break;
        case jobs::PatchResult::failed:
          if (prediction.failed++ == 0)
            prediction.failed_example = api::string_member(document, "name", id) + ": " + simulated.failure;
          break;
        }
        if (!simulated.uncertain.empty()) {
          if (prediction.uncertain++ == 0)
            prediction.uncertain_example = api::string_member(document, "name", id) + ": " + simulated.uncertain;
        }
        for (const auto& change : simulated.changes) prediction.count(change);
        if (visit) visit({i, id, document, simulated.after, simulated});
        document = simulated.after;
      }
    }
    for (std::size_t l = 0; l < lists.size(); ++l) {
      if (in_list[l]) lists[l].more = lists[l].cursor->next();
    }
  }
  return predictions;
}

} // namespace fleetrun::preview
