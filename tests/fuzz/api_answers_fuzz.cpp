// Fuzz target: any bytes as an API answer, through every reader of answers:
// the device-page scanner and member reader, error classification,
// Retry-After, job logs, and a batch machine following a job and
// reconciling a command with that answer. None may crash or throw.
#include "api/answer_text.hpp"
#include "api/device_page.hpp"
#include "api/losant_client.hpp"
#include "jobs/job_log.hpp"
#include "machine/batch_machine.hpp"
#include "plans/plan.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace {

using namespace fleetrun;

void through_machine(const std::string& body, int status)
{
  plans::Step step;
  step.id = "s";
  step.action = plans::ActionKind::send_command;
  step.set_params({{"name", "go"}});
  const auto kind = jobs::make_step_kind(step);
  machine::MachinePolicy policy;
  policy.run_id = "r";
  policy.step_id = "s";
  policy.batch_count = 1;
  state::BatchRecord record;
  record.status = state::BatchStatus::enqueued;
  record.job_id = "job";
  record.device_count = 2;
  machine::BatchMachine machine(record, *kind, policy);
  machine::RunAllowance allowance;
  allowance.rng.seed(1);
  const machine::Moment at{machine::SteadyTime{}, 1'790'000'000'000};
  const api::ApiResult result = status >= 200 && status < 300
                                    ? api::ApiResult(api::ApiResponse{status, body, {}, {}})
                                    : api::ApiResult(std::unexpected(api::error_from_response({status, body, {}})));
  for (const auto purpose : {machine::Purpose::send, machine::Purpose::poll_job, machine::Purpose::list_jobs,
                             machine::Purpose::read_history, machine::Purpose::look_up_created}) {
    machine::BatchMachine fresh(record, *kind, policy);
    (void)fresh.on_answer({purpose, 0, "5f0000000000000000000001"}, result, at, allowance);
    (void)fresh.failed_devices();
  }
  (void)machine;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size == 0) return 0;
  // The first byte picks the status.
  static constexpr int k_statuses[] = {200, 202, 201, 204, 400, 401, 403, 404, 408,
                                       413, 429, 500, 502, 503, 504, 301, 302, 418};
  const int status = k_statuses[data[0] % (sizeof k_statuses / sizeof k_statuses[0])];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  if (auto page = api::index_device_page(body)) {
    for (const auto& item : page->items) (void)api::read_members(item.document, {"name", "tags", "attributes"});
  }
  (void)api::read_members(body, {"id", "name", "tags"});
  (void)api::excerpt(body);
  (void)api::parse_retry_after(body);
  const api::ApiError error = api::error_from_response({status, body, {{"Retry-After", body.substr(0, 40)}}});
  (void)error.describe_with_request();
  if (api::json_depth_within(body)) {
    const auto parsed = nlohmann::json::parse(body, nullptr, false);
    (void)jobs::read_job_log(parsed);
    (void)jobs::find_job_log(parsed, "job");
    through_machine(body, status);
  }
  return 0;
}
