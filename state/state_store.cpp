#include "state/state_store.hpp"

#include <sqlite3.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace fleetrun::state {

namespace {

std::int64_t now_ms()
{
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The schema of version 1. Every table is keyed by run, so one file holds many
// runs; see docs/STATE.md.
constexpr const char* k_schema_v1 = R"sql(
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  plan_path TEXT NOT NULL,
  plan_hash TEXT NOT NULL,
  effective_hash TEXT NOT NULL,
  plan_text TEXT NOT NULL,
  api_url TEXT NOT NULL,
  application_id TEXT NOT NULL,
  preview_run_id TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  learned_rate REAL NOT NULL DEFAULT 0,
  summary_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE queries (
  run_id TEXT NOT NULL REFERENCES runs(id),
  name TEXT NOT NULL,
  query_json TEXT NOT NULL,
  total INTEGER NOT NULL DEFAULT 0,
  resolved INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, name)
);
CREATE TABLE query_devices (
  run_id TEXT NOT NULL,
  query_name TEXT NOT NULL,
  position INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY (run_id, query_name, position)
) WITHOUT ROWID;
CREATE INDEX query_devices_by_id ON query_devices (run_id, query_name, device_id);
CREATE TABLE steps (
  run_id TEXT NOT NULL REFERENCES runs(id),
  step_index INTEGER NOT NULL,
  step_id TEXT NOT NULL,
  action TEXT NOT NULL,
  query_name TEXT NOT NULL,
  snapshot_run_id TEXT NOT NULL,
  status TEXT NOT NULL,
  device_count INTEGER NOT NULL DEFAULT 0,
  batch_count INTEGER NOT NULL DEFAULT 0,
  result_json TEXT NOT NULL DEFAULT '{}',
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, step_index)
);
CREATE TABLE batches (
  run_id TEXT NOT NULL,
  step_index INTEGER NOT NULL,
  batch_index INTEGER NOT NULL,
  status TEXT NOT NULL,
  device_ids_json TEXT NOT NULL,
  device_count INTEGER NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  body TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  http_status INTEGER NOT NULL DEFAULT 0,
  response TEXT NOT NULL DEFAULT '',
  job_id TEXT NOT NULL DEFAULT '',
  job_status TEXT NOT NULL DEFAULT '',
  job_progress TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  sent_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  outcome_json TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, step_index, batch_index)
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE TABLE run_locks (
  run_id TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  process_start TEXT NOT NULL,
  host TEXT NOT NULL,
  acquired_ms INTEGER NOT NULL,
  heartbeat_ms INTEGER NOT NULL
);
)sql";

// Migrations, each taking a file from version N to N + 1 (the first: 1 to 2).
// A new file gets version 1's schema and then every migration, so that one
// path is exercised however a file came to be.
constexpr std::array<const char*, 2> k_migrations = {
    // 2: the ${VAR}s a run's plan used: names and the SHA-256 of their values
    // (a changed plan is refused naming them, never showing a value).
    "ALTER TABLE runs ADD COLUMN variables_json TEXT NOT NULL DEFAULT '{}';",
    // 3: device lists in one B-tree keyed by (list, device id), lists named
    // once: a million devices are inserted into one tree, not two, and a row
    // no longer repeats its run id and query name.
    R"sql(
CREATE TABLE device_lists (
  list_id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  query_name TEXT NOT NULL,
  UNIQUE (run_id, query_name)
);
CREATE TABLE list_devices (
  list_id INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY (list_id, device_id)
) WITHOUT ROWID;
INSERT INTO device_lists (run_id, query_name) SELECT DISTINCT run_id, query_name FROM query_devices;
INSERT OR IGNORE INTO list_devices (list_id, device_id, document)
  SELECT l.list_id, q.device_id, q.document FROM query_devices q
  JOIN device_lists l ON l.run_id = q.run_id AND l.query_name = q.query_name;
DROP TABLE query_devices;
)sql",
};
static_assert(k_migrations.size() + 1 == k_schema_version, "k_schema_version is 1 + the migrations");

std::string this_host()
{
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot.
std::string process_start_of(std::int64_t pid)
{
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')'); // the command name may contain spaces
  if (close == std::string::npos) return {};
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return field;
  }
  return {};
}

// "state file /x/p.fleetrun.db: database or disk is full".
std::string describe_failure(sqlite3* db)
{
  const char* file = sqlite3_db_filename(db, "main");
  return "state file " + std::string(file != nullptr ? file : "") + ": " + sqlite3_errmsg(db);
}

