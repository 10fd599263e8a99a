#include "jobs/job_log.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace fleetrun::jobs;

TEST_CASE("job logs read into status, progress, error and output", "[job_log]")
{
  const JobState running = read_job_log(
      {{"id", "5f00000000000000000000a1"}, {"status", "inProgress"}, {"progress", {{"completed", 4}, {"total", 10}}}});
  CHECK(running.status == JobStatus::in_progress);
  CHECK_FALSE(running.finished());
  CHECK(running.completed == 4);
  CHECK(running.total == 10);
  const JobState failed = read_job_log(
      {{"status", "errored"}, {"error", {{"name", "E"}, {"message", "boom"}}}, {"output", {{"removed", 3}}}});
  CHECK(failed.finished());
  CHECK(failed.error == "E: boom");
  CHECK(json::parse(failed.output_json) == json{{"removed", 3}});
  CHECK(read_job_log({{"status", "weird"}}).status == JobStatus::unknown);
}

TEST_CASE("a 202's jobId is found in a page of job logs", "[job_log]")
{
  const json page = {{"items",
                      {{{"id", "5f00000000000000000000a1"}, {"jobId", "job001"}, {"status", "completed"}},
                       {{"id", "5f00000000000000000000a2"}, {"jobId", "job002"}, {"status", "queued"}}}}};
  const auto found = find_job_log(page, "job002");
  REQUIRE(found.has_value());
  CHECK(found->status == JobStatus::queued);
  CHECK(found->log_id == "5f00000000000000000000a2");
  CHECK_FALSE(find_job_log(page, "job003").has_value());
  CHECK(find_job_log(page, "5f00000000000000000000a1").has_value());
}
