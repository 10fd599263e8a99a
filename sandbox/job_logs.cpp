// 202 "job enqueued": the job queue, the worker thread that runs jobs, and
// the job logs that clients poll.
#include "sandbox/service.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"

#include <algorithm>
#include <cmath>

namespace fleetrun::sandbox {

std::string Sandbox::Impl::enqueue(BulkPlan& plan, std::vector<std::string> targets, const json& body,
                                   const RuntimeConfig&)
{
  std::lock_guard lock(job_mutex);
  ++job_counter;
  JobLog log;
  char id[32];
  std::snprintf(id, sizeof id, "%08llx%016llx", 0x6a0b0000ULL, static_cast<unsigned long long>(job_counter));
  log.id = id;
  // The 202's jobId is a shorter token than a job log id, as the API's
  // schema says (at most 21 characters); the job log carries it as jobId.
  std::snprintf(id, sizeof id, "job%017llu", static_cast<unsigned long long>(job_counter));
  log.job_id = id;
  log.name = plan.job_name;
  log.total = targets.size();
  log.queued_ms = losant::now_epoch_ms();
  for (const char* key : {"email", "callbackUrl"}) {
    if (body.contains(key)) log.input[key] = body[key];
  }
  for (const char* key : {"query", "deviceQuery"}) {
    if (body.contains(key)) log.input["query"] = body[key].dump();
  }
  for (const auto& counter : plan.counters) log.output[counter] = 0;
  job_logs[log.id] = log;
  job_queue.push_back({log.id, std::move(targets), plan.apply, plan.finish, plan.counters});
  job_cv.notify_all();
  return log.job_id;
}

void Sandbox::Impl::run_jobs()
{
  std::unique_lock lock(job_mutex);
  while (true) {
    job_cv.wait(lock, [&] { return stopping || !job_queue.empty(); });
    if (stopping) return;
    JobWork work = std::move(job_queue.front());
    job_queue.pop_front();
    lock.unlock();
    run_job(work);
    lock.lock();
  }
}

bool Sandbox::Impl::sleep_unless_stopping(std::chrono::milliseconds duration)
{
  std::unique_lock lock(job_mutex);
  return !job_cv.wait_for(lock, duration, [&] { return stopping; });
}

void Sandbox::Impl::run_job(JobWork& work)
{
  const RuntimeConfig rc = runtime();
  const int steps = 10;
  const auto pause = std::chrono::milliseconds(std::max(1, rc.job_duration_ms / (steps + 1)));
  if (!sleep_unless_stopping(pause)) return;
  double fail_roll = 0, error_roll = 0;
  {
    std::lock_guard lock(control_mutex);
    std::uniform_real_distribution<double> dice(0, 1);
    fail_roll = dice(fault_rng);
    error_roll = dice(fault_rng);
  }
  update_log(work.log_id, [](JobLog& log) {
    log.status = "inProgress";
    log.started_ms = losant::now_epoch_ms();
  });
  if (fail_roll < rc.job_fail_rate) {
    update_log(work.log_id, [](JobLog& log) {
      log.status = "failed";
      log.completed_ms = losant::now_epoch_ms();
      log.error = {{"name", "JobFailed"}, {"message", "Injected fault: the job failed before doing any work"}};
    });
    return;
  }
  const bool errors_midway = error_roll < rc.job_error_rate;
  const std::size_t total = work.device_ids.size();
  const std::size_t stop_at = errors_midway ? total / 2 : total;
  const std::size_t chunk = std::max<std::size_t>(1, (total + steps - 1) / steps);
  std::map<std::string, std::size_t> counts;
  for (const auto& counter : work.counters) counts[counter] = 0;
  for (std::size_t begin = 0; begin < stop_at; begin += chunk) {
    const std::size_t end = std::min(stop_at, begin + chunk);
    {
      std::unique_lock lock(store_mutex);
      for (std::size_t i = begin; i < end; ++i) {
        Device* device = store.find(work.device_ids[i]);
        if (device != nullptr) ++counts[work.apply(*device)];
      }
      store.touch();
    }
    update_log(work.log_id, [&](JobLog& log) {
      log.completed = end;
      for (const auto& [key, value] : counts) log.output[key] = value;
    });
    if (end < stop_at && !sleep_unless_stopping(pause)) return;
  }
  if (!errors_midway && work.finish) {
    std::unique_lock lock(store_mutex);
    std::lock_guard job_lock(job_mutex);
    work.finish(job_logs[work.log_id]);
  }
  update_log(work.log_id, [&](JobLog& log) {
    log.completed_ms = losant::now_epoch_ms();
    if (errors_midway) {
      log.status = "errored";
      log.error = {{"name", "JobErrored"},
                   {"message", "Injected fault: the job stopped after " + std::to_string(stop_at) + " of " +
                                   std::to_string(total) + " devices"}};
    } else {
      log.status = "completed";
    }
  });
}

void Sandbox::Impl::update_log(const std::string& id, const std::function<void(JobLog&)>& change)
{
  std::lock_guard lock(job_mutex);
  change(job_logs[id]);
}

json Sandbox::Impl::job_log_json(const JobLog& log) const
{
  json out = {{"id", log.id},
              {"jobId", log.job_id},
              {"name", log.name},
              {"applicationId", config.application_id},
              {"status", log.status},
              {"resourceType", "device"},
              {"ownerType", "application"},
              {"ownerId", config.application_id},
              {"requestedByType", "apiToken"},
              {"runQueuedAt", losant::format_iso8601_ms(log.queued_ms)},
              {"progress", {{"completed", log.completed}, {"total", log.total}}},
              {"input", log.input},
              {"output", log.output}};
  if (log.started_ms != 0) out["runStartedAt"] = losant::format_iso8601_ms(log.started_ms);
  if (log.completed_ms != 0) out["runCompletedAt"] = losant::format_iso8601_ms(log.completed_ms);
  if (!log.error.is_null()) out["error"] = log.error;
  return out;
}

Response Sandbox::Impl::get_job_log(const std::string& id, const RuntimeConfig& rc)
{
  if (!rc.job_logs_visible) return error_response(404, "NotFound", "Application job log was not found");
  std::lock_guard lock(job_mutex);
  if (auto it = job_logs.find(losant::normalize_object_id(id)); it != job_logs.end()) {
    return json_response(200, job_log_json(it->second));
  }
  if (rc.joblog_by_job_id) {
    for (const auto& [log_id, log] : job_logs) {
      if (log.job_id == id) return json_response(200, job_log_json(log));
    }
  }
  return error_response(404, "NotFound", "Application job log was not found");
}

Response Sandbox::Impl::list_job_logs(const Request& request)
{
  const json params = unflatten_parameters(request.query);
  long page = 0, per_page = 100;
  try {
    page = std::stol(params.value("page", "0"));
    per_page = std::stol(params.value("perPage", "100"));
  } catch (const std::exception&) {
    return validation_error("page and perPage must be whole numbers");
  }
  if (page < 0 || per_page < 1 || per_page > 1000) return validation_error("perPage must be between 1 and 1000");
  const std::string status = params.value("status", "");
  const bool ascending = params.value("sortDirection", "desc") == "asc";
  const bool visible = runtime().job_logs_visible;
  std::lock_guard lock(job_mutex);
  std::vector<const JobLog*> logs;
  for (const auto& [id, log] : job_logs) {
    if (visible && (status.empty() || log.status == status)) logs.push_back(&log);
  }
  // Newest first by default; ids grow with time, so they break ties.
  std::sort(logs.begin(), logs.end(),
            [&](const JobLog* a, const JobLog* b) { return ascending ? a->id < b->id : a->id > b->id; });
  json items = json::array();
  const std::size_t begin = static_cast<std::size_t>(page * per_page);
  for (std::size_t i = begin; i < logs.size() && i < begin + static_cast<std::size_t>(per_page); ++i) {
    items.push_back(job_log_json(*logs[i]));
  }
  json body = {
      {"items", items}, {"count", items.size()}, {"totalCount", logs.size()}, {"perPage", per_page}, {"page", page}};
  return json_response(200, body);
}

} // namespace fleetrun::sandbox