class Statement {
public:
  Statement(sqlite3* db, const char* sql) : m_db(db)
  {
    if (sqlite3_prepare_v2(db, sql, -1, &m_statement, nullptr) != SQLITE_OK) {
      throw StateFailure(describe_failure(db));
    }
  }
  ~Statement() { sqlite3_finalize(m_statement); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& value)
  {
    sqlite3_bind_text(m_statement, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, std::int64_t value)
  {
    sqlite3_bind_int64(m_statement, index, value);
    return *this;
  }
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value)
  {
    sqlite3_bind_double(m_statement, index, value);
    return *this;
  }

  // True while there is a row.
  bool step()
  {
    const int rc = sqlite3_step(m_statement);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StateFailure(describe_failure(m_db));
  }
  void run()
  {
    while (step()) {
    }
  }
  void reset()
  {
    sqlite3_reset(m_statement);
    sqlite3_clear_bindings(m_statement);
  }

  std::string text(int column) const
  {
    const auto* data = sqlite3_column_text(m_statement, column);
    return data == nullptr ? std::string()
                           : std::string(reinterpret_cast<const char*>(data),
                                         static_cast<std::size_t>(sqlite3_column_bytes(m_statement, column)));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(m_statement, column); }
  double real(int column) const { return sqlite3_column_double(m_statement, column); }

private:
  sqlite3* m_db;
  sqlite3_stmt* m_statement = nullptr;
};

template <class Enum, std::size_t N>
Enum parse_enum(const std::string& text, const std::array<std::pair<Enum, std::string_view>, N>& table)
{
  for (const auto& [value, name] : table) {
    if (name == text) return value;
  }
  throw StateFailure("state file: unknown value \"" + text + "\"");
}

template <class Enum, std::size_t N>
std::string_view enum_name(Enum value, const std::array<std::pair<Enum, std::string_view>, N>& table)
{
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

constexpr std::array<std::pair<RunKind, std::string_view>, 2> k_run_kinds = {
    {{RunKind::preview, "preview"}, {RunKind::apply, "apply"}}};
constexpr std::array<std::pair<RunStatus, std::string_view>, 6> k_run_statuses = {
    {{RunStatus::previewed, "previewed"},
     {RunStatus::refused, "refused"},
     {RunStatus::running, "running"},
     {RunStatus::interrupted, "interrupted"},
     {RunStatus::completed, "completed"},
     {RunStatus::failed, "failed"}}};
constexpr std::array<std::pair<StepStatus, std::string_view>, 4> k_step_statuses = {{{StepStatus::pending, "pending"},
                                                                                     {StepStatus::running, "running"},
                                                                                     {StepStatus::done, "done"},
                                                                                     {StepStatus::failed, "failed"}}};
constexpr std::array<std::pair<BatchStatus, std::string_view>, 7> k_batch_statuses = {
    {{BatchStatus::planned, "planned"},
     {BatchStatus::sending, "sending"},
     {BatchStatus::retry_wait, "retry_wait"},
     {BatchStatus::enqueued, "enqueued"},
     {BatchStatus::done, "done"},
     {BatchStatus::failed, "failed"},
     {BatchStatus::unknown, "unknown"}}};

} // namespace

std::string_view to_string(RunKind kind)
{
  return enum_name(kind, k_run_kinds);
}
std::string_view to_string(RunStatus status)
{
  return enum_name(status, k_run_statuses);
}
std::string_view to_string(StepStatus status)
{
  return enum_name(status, k_step_statuses);
}
std::string_view to_string(BatchStatus status)
{
  return enum_name(status, k_batch_statuses);
}

std::optional<BatchStatus> batch_status_from(std::string_view text)
{
  for (const auto& [value, name] : k_batch_statuses) {
    if (name == text) return value;
  }
  return std::nullopt;
}

struct StateStore::Impl {
  sqlite3* db = nullptr;
  int transaction_depth = 0;
  dev_t device = 0; // the opened file's identity
  ino_t inode = 0;
};

StateStore::StateStore(std::string path, void* db) : m_path(std::move(path)), m_impl(std::make_unique<Impl>())
{
  m_impl->db = static_cast<sqlite3*>(db);
}

StateStore::~StateStore()
{
  sqlite3_close(m_impl->db);
}

