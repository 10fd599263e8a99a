// Opening a state file: refusing what is not ours, creating a new one,
// migrating an older one (only when opened for writing), and the schema.
#include "state/run_journal.hpp"
#include "state/sqlite.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fleetrun::state {

using detail::Statement;

namespace {

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

} // namespace

StateStore::StateStore(std::string path, void* db, bool read_only)
    : m_path(std::move(path)), m_impl(std::make_unique<Impl>())
{
  m_impl->db = static_cast<sqlite3*>(db);
  m_impl->read_only = read_only;
}

StateStore::~StateStore()
{
  sqlite3_close(m_impl->db);
}

bool StateStore::read_only() const
{
  return m_impl->read_only;
}

RunJournal::RunJournal(StateStore& store) : m_store(store)
{
  if (store.read_only())
    throw StateFailure("state file " + store.path() + " was opened read-only: it cannot be written");
}

void RunJournal::execute(const std::string& sql)
{
  char* error = nullptr;
  if (sqlite3_exec(impl().db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    throw StateFailure("state file " + std::string(sqlite3_db_filename(impl().db, "main")) + ": " + message);
  }
}

std::expected<std::unique_ptr<StateStore>, StateError> StateStore::open(const std::string& path, OpenMode mode)
{
  const bool exists = access(path.c_str(), F_OK) == 0;
  const bool read_only = mode == OpenMode::read_only;
  if (!exists && mode != OpenMode::create_if_missing) {
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
  const int flags = read_only ? SQLITE_OPEN_READONLY
                              : SQLITE_OPEN_READWRITE | (mode == OpenMode::create_if_missing ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return std::unexpected(StateError{"cannot open state file " + path + ": " + message});
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<StateStore> store(new StateStore(path, db, read_only));
  const auto execute = [&](const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error != nullptr ? error : "unknown error";
      sqlite3_free(error);
      throw StateFailure("state file " + path + ": " + message);
    }
  };
  struct stat identity {};
  if (::stat(path.c_str(), &identity) == 0) {
    store->impl().device = identity.st_dev;
    store->impl().inode = identity.st_ino;
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
    if (read_only && application_id == 0 && version == 0 && tables == 0) {
      return std::unexpected(StateError{path + " is empty: no run was recorded in it"});
    } else if (application_id == 0 && version == 0 && tables == 0) {
      // Device documents are about 1 KB: 16 KB pages hold them with less
      // b-tree overhead than the default 4 KB (set before the first table).
      execute("PRAGMA page_size=16384");
      execute("PRAGMA journal_mode=WAL");
      execute("BEGIN IMMEDIATE");
      execute(k_schema_v1);
      for (const char* migration : k_migrations) execute(migration);
      execute("PRAGMA application_id=" + std::to_string(k_application_id));
      execute("PRAGMA user_version=" + std::to_string(k_schema_version));
      execute("COMMIT");
    } else if (application_id != static_cast<std::int64_t>(k_application_id)) {
      return std::unexpected(
          StateError{path + " is a SQLite database but not a fleetrun state file; refusing to touch it"});
    } else if (version > k_schema_version) {
      return std::unexpected(StateError{path + " was written by a newer fleetrun (state schema " +
                                        std::to_string(version) + "); this fleetrun reads schema " +
                                        std::to_string(k_schema_version) + " and older. Use the newer fleetrun."});
    } else if (version < 1) {
      return std::unexpected(StateError{path + " has an unknown state schema version " + std::to_string(version)});
    } else if (version < k_schema_version && read_only) {
      // A command that only reads does not rewrite the file.
      return std::unexpected(StateError{
          path + " holds state schema " + std::to_string(version) + " of an older fleetrun; this one reads schema " +
          std::to_string(k_schema_version) + ". `fleetrun migrate --state " + path +
          "` brings it up to date (as any plan, apply, resume or prune on it does); then run this again"});
    } else if (version < k_schema_version) {
      // An older file: brought up to date in one transaction.
      execute("BEGIN IMMEDIATE");
      for (auto v = version; v < k_schema_version; ++v) execute(k_migrations[static_cast<std::size_t>(v - 1)]);
      execute("PRAGMA user_version=" + std::to_string(k_schema_version));
      execute("COMMIT");
    }
    if (!read_only) {
      execute("PRAGMA journal_mode=WAL");
      execute("PRAGMA synchronous=FULL");
      execute("PRAGMA foreign_keys=ON");
    }
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
  if (identity.st_dev != impl().device || identity.st_ino != impl().inode) {
    throw StateFailure("the state file " + m_path +
                       " was replaced by another file while this command was using it; stopping");
  }
}

int StateStore::synchronous() const
{
  Statement read(impl().db, "PRAGMA synchronous");
  return read.step() ? static_cast<int>(read.integer(0)) : -1;
}

} // namespace fleetrun::state
