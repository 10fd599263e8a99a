#include "jobs/job_log.hpp"

#include "api/json_read.hpp"

#include <nlohmann/json.hpp>

namespace fleetrun::jobs {

using nlohmann::json;

const char* to_string(JobStatus status)
{
  switch (status) {
  case JobStatus::queued: return "queued";
  case JobStatus::in_progress: return "inProgress";
  case JobStatus::completed: return "completed";
  case JobStatus::errored: return "errored";
  case JobStatus::failed: return "failed";
  case JobStatus::unknown: break;
  }
  return "unknown";
}

JobState read_job_log(const json& log)
{
  JobState state;
  const std::string status = api::string_member(log, "status");
  if (status == "queued")
    state.status = JobStatus::queued;
  else if (status == "inProgress")
    state.status = JobStatus::in_progress;
  else if (status == "completed")
    state.status = JobStatus::completed;
  else if (status == "errored")
    state.status = JobStatus::errored;
  else if (status == "failed")
    state.status = JobStatus::failed;
  if (auto progress = log.find("progress"); progress != log.end() && progress->is_object()) {
    state.completed = api::integer_member(*progress, "completed").value_or(0);
    state.total = api::integer_member(*progress, "total").value_or(0);
  }
  if (auto error = log.find("error"); error != log.end() && error->is_object()) {
    state.error = api::string_member(*error, "name") + ": " + api::string_member(*error, "message");
  }
  if (auto output = log.find("output"); output != log.end() && output->is_object()) state.output_json = output->dump();
  state.log_id = api::string_member(log, "id");
  return state;
}

std::optional<JobState> find_job_log(const json& page, const std::string& job_id)
{
  if (!page.is_object() || !page.contains("items") || !page["items"].is_array()) return std::nullopt;
  for (const auto& log : page["items"]) {
    if (!log.is_object()) continue;
    if (api::string_member(log, "jobId") == job_id || api::string_member(log, "id") == job_id) return read_job_log(log);
  }
  return std::nullopt;
}

} // namespace fleetrun::jobs
