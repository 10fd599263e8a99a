// send_command: a command to devices by deviceIds (up to 1000 a request).
// Repeating it delivers the command twice, so each batch carries a
// deterministic `time` (fixed when the batch is planned and stored with it):
// resume can then ask each device's command history whether it arrived.
#include "jobs/query_step_kinds.hpp"

namespace fleetrun::jobs::detail {

namespace {

class SendCommandStep final : public StepKind {
public:
  SendCommandStep(nlohmann::json params, plans::CommandDelivery delivery)
      : m_params(std::move(params)), m_delivery(delivery)
  {
  }
  int max_batch_size() const override { return k_max_device_ids; }
  Request build(const std::vector<std::string>& ids, const BatchContext& context) const override
  {
    nlohmann::json body = m_params;
    body["time"] = context.command_time_ms;
    body["deviceIds"] = ids;
    return api::endpoints::send_command(body.dump());
  }
  nlohmann::json outcome(const nlohmann::json& body, std::size_t items) const override
  {
    // A 200 says only {"success": true}: every device in the batch was sent the command.
    nlohmann::json counts = StepKind::outcome(body, items);
    if (!counts.contains("sent")) counts["sent"] = items;
    return counts;
  }
  OnUnknown on_unknown() const override
  {
    switch (m_delivery) {
    case plans::CommandDelivery::at_least_once: return OnUnknown::resend;
    case plans::CommandDelivery::at_most_once: return OnUnknown::report;
    case plans::CommandDelivery::effectively_once: break;
    }
    return OnUnknown::reconcile_commands;
  }

private:
  nlohmann::json m_params;
  plans::CommandDelivery m_delivery;
};

} // namespace

std::unique_ptr<StepKind> make_send_command_step(nlohmann::json params, plans::CommandDelivery delivery)
{
  return std::make_unique<SendCommandStep>(std::move(params), delivery);
}

} // namespace fleetrun::jobs::detail