void StateStore::execute(const std::string& sql)
{
  char* error = nullptr;
  if (sqlite3_exec(m_impl->db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    throw StateFailure("state file " + std::string(sqlite3_db_filename(m_impl->db, "main")) + ": " + message);
  }
}

std::expected<std::unique_ptr<StateStore>, StateError> StateStore::open(const std::string& path, OpenMode mode)
{
  const bool exists = access(path.c_str(), F_OK) == 0;
  if (!exists && mode == OpenMode::must_exist) {
    return std::unexpected(
        StateError{"no state file at " + path + " (give --state FILE, or run `fleetrun plan` or `apply` first)"});
  }
  if (!exists) {
    // Created here, owner-only, before SQLite opens it: it records device ids,
    // request bodies and answers, which are nobody else's business.
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
      return std::unexpected(StateError{"cannot create state file " + path + ": " + std::strerror(errno)});
    }
    if (fd >= 0) ::close(fd);
  }
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (mode == OpenMode::create_if_missing ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return std::unexpected(StateError{"cannot open state file " + path + ": " + message});
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<StateStore> store(new StateStore(path, db));
  struct stat identity {};
  if (::stat(path.c_str(), &identity) == 0) {
    store->m_impl->device = identity.st_dev;
    store->m_impl->inode = identity.st_ino;
  }
  try {
    std::int64_t application_id = 0;
    std::int64_t version = 0;
    std::int64_t tables = 0;
    {
      Statement read(db, "PRAGMA application_id");
      if (read.step()) application_id = read.integer(0);
    }
    {
      Statement read(db, "PRAGMA user_version");
      if (read.step()) version = read.integer(0);
    }
    {
      Statement read(db, "SELECT count(*) FROM sqlite_master");
      if (read.step()) tables = read.integer(0);
    }
    if (application_id == 0 && version == 0 && tables == 0) {
      // Device documents are about 1 KB: 16 KB pages hold them with less
      // b-tree overhead than the default 4 KB (set before the first table).
      store->execute("PRAGMA page_size=16384");
      store->execute("PRAGMA journal_mode=WAL");
      store->execute("BEGIN IMMEDIATE");
      store->execute(k_schema_v1);
      for (const char* migration : k_migrations) store->execute(migration);
      store->execute("PRAGMA application_id=" + std::to_string(k_application_id));
      store->execute("PRAGMA user_version=" + std::to_string(k_schema_version));
      store->execute("COMMIT");
    } else if (application_id != static_cast<std::int64_t>(k_application_id)) {
      return std::unexpected(
          StateError{path + " is a SQLite database but not a fleetrun state file; refusing to touch it"});
    } else if (version > k_schema_version) {
      return std::unexpected(StateError{path + " was written by a newer fleetrun (state schema " +
                                        std::to_string(version) + "); this fleetrun reads schema " +
                                        std::to_string(k_schema_version) + " and older. Use the newer fleetrun."});
    } else if (version < 1) {
      return std::unexpected(StateError{path + " has an unknown state schema version " + std::to_string(version)});
    } else if (version < k_schema_version) {
      // An older file: brought up to date in one transaction.
      store->execute("BEGIN IMMEDIATE");
      for (auto v = version; v < k_schema_version; ++v) store->execute(k_migrations[static_cast<std::size_t>(v - 1)]);
      store->execute("PRAGMA user_version=" + std::to_string(k_schema_version));
      store->execute("COMMIT");
    }
    store->execute("PRAGMA journal_mode=WAL");
    store->execute("PRAGMA synchronous=FULL");
    store->execute("PRAGMA foreign_keys=ON");
  } catch (const std::exception& error) {
    std::string message = error.what();
    if (message.find("file is not a database") != std::string::npos) {
      return std::unexpected(
          StateError{path + " is not a fleetrun state file (not a SQLite database); refusing to touch it"});
    }
    return std::unexpected(StateError{path + ": " + message});
  }
  return store;
}

void StateStore::check_still_there() const
{
  struct stat identity {};
  if (::stat(m_path.c_str(), &identity) != 0) {
    throw StateFailure("the state file " + m_path +
                       " was deleted while this command was using it; stopping (nothing further is sent)");
  }
  if (identity.st_dev != m_impl->device || identity.st_ino != m_impl->inode) {
    throw StateFailure("the state file " + m_path +
                       " was replaced by another file while this command was using it; stopping");
  }
}

Transaction StateStore::transaction()
{
  return Transaction(*this);
}

int StateStore::synchronous() const
{
  Statement read(m_impl->db, "PRAGMA synchronous");
  return read.step() ? static_cast<int>(read.integer(0)) : -1;
}

RelaxedDurability::RelaxedDurability(StateStore& store) : m_store(&store)
{
  m_store->execute("PRAGMA synchronous=NORMAL");
}

RelaxedDurability::~RelaxedDurability()
{
  try {
    restore();
  } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw; the next open sets FULL again
  }
}

