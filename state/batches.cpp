// Steps and their batches: each batch's request, as sent, and its progress.
#include "state/run_journal.hpp"
#include "state/sqlite.hpp"

namespace fleetrun::state {

using detail::now_ms;
using detail::Statement;

namespace {
constexpr StepStatus k_step_statuses[] = {StepStatus::pending, StepStatus::running, StepStatus::done,
                                          StepStatus::failed};
constexpr BatchStatus k_batch_statuses[] = {BatchStatus::planned,  BatchStatus::sending, BatchStatus::retry_wait,
                                            BatchStatus::enqueued, BatchStatus::done,    BatchStatus::failed,
                                            BatchStatus::unknown};
} // namespace

void RunJournal::insert_step(const StepRecord& step)
{
  Statement insert(impl().db,
                   "INSERT INTO steps (run_id, step_index, step_id, action, query_name, snapshot_run_id, status, "
                   "device_count, batch_count, result_json, started_ms, finished_ms) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  insert.bind(1, step.run_id)
      .bind(2, step.index)
      .bind(3, step.step_id)
      .bind(4, step.action)
      .bind(5, step.query_name)
      .bind(6, step.snapshot_run_id)
      .bind(7, std::string(to_string(step.status)))
      .bind(8, step.device_count)
      .bind(9, step.batch_count)
      .bind(10, step.result_json)
      .bind(11, step.started_ms)
      .bind(12, step.finished_ms)
      .run();
}

std::vector<StepRecord> StateStore::steps(const std::string& run_id) const
{
  Statement select(impl().db, "SELECT run_id, step_index, step_id, action, query_name, snapshot_run_id, status, "
                              "device_count, batch_count, result_json, started_ms, finished_ms FROM steps "
                              "WHERE run_id = ?1 ORDER BY step_index");
  select.bind(1, run_id);
  std::vector<StepRecord> out;
  while (select.step()) {
    StepRecord step;
    step.run_id = select.text(0);
    step.index = static_cast<int>(select.integer(1));
    step.step_id = select.text(2);
    step.action = select.text(3);
    step.query_name = select.text(4);
    step.snapshot_run_id = select.text(5);
    step.status = detail::parse_enum(select.text(6), k_step_statuses);
    step.device_count = select.integer(7);
    step.batch_count = static_cast<int>(select.integer(8));
    step.result_json = select.text(9);
    step.started_ms = select.integer(10);
    step.finished_ms = select.integer(11);
    out.push_back(std::move(step));
  }
  return out;
}

void RunJournal::update_step(const StepRecord& step)
{
  Statement update(impl().db, "UPDATE steps SET status = ?3, device_count = ?4, batch_count = ?5, result_json = ?6, "
                              "started_ms = ?7, finished_ms = ?8 WHERE run_id = ?1 AND step_index = ?2");
  update.bind(1, step.run_id)
      .bind(2, step.index)
      .bind(3, std::string(to_string(step.status)))
      .bind(4, step.device_count)
      .bind(5, step.batch_count)
      .bind(6, step.result_json)
      .bind(7, step.started_ms)
      .bind(8, step.finished_ms)
      .run();
}

namespace {

constexpr const char* k_batch_columns =
    "run_id, step_index, batch_index, status, device_ids_json, device_count, method, path, "
    "body, request_hash, attempts, http_status, response, job_id, job_status, "
    "job_progress, error, next_attempt_ms, sent_ms, finished_ms, outcome_json";

void bind_batch(Statement& statement, const BatchRecord& b)
{
  statement.bind(1, b.run_id)
      .bind(2, b.step_index)
      .bind(3, b.batch_index)
      .bind(4, std::string(to_string(b.status)))
      .bind(5, b.device_ids_json)
      .bind(6, b.device_count)
      .bind(7, b.method)
      .bind(8, b.path)
      .bind(9, b.body)
      .bind(10, b.request_hash)
      .bind(11, b.attempts)
      .bind(12, b.http_status)
      .bind(13, b.response)
      .bind(14, b.job_id)
      .bind(15, b.job_status)
      .bind(16, b.job_progress)
      .bind(17, b.error)
      .bind(18, b.next_attempt_ms)
      .bind(19, b.sent_ms)
      .bind(20, b.finished_ms)
      .bind(21, b.outcome_json);
}

BatchRecord read_batch(const Statement& row)
{
  BatchRecord b;
  b.run_id = row.text(0);
  b.step_index = static_cast<int>(row.integer(1));
  b.batch_index = static_cast<int>(row.integer(2));
  b.status = detail::parse_enum(row.text(3), k_batch_statuses);
  b.device_ids_json = row.text(4);
  b.device_count = row.integer(5);
  b.method = row.text(6);
  b.path = row.text(7);
  b.body = row.text(8);
  b.request_hash = row.text(9);
  b.attempts = static_cast<int>(row.integer(10));
  b.http_status = static_cast<int>(row.integer(11));
  b.response = row.text(12);
  b.job_id = row.text(13);
  b.job_status = row.text(14);
  b.job_progress = row.text(15);
  b.error = row.text(16);
  b.next_attempt_ms = row.integer(17);
  b.sent_ms = row.integer(18);
  b.finished_ms = row.integer(19);
  b.outcome_json = row.text(20);
  return b;
}

} // namespace

void RunJournal::insert_batch(const BatchRecord& batch)
{
  Statement insert(impl().db, (std::string("INSERT INTO batches (") + k_batch_columns +
                               ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
                               "?18, ?19, ?20, ?21)")
                                  .c_str());
  bind_batch(insert, batch);
  insert.run();
}

std::vector<BatchRecord> StateStore::batches(const std::string& run_id, int step_index, bool with_requests) const
{
  // Without requests: the same columns, the device ids and body left empty.
  std::string columns = k_batch_columns;
  if (!with_requests) {
    columns.replace(columns.find("device_ids_json"), std::string_view("device_ids_json").size(), "'[]'");
    columns.replace(columns.find("body"), std::string_view("body").size(), "''");
  }
  Statement select(
      impl().db,
      ("SELECT " + columns + " FROM batches WHERE run_id = ?1 AND step_index = ?2 ORDER BY batch_index").c_str());
  select.bind(1, run_id).bind(2, step_index);
  std::vector<BatchRecord> out;
  while (select.step()) out.push_back(read_batch(select));
  return out;
}

std::optional<BatchRecord> StateStore::batch(const std::string& run_id, int step_index, int batch_index) const
{
  Statement select(impl().db, (std::string("SELECT ") + k_batch_columns +
                               " FROM batches WHERE run_id = ?1 AND step_index = ?2 AND batch_index = ?3")
                                  .c_str());
  select.bind(1, run_id).bind(2, step_index).bind(3, batch_index);
  if (!select.step()) return std::nullopt;
  return read_batch(select);
}

void RunJournal::update_batch(const BatchRecord& batch)
{
  Statement update(impl().db, "UPDATE batches SET status = ?4, device_ids_json = ?5, device_count = ?6, method = ?7, "
                              "path = ?8, body = ?9, request_hash = ?10, attempts = ?11, http_status = ?12, "
                              "response = ?13, job_id = ?14, job_status = ?15, job_progress = ?16, error = ?17, "
                              "next_attempt_ms = ?18, sent_ms = ?19, finished_ms = ?20, outcome_json = ?21 "
                              "WHERE run_id = ?1 AND step_index = ?2 AND batch_index = ?3");
  bind_batch(update, batch);
  update.run();
}

void RunJournal::update_batch_progress(const BatchRecord& batch)
{
  Statement update(impl().db, "UPDATE batches SET status = ?4, attempts = ?11, http_status = ?12, "
                              "response = ?13, job_id = ?14, job_status = ?15, job_progress = ?16, error = ?17, "
                              "next_attempt_ms = ?18, sent_ms = ?19, finished_ms = ?20, outcome_json = ?21 "
                              "WHERE run_id = ?1 AND step_index = ?2 AND batch_index = ?3");
  bind_batch(update, batch);
  update.run();
}

} // namespace fleetrun::state
