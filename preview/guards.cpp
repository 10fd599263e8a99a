#include "preview/guards.hpp"

#include "api/device_page.hpp"

#include <optional>

namespace fleetrun::preview {

std::expected<std::vector<GuardViolation>, api::ApiError>
check_guards(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
             const std::function<api::ApiResult()>& count_fleet)
{
  std::vector<GuardViolation> violations;
  for (const auto& spec : plan.queries) {
    const auto record = store.query(snapshot_run, spec.name);
    if (!record) continue;
    if (spec.expect_min && record->total < *spec.expect_min) {
      violations.push_back({"queries." + spec.name + ".expect",
                            "query " + spec.name + " matches " + std::to_string(record->total) +
                                " devices, fewer than expect.min " + std::to_string(*spec.expect_min)});
    }
    if (spec.expect_max && record->total > *spec.expect_max) {
      violations.push_back({"queries." + spec.name + ".expect",
                            "query " + spec.name + " matches " + std::to_string(record->total) +
                                " devices, more than expect.max " + std::to_string(*spec.expect_max)});
    }
  }
  // The whole-fleet guard: a changing step whose query matches every device of
  // the application, however the query is written.
  std::optional<std::int64_t> fleet_size;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& step = plan.steps[i];
    if (!plans::changes_devices(step.action) || step.allow_whole_fleet || step.query.empty()) continue;
    const auto record = store.query(snapshot_run, step.query);
    if (!record || record->total == 0) continue;
    if (!fleet_size) {
      auto page = count_fleet();
      if (!page) return std::unexpected(page.error());
      const auto index = api::index_device_page(page->body);
      if (!index || !index->total_count) {
        api::ApiError unreadable;
        unreadable.status = page->status;
        unreadable.message = "counting the application's devices: the answer has no totalCount (" +
                             (index ? std::string("missing") : index.error()) + ")";
        return std::unexpected(unreadable);
      }
      fleet_size = *index->total_count;
    }
    if (record->total >= *fleet_size) {
      violations.push_back({"steps[" + std::to_string(i) + "] (" + step.id + ")",
                            "step " + step.id + " would " + std::string(plans::action_name(step.action)) +
                                " every device of the application (" + std::to_string(record->total) +
                                "); add allow_whole_fleet: true to the step if that is meant"});
    }
  }
  return violations;
}

std::vector<GuardViolation> check_uncertain(const plans::Plan& plan, const nlohmann::json& facts)
{
  std::vector<GuardViolation> violations;
  const auto& steps = facts.at("steps");
  for (std::size_t i = 0; i < plan.steps.size() && i < steps.size(); ++i) {
    const auto& step = plan.steps[i];
    if (step.on_uncertain.value_or(plan.options.on_uncertain) != plans::OnUncertain::abort) continue;
    const std::int64_t uncertain =
        steps[i].contains("patch") ? steps[i]["patch"].value("uncertain", std::int64_t{0}) : 0;
    if (uncertain == 0) continue;
    violations.push_back({"steps[" + std::to_string(i) + "] (" + step.id + ")",
                          "step " + step.id + " would set or remove a tag key that " + std::to_string(uncertain) +
                              " devices hold more than once, and Losant does not document which tags change (e.g. " +
                              steps[i].value("uncertainExample", std::string()) +
                              "); on_uncertain: abort refuses the run"});
  }
  return violations;
}

std::string describe_drift(const state::StateStore& store, const std::string& preview_run,
                           const std::string& current_run)
{
  const auto list = [](const std::vector<std::string>& ids, std::int64_t total) {
    std::string text;
    for (const auto& id : ids) text += (text.empty() ? "" : ", ") + id;
    return text + (total > static_cast<std::int64_t>(ids.size()) ? ", ..." : "");
  };
  std::string drift;
  for (const auto& query : store.queries(preview_run)) {
    std::int64_t gone = 0;
    std::int64_t added = 0;
    const auto gone_ids = store.devices_missing_from(preview_run, query.name, current_run, query.name, 5, gone);
    const auto added_ids = store.devices_missing_from(current_run, query.name, preview_run, query.name, 5, added);
    if (gone == 0 && added == 0) continue;
    drift += "query " + query.name + ": " + std::to_string(added) + " device(s) added, " + std::to_string(gone) +
             " gone since the preview";
    if (added > 0) drift += " (added: " + list(added_ids, added) + ")";
    if (gone > 0) drift += " (gone: " + list(gone_ids, gone) + ")";
    drift += "; ";
  }
  return drift;
}

} // namespace fleetrun::preview