void RelaxedDurability::relax()
{
  if (!m_restored) return;
  m_restored = false;
  m_store->execute("PRAGMA synchronous=NORMAL");
}

void RelaxedDurability::restore()
{
  if (m_restored) return;
  m_restored = true;
  m_store->execute("PRAGMA synchronous=FULL");
}

// The outermost transaction is BEGIN IMMEDIATE ... COMMIT; one opened inside
// it is a SAVEPOINT, so that rolling the inner one back undoes its writes
// only, and the outer one decides about everything.
Transaction::Transaction(StateStore& store) : m_store(&store), m_depth(++store.m_impl->transaction_depth)
{
  try {
    m_store->execute(m_depth == 1 ? std::string("BEGIN IMMEDIATE") : "SAVEPOINT t" + std::to_string(m_depth));
  } catch (...) {
    --m_store->m_impl->transaction_depth;
    throw;
  }
}

Transaction::Transaction(Transaction&& other) noexcept
    : m_store(other.m_store), m_depth(other.m_depth), m_done(other.m_done)
{
  other.m_done = true;
}

Transaction::~Transaction()
{
  if (m_done) return;
  --m_store->m_impl->transaction_depth;
  try {
    if (m_depth == 1) {
      m_store->execute("ROLLBACK");
    } else {
      m_store->execute("ROLLBACK TO t" + std::to_string(m_depth) + "; RELEASE t" + std::to_string(m_depth));
    }
  } catch (const std::exception&) { // nothing more to do in a destructor
  }
}

void Transaction::commit()
{
  if (m_done) return;
  if (m_store->m_impl->transaction_depth != m_depth) {
    throw StateFailure("state file: a transaction was committed while an inner one was still open");
  }
  m_store->execute(m_depth == 1 ? std::string("COMMIT") : "RELEASE t" + std::to_string(m_depth));
  m_done = true;
  --m_store->m_impl->transaction_depth;
}

std::string StateStore::new_run_id() const
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

