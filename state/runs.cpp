// Runs: their rows, the newest first, and their removal.
#include "state/run_journal.hpp"
#include "state/sqlite.hpp"

#include <chrono>
#include <ctime>
#include <random>

namespace fleetrun::state {

using detail::now_ms;
using detail::Statement;

std::string RunJournal::new_run_id() const
{
  // Time-ordered and unique enough: r-YYYYMMDD-HHMMSS-xxxx.
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  std::random_device random;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", random() & 0xFFFFU);
  return std::string("r-") + stamp + "-" + suffix;
}

void RunJournal::insert_run(const RunRecord& run)
{
  Statement insert(impl().db,
                   "INSERT INTO runs (id, kind, status, plan_path, plan_hash, effective_hash, plan_text, api_url, "
                   "application_id, preview_run_id, created_ms, updated_ms, learned_rate, summary_json, "
                   "variables_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  insert.bind(1, run.id)
      .bind(2, std::string(to_string(run.kind)))
      .bind(3, std::string(to_string(run.status)))
      .bind(4, run.plan_path)
      .bind(5, run.plan_hash)
      .bind(6, run.effective_hash)
      .bind(7, run.plan_text)
      .bind(8, run.api_url)
      .bind(9, run.application_id)
      .bind(10, run.preview_run_id)
      .bind(11, run.created_ms)
      .bind(12, run.updated_ms)
      .bind(13, run.learned_rate)
      .bind(14, run.summary_json)
      .bind(15, run.variables_json)
      .run();
}

namespace {

constexpr RunKind k_run_kinds[] = {RunKind::preview, RunKind::apply};
constexpr RunStatus k_run_statuses[] = {RunStatus::previewed,   RunStatus::refused,   RunStatus::running,
                                        RunStatus::interrupted, RunStatus::completed, RunStatus::failed};

constexpr const char* k_run_columns =
    "id, kind, status, plan_path, plan_hash, effective_hash, plan_text, api_url, "
    "application_id, preview_run_id, created_ms, updated_ms, learned_rate, summary_json, variables_json";

RunRecord read_run(const Statement& row)
{
  RunRecord run;
  run.id = row.text(0);
  run.kind = detail::parse_enum(row.text(1), k_run_kinds);
  run.status = detail::parse_enum(row.text(2), k_run_statuses);
  run.plan_path = row.text(3);
  run.plan_hash = row.text(4);
  run.effective_hash = row.text(5);
  run.plan_text = row.text(6);
  run.api_url = row.text(7);
  run.application_id = row.text(8);
  run.preview_run_id = row.text(9);
  run.created_ms = row.integer(10);
  run.updated_ms = row.integer(11);
  run.learned_rate = row.real(12);
  run.summary_json = row.text(13);
  run.variables_json = row.text(14);
  return run;
}

} // namespace

std::optional<RunRecord> StateStore::run(const std::string& id) const
{
  Statement select(impl().db, (std::string("SELECT ") + k_run_columns + " FROM runs WHERE id = ?1").c_str());
  select.bind(1, id);
  if (!select.step()) return std::nullopt;
  return read_run(select);
}

std::vector<RunRecord> StateStore::runs() const
{
  Statement select(impl().db,
                   (std::string("SELECT ") + k_run_columns + " FROM runs ORDER BY created_ms DESC, id DESC").c_str());
  std::vector<RunRecord> out;
  while (select.step()) out.push_back(read_run(select));
  return out;
}

std::vector<std::string> StateStore::runs_read_by(const std::string& id) const
{
  Statement select(impl().db, "SELECT DISTINCT snapshot_run_id FROM steps WHERE run_id = ?1 AND snapshot_run_id != ?1 "
                              "UNION SELECT preview_run_id FROM runs WHERE id = ?1 AND preview_run_id != ''");
  select.bind(1, id);
  std::vector<std::string> out;
  while (select.step()) out.push_back(select.text(0));
  return out;
}

void RunJournal::delete_run(const std::string& id)
{
  auto transaction = this->transaction();
  Statement remove_devices(
      impl().db, "DELETE FROM list_devices WHERE list_id IN (SELECT list_id FROM device_lists WHERE run_id = ?1)");
  remove_devices.bind(1, id).run();
  for (const char* table : {"device_lists", "queries", "batches", "steps", "events", "run_locks"}) {
    Statement remove(impl().db, (std::string("DELETE FROM ") + table + " WHERE run_id = ?1").c_str());
    remove.bind(1, id).run();
  }
  Statement remove(impl().db, "DELETE FROM runs WHERE id = ?1");
  remove.bind(1, id).run();
  transaction.commit();
}

void RunJournal::reclaim_space()
{
  execute("VACUUM");
}

void RunJournal::set_run_status(const std::string& id, RunStatus status)
{
  Statement update(impl().db, "UPDATE runs SET status = ?2, updated_ms = ?3 WHERE id = ?1");
  update.bind(1, id).bind(2, std::string(to_string(status))).bind(3, now_ms()).run();
}

void RunJournal::set_run_summary(const std::string& id, const std::string& summary_json)
{
  Statement update(impl().db, "UPDATE runs SET summary_json = ?2, updated_ms = ?3 WHERE id = ?1");
  update.bind(1, id).bind(2, summary_json).bind(3, now_ms()).run();
}

void RunJournal::set_learned_rate(const std::string& id, double rate)
{
  Statement update(impl().db, "UPDATE runs SET learned_rate = ?2 WHERE id = ?1");
  update.bind(1, id).bind(2, rate).run();
}

} // namespace fleetrun::state
