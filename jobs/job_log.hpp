#pragma once
// Reading the job logs that follow a 202 "job enqueued". Pure: the runner's
// coordinator sends the requests.
//
// A 202's jobId is looked up as a job log id first; where the API answers 404
// (its job log ids are 24 hex, the 202's jobId is shorter), the newest job
// logs are listed and matched on their `jobId` field.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace fleetrun::jobs {

enum class JobStatus { queued, in_progress, completed, errored, failed, unknown };

struct JobState {
  JobStatus status = JobStatus::unknown;
  std::int64_t completed = 0;
  std::int64_t total = 0;
  std::string error; // "name: message" for errored and failed jobs
  std::string output_json = "{}";
  std::string log_id;

  bool finished() const
  {
    return status == JobStatus::completed || status == JobStatus::errored || status == JobStatus::failed;
  }
};

const char* to_string(JobStatus status);

// Never throws: members of the wrong type read as absent.
JobState read_job_log(const nlohmann::json& log);

// The job log in a `GET /jobLogs` page whose jobId (or id) is `job_id`.
std::optional<JobState> find_job_log(const nlohmann::json& page, const std::string& job_id);

} // namespace fleetrun::jobs