void StateStore::insert_run(const RunRecord& run)
{
  Statement insert(m_impl->db,
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

constexpr const char* k_run_columns =
    "id, kind, status, plan_path, plan_hash, effective_hash, plan_text, api_url, "
    "application_id, preview_run_id, created_ms, updated_ms, learned_rate, summary_json, variables_json";

RunRecord read_run(const Statement& row)
{
  RunRecord run;
  run.id = row.text(0);
  run.kind = parse_enum(row.text(1), k_run_kinds);
  run.status = parse_enum(row.text(2), k_run_statuses);
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
  Statement select(m_impl->db, (std::string("SELECT ") + k_run_columns + " FROM runs WHERE id = ?1").c_str());
  select.bind(1, id);
  if (!select.step()) return std::nullopt;
  return read_run(select);
}

std::vector<RunRecord> StateStore::runs() const
{
  Statement select(m_impl->db,
                   (std::string("SELECT ") + k_run_columns + " FROM runs ORDER BY created_ms DESC, id DESC").c_str());
  std::vector<RunRecord> out;
  while (select.step()) out.push_back(read_run(select));
  return out;
}

std::vector<std::string> StateStore::runs_read_by(const std::string& id) const
{
  Statement select(m_impl->db, "SELECT DISTINCT snapshot_run_id FROM steps WHERE run_id = ?1 AND snapshot_run_id != ?1 "
                               "UNION SELECT preview_run_id FROM runs WHERE id = ?1 AND preview_run_id != ''");
  select.bind(1, id);
  std::vector<std::string> out;
  while (select.step()) out.push_back(select.text(0));
  return out;
}

void StateStore::delete_run(const std::string& id)
{
  auto transaction = this->transaction();
  Statement remove_devices(m_impl->db,
                           "DELETE FROM list_devices WHERE list_id IN (SELECT list_id FROM device_lists WHERE run_id = ?1)");
  remove_devices.bind(1, id).run();
  for (const char* table : {"device_lists", "queries", "batches", "steps", "events", "run_locks"}) {
    Statement remove(m_impl->db, (std::string("DELETE FROM ") + table + " WHERE run_id = ?1").c_str());
    remove.bind(1, id).run();
  }
  Statement remove(m_impl->db, "DELETE FROM runs WHERE id = ?1");
  remove.bind(1, id).run();
  transaction.commit();
}

void StateStore::reclaim_space()
{
  execute("VACUUM");
}

void StateStore::set_run_status(const std::string& id, RunStatus status)
{
  Statement update(m_impl->db, "UPDATE runs SET status = ?2, updated_ms = ?3 WHERE id = ?1");
  update.bind(1, id).bind(2, std::string(to_string(status))).bind(3, now_ms()).run();
}

void StateStore::set_run_summary(const std::string& id, const std::string& summary_json)
{
  Statement update(m_impl->db, "UPDATE runs SET summary_json = ?2, updated_ms = ?3 WHERE id = ?1");
  update.bind(1, id).bind(2, summary_json).bind(3, now_ms()).run();
}

void StateStore::set_learned_rate(const std::string& id, double rate)
{
  Statement update(m_impl->db, "UPDATE runs SET learned_rate = ?2 WHERE id = ?1");
  update.bind(1, id).bind(2, rate).run();
}

void StateStore::upsert_query(const QueryRecord& query)
{
  Statement upsert(m_impl->db,
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
  Statement select(m_impl->db,
                   "SELECT run_id, name, query_json, total, resolved FROM queries WHERE run_id = ?1 AND name = ?2");
  select.bind(1, run_id).bind(2, name);
  if (!select.step()) return std::nullopt;
  return QueryRecord{select.text(0), select.text(1), select.text(2), select.integer(3), select.integer(4) != 0};
}

std::vector<QueryRecord> StateStore::queries(const std::string& run_id) const
{
  Statement select(m_impl->db,
                   "SELECT run_id, name, query_json, total, resolved FROM queries WHERE run_id = ?1 ORDER BY name");
  select.bind(1, run_id);
  std::vector<QueryRecord> out;
  while (select.step())
    out.push_back({select.text(0), select.text(1), select.text(2), select.integer(3), select.integer(4) != 0});
  return out;
}

// A device list's rows are found by its list id: ?1 and ?2 are the run and the query.
#define FLEETRUN_LIST_ID "(SELECT list_id FROM device_lists WHERE run_id = ?1 AND query_name = ?2)"

void StateStore::clear_query_devices(const std::string& run_id, const std::string& name)
{
  Statement remove(m_impl->db, "DELETE FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID);
  remove.bind(1, run_id).bind(2, name).run();
}

void StateStore::append_devices(const std::string& run_id, const std::string& name,
                                const std::vector<std::pair<std::string, std::string>>& devices)
{
  Transaction transaction(*this);
  Statement list(m_impl->db, "INSERT OR IGNORE INTO device_lists (run_id, query_name) VALUES (?1, ?2)");
  list.bind(1, run_id).bind(2, name).run();
  Statement find(m_impl->db, "SELECT list_id FROM device_lists WHERE run_id = ?1 AND query_name = ?2");
  find.bind(1, run_id).bind(2, name);
  if (!find.step()) throw StateFailure("device list " + run_id + "/" + name + " could not be made in " + path());
  const std::int64_t list_id = find.integer(0);
  // A device a page repeats (the fleet changed between pages) is kept once.
  Statement insert(m_impl->db, "INSERT OR IGNORE INTO list_devices (list_id, device_id, document) VALUES (?1, ?2, ?3)");
  for (const auto& [id, document] : devices) {
    insert.bind(1, list_id).bind(2, id).bind(3, document).run();
    insert.reset();
  }
  transaction.commit();
}

std::int64_t StateStore::device_count(const std::string& run_id, const std::string& name) const
{
  Statement count(m_impl->db, "SELECT count(*) FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID);
  count.bind(1, run_id).bind(2, name);
  return count.step() ? count.integer(0) : 0;
}

void StateStore::for_each_device(const std::string& run_id, const std::string& name, bool with_documents,
                                 const std::function<void(const std::string&, const std::string&)>& visit,
                                 std::int64_t limit) const
{
  Statement select(m_impl->db, with_documents ? "SELECT device_id, document FROM list_devices WHERE list_id = "
                                                FLEETRUN_LIST_ID " ORDER BY device_id LIMIT ?3"
                                              : "SELECT device_id, '' FROM list_devices WHERE list_id = "
                                                FLEETRUN_LIST_ID " ORDER BY device_id LIMIT ?3");
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
  Statement select(m_impl->db, sql.c_str());
  select.bind(1, run_id).bind(2, name);
  for (std::size_t i = 0; i < excluded.size(); ++i) select.bind(static_cast<int>(i + 3), excluded[i]);
  while (select.step()) visit(select.text(0));
}

namespace {

class SqlDeviceCursor final : public StateStore::DeviceCursor {
public:
  SqlDeviceCursor(sqlite3* db, const std::string& run_id, const std::string& name, bool with_documents)
      : m_select(db, with_documents
                         ? "SELECT device_id, document FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID
                           " ORDER BY device_id"
                         : "SELECT device_id, '' FROM list_devices WHERE list_id = " FLEETRUN_LIST_ID " ORDER BY device_id")
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
  return std::make_unique<SqlDeviceCursor>(m_impl->db, run_id, name, with_documents);
}

std::vector<std::string> StateStore::devices_missing_from(const std::string& a_run, const std::string& a_name,
                                                          const std::string& b_run, const std::string& b_name,
                                                          std::int64_t limit, std::int64_t& total) const
{
  const char* k_sql =
      "SELECT device_id FROM list_devices a WHERE a.list_id = " FLEETRUN_LIST_ID " AND NOT EXISTS "
      "(SELECT 1 FROM list_devices b WHERE b.list_id = (SELECT list_id FROM device_lists WHERE run_id = ?3 AND "
      "query_name = ?4) AND b.device_id = a.device_id) ORDER BY a.device_id";
  Statement select(m_impl->db, k_sql);
  select.bind(1, a_run).bind(2, a_name).bind(3, b_run).bind(4, b_name);
  std::vector<std::string> sample;
  total = 0;
  while (select.step()) {
    if (total++ < limit) sample.push_back(select.text(0));
  }
  return sample;
}

void StateStore::insert_step(const StepRecord& step)
{
  Statement insert(m_impl->db,
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
  Statement select(m_impl->db, "SELECT run_id, step_index, step_id, action, query_name, snapshot_run_id, status, "
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
    step.status = parse_enum(select.text(6), k_step_statuses);
    step.device_count = select.integer(7);
    step.batch_count = static_cast<int>(select.integer(8));
    step.result_json = select.text(9);
    step.started_ms = select.integer(10);
    step.finished_ms = select.integer(11);
    out.push_back(std::move(step));
  }
  return out;
}

void StateStore::update_step(const StepRecord& step)
{
  Statement update(m_impl->db, "UPDATE steps SET status = ?3, device_count = ?4, batch_count = ?5, result_json = ?6, "
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
  b.status = parse_enum(row.text(3), k_batch_statuses);
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

void StateStore::insert_batch(const BatchRecord& batch)
{
  Statement insert(m_impl->db, (std::string("INSERT INTO batches (") + k_batch_columns +
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
      m_impl->db,
      ("SELECT " + columns + " FROM batches WHERE run_id = ?1 AND step_index = ?2 ORDER BY batch_index").c_str());
  select.bind(1, run_id).bind(2, step_index);
  std::vector<BatchRecord> out;
  while (select.step()) out.push_back(read_batch(select));
  return out;
}

std::optional<BatchRecord> StateStore::batch(const std::string& run_id, int step_index, int batch_index) const
{
  Statement select(m_impl->db, (std::string("SELECT ") + k_batch_columns +
                                " FROM batches WHERE run_id = ?1 AND step_index = ?2 AND batch_index = ?3")
                                   .c_str());
  select.bind(1, run_id).bind(2, step_index).bind(3, batch_index);
  if (!select.step()) return std::nullopt;
  return read_batch(select);
}

void StateStore::update_batch(const BatchRecord& batch)
{
  Statement update(m_impl->db, "UPDATE batches SET status = ?4, device_ids_json = ?5, device_count = ?6, method = ?7, "
                               "path = ?8, body = ?9, request_hash = ?10, attempts = ?11, http_status = ?12, "
                               "response = ?13, job_id = ?14, job_status = ?15, job_progress = ?16, error = ?17, "
                               "next_attempt_ms = ?18, sent_ms = ?19, finished_ms = ?20, outcome_json = ?21 "
                               "WHERE run_id = ?1 AND step_index = ?2 AND batch_index = ?3");
  bind_batch(update, batch);
  update.run();
}

void StateStore::update_batch_progress(const BatchRecord& batch)
{
  Statement update(m_impl->db, "UPDATE batches SET status = ?4, attempts = ?11, http_status = ?12, "
                               "response = ?13, job_id = ?14, job_status = ?15, job_progress = ?16, error = ?17, "
                               "next_attempt_ms = ?18, sent_ms = ?19, finished_ms = ?20, outcome_json = ?21 "
                               "WHERE run_id = ?1 AND step_index = ?2 AND batch_index = ?3");
  bind_batch(update, batch);
  update.run();
}

void StateStore::add_event(const std::string& run_id, const std::string& kind, const std::string& message)
{
  Statement insert(m_impl->db, "INSERT INTO events (run_id, at_ms, kind, message) VALUES (?1, ?2, ?3, ?4)");
  insert.bind(1, run_id).bind(2, now_ms()).bind(3, kind).bind(4, message).run();
}

std::vector<EventRecord> StateStore::events(const std::string& run_id) const
{
  Statement select(m_impl->db, "SELECT id, run_id, at_ms, kind, message FROM events WHERE run_id = ?1 ORDER BY id");
  select.bind(1, run_id);
  std::vector<EventRecord> out;
  while (select.step())
    out.push_back({select.integer(0), select.text(1), select.integer(2), select.text(3), select.text(4)});
  return out;
}

bool lock_holder_alive(const LockHolder& holder, std::int64_t now)
{
  if (holder.host == this_host()) {
    if (holder.pid <= 0) return false;
    if (kill(static_cast<pid_t>(holder.pid), 0) != 0 && errno == ESRCH) return false;
    return process_start_of(holder.pid) == holder.process_start;
  }
  return now - holder.heartbeat_ms < 120'000;
}

std::optional<LockHolder> StateStore::lock_holder(const std::string& run_id) const
{
  Statement select(m_impl->db, "SELECT pid, process_start, host, heartbeat_ms FROM run_locks WHERE run_id = ?1");
  select.bind(1, run_id);
  if (!select.step()) return std::nullopt;
  return LockHolder{select.integer(0), select.text(1), select.text(2), select.integer(3)};
}

std::expected<void, LockHolder> StateStore::acquire_lock(const std::string& run_id)
{
  Transaction transaction(*this);
  const LockHolder me{static_cast<std::int64_t>(getpid()), process_start_of(getpid()), this_host(), now_ms()};
  if (auto holder = lock_holder(run_id)) {
    const bool mine = holder->pid == me.pid && holder->host == me.host && holder->process_start == me.process_start;
    if (!mine && lock_holder_alive(*holder, me.heartbeat_ms)) return std::unexpected(*holder);
    if (!mine) {
      add_event(run_id, "lock_taken_over",
                "took over the lock left by pid " + std::to_string(holder->pid) + " on " + holder->host +
                    " (that process is gone; last heartbeat " +
                    std::to_string((me.heartbeat_ms - holder->heartbeat_ms) / 1000) + " s ago)");
    }
  }
  Statement upsert(m_impl->db, "INSERT INTO run_locks (run_id, pid, process_start, host, acquired_ms, heartbeat_ms) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (run_id) DO UPDATE SET pid = ?2, "
                               "process_start = ?3, host = ?4, acquired_ms = ?5, heartbeat_ms = ?5");
  upsert.bind(1, run_id).bind(2, me.pid).bind(3, me.process_start).bind(4, me.host).bind(5, me.heartbeat_ms).run();
  transaction.commit();
  return {};
}

void StateStore::heartbeat(const std::string& run_id)
{
  Statement update(m_impl->db, "UPDATE run_locks SET heartbeat_ms = ?2 WHERE run_id = ?1 AND pid = ?3");
  update.bind(1, run_id).bind(2, now_ms()).bind(3, static_cast<std::int64_t>(getpid())).run();
}

void StateStore::release_lock(const std::string& run_id)
{
  Statement remove(m_impl->db, "DELETE FROM run_locks WHERE run_id = ?1 AND pid = ?2");
  remove.bind(1, run_id).bind(2, static_cast<std::int64_t>(getpid())).run();
}

} // namespace fleetrun::state
