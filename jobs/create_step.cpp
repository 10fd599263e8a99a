// create: one POST /devices per device of the plan, each marked with the tag
// fleetrun_run=<run id> so that resume can tell whether a device whose
// creation had an unknown outcome exists (by name and marker) before
// creating it again.
#include "jobs/query_step_kinds.hpp"

#include "api/json_read.hpp"

#include <stdexcept>

namespace fleetrun::jobs::detail {

namespace {

class CreateStep final : public StepKind {
public:
  explicit CreateStep(nlohmann::json params) : m_devices(params.value("devices", nlohmann::json::array())) {}
  int max_batch_size() const override { return 1; }
  bool uses_devices() const override { return false; }
  Request build(const std::vector<std::string>& items, const BatchContext& context) const override
  {
    nlohmann::json device = m_devices.at(std::stoul(items.at(0)));
    auto& tags = device["tags"];
    if (!tags.is_array()) tags = nlohmann::json::array();
    if (tags.size() < 100) tags.push_back({{"key", k_marker_tag}, {"value", context.run_id}});
    return api::endpoints::create_device(device.dump());
  }
  nlohmann::json outcome(const nlohmann::json& body, std::size_t) const override
  {
    return {{"created", 1}, {"deviceId", api::string_member(body, "id")}};
  }
  OnUnknown on_unknown() const override { return OnUnknown::reconcile_creates; }

private:
  nlohmann::json m_devices;
};

} // namespace

std::unique_ptr<StepKind> make_create_step(nlohmann::json params)
{
  return std::make_unique<CreateStep>(std::move(params));
}

} // namespace fleetrun::jobs::detail

namespace fleetrun::jobs {

std::unique_ptr<StepKind> make_step_kind(const plans::Step& step)
{
  nlohmann::json params = step.params();
  switch (step.action) {
  case plans::ActionKind::delete_devices: return detail::make_delete_step(std::move(params));
  case plans::ActionKind::restore: return detail::make_restore_step(std::move(params));
  case plans::ActionKind::patch: return detail::make_patch_step(std::move(params));
  case plans::ActionKind::remove_data: return detail::make_remove_data_step(std::move(params));
  case plans::ActionKind::send_command: return detail::make_send_command_step(std::move(params), step.delivery);
  case plans::ActionKind::export_devices:
    return detail::make_export_step(std::move(params), step.resend_unknown_export);
  case plans::ActionKind::create: return detail::make_create_step(std::move(params));
  }
  throw std::logic_error("unknown step action");
}

} // namespace fleetrun::jobs
