// Device lists: each query's devices, resolved page by page, read back in id order.
#include "state/run_journal.hpp"
#include "state/sqlite.hpp"

namespace fleetrun::state {

using detail::Statement;

void RunJournal::upsert_query(const QueryRecord& query)
{
  Statement upsert(impl().db,
                   "INSERT INTO queries (run_id, name, query_json, total, resolved) VALUES (?1, ?2, ?3, ?4, ?5) "
                   "ON CONFLICT (run_id, name) DO UPDATE SET query_json = ?3, total = ?4, resolved = ?5");
  upsert.bind(1, query.run_id)
      .bind(2, query.name)
      .bind(3, query.query_json)
      .bind(4, query.total)
      .bind(5, query.resolved ? 1 : 0)
      .run();
}

std::optional<QueryRecord> StateStore::query(const std::string& run_id, const std::string& name) const
{
  Statement select(impl().db,
                   "SELECT run_id, name, query_json, total, resolved FROM queries WHERE run_id = ?1 AND name = ?2");
  select.bind(1, run_id).bind(2, name);
  if (!select.step()) return std::nullopt;
  return QueryRecord{select.text(0), select.text(1), select.text(2), select.integer(3), select.integer(4) != 0};
}

std::vector<QueryRecord> StateStore::queries(const std::string& run_id) const
{
  Statement select(impl().db,
                   "SELECT run_id, name, query_json, total, resolved FROM queries WHERE run_id = ?1 ORDER BY name");
  select.bind(1, run_id);
  std::vector<QueryRecord> out;
  while (select.step())
    out.push_back({select.text(0), select.text(1), select.text(2), select.integer(3), select.integer(4) != 0});
  return out;
}

void RunJournal::clear_query_devices(const std::string& run_id, const std::string& name)
{
  Statement remove(impl().db, "DELETE FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID);
  remove.bind(1, run_id).bind(2, name).run();
}

void RunJournal::append_devices(const std::string& run_id, const std::string& name,
                                const std::vector<std::pair<std::string, std::string>>& devices)
{
  Transaction transaction(*this);
  Statement list(impl().db, "INSERT OR IGNORE INTO device_lists (run_id, query_name) VALUES (?1, ?2)");
  list.bind(1, run_id).bind(2, name).run();
  Statement find(impl().db, "SELECT list_id FROM device_lists WHERE run_id = ?1 AND query_name = ?2");
  find.bind(1, run_id).bind(2, name);
  if (!find.step()) throw StateFailure("device list " + run_id + "/" + name + " could not be made in " + path());
  const std::int64_t list_id = find.integer(0);
  // A device a page repeats (the fleet changed between pages) is kept once.
  Statement insert(impl().db, "INSERT OR IGNORE INTO list_devices (list_id, device_id, document) VALUES (?1, ?2, ?3)");
  for (const auto& [id, document] : devices) {
    insert.bind(1, list_id).bind(2, id).bind(3, document).run();
    insert.reset();
  }
  transaction.commit();
}

std::int64_t StateStore::device_count(const std::string& run_id, const std::string& name) const
{
  Statement count(impl().db, "SELECT count(*) FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID);
  count.bind(1, run_id).bind(2, name);
  return count.step() ? count.integer(0) : 0;
}

void StateStore::for_each_device(const std::string& run_id, const std::string& name, bool with_documents,
                                 const std::function<void(const std::string&, const std::string&)>& visit,
                                 std::int64_t limit) const
{
  Statement select(impl().db, with_documents
                                  ? "SELECT device_id, document FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID
                                    " ORDER BY device_id LIMIT ?3"
                                  : "SELECT device_id, '' FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID
                                    " ORDER BY device_id LIMIT ?3");
  select.bind(1, run_id).bind(2, name).bind(3, limit);
  while (select.step()) visit(select.text(0), select.text(1));
}

void StateStore::for_each_device_excluding(const std::string& run_id, const std::string& name,
                                           const std::vector<std::string>& excluded,
                                           const std::function<void(const std::string& id)>& visit) const
{
  std::string sql = "SELECT device_id FROM list_devices a WHERE a.list_id = " FLEETRUN_LIST_ID;
  for (std::size_t i = 0; i < excluded.size(); ++i) {
    sql += " AND NOT EXISTS (SELECT 1 FROM list_devices b WHERE b.list_id = (SELECT list_id FROM device_lists WHERE "
           "run_id = ?1 AND query_name = ?" +
           std::to_string(i + 3) + ") AND b.device_id = a.device_id)";
  }
  sql += " ORDER BY a.device_id";
  Statement select(impl().db, sql.c_str());
  select.bind(1, run_id).bind(2, name);
  for (std::size_t i = 0; i < excluded.size(); ++i) select.bind(static_cast<int>(i + 3), excluded[i]);
  while (select.step()) visit(select.text(0));
}

namespace {

class SqlDeviceCursor final : public StateStore::DeviceCursor {
public:
  SqlDeviceCursor(sqlite3* db, const std::string& run_id, const std::string& name, bool with_documents)
      : m_select(db, with_documents ? "SELECT device_id, document FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID
                                      " ORDER BY device_id"
                                    : "SELECT device_id, '' FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID
                                      " ORDER BY device_id")
  {
    m_select.bind(1, run_id).bind(2, name);
  }
  bool next() override
  {
    if (!m_select.step()) return false;
    m_id = m_select.text(0);
    m_document = m_select.text(1);
    return true;
  }
  const std::string& id() const override { return m_id; }
  const std::string& document() const override { return m_document; }

private:
  Statement m_select;
  std::string m_id;
  std::string m_document;
};

} // namespace

std::unique_ptr<StateStore::DeviceCursor> StateStore::devices_by_id(const std::string& run_id, const std::string& name,
                                                                    bool with_documents) const
{
  return std::make_unique<SqlDeviceCursor>(impl().db, run_id, name, with_documents);
}

std::vector<std::string> StateStore::devices_missing_from(const std::string& a_run, const std::string& a_name,
                                                          const std::string& b_run, const std::string& b_name,
                                                          std::int64_t limit, std::int64_t& total) const
{
  const char* k_sql =
      "SELECT device_id FROM list_devices a WHERE a.list_id = " FLEETRUN_LIST_ID " AND NOT EXISTS "
      "(SELECT 1 FROM list_devices b WHERE b.list_id = (SELECT list_id FROM device_lists WHERE run_id = ?3 AND "
      "query_name = ?4) AND b.device_id = a.device_id) ORDER BY a.device_id";
  Statement select(impl().db, k_sql);
  select.bind(1, a_run).bind(2, a_name).bind(3, b_run).bind(4, b_name);
  std::vector<std::string> sample;
  total = 0;
  while (select.step()) {
    if (total++ < limit) sample.push_back(select.text(0));
  }
  return sample;
}

} // namespace fleetrun::state
