#pragma once
// Inside the state file's implementation only (state/*.cpp): the SQLite
// connection and a prepared statement. Nothing outside state/ includes this.

#include "state/state_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>

namespace fleetrun::state {

struct StateStore::Impl {
  sqlite3* db = nullptr;
  bool read_only = false;
  int transaction_depth = 0;
  dev_t device = 0; // the opened file's identity
  ino_t inode = 0;
};

namespace detail {

// "state file /x/p.fleetrun.db: database or disk is full".
inline std::string describe_failure(sqlite3* db)
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

inline std::int64_t now_ms()
{
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Reads an enum stored as its name; a name this fleetrun does not know is a state failure.
template <class Enum, std::size_t N> Enum parse_enum(const std::string& text, const Enum (&values)[N])
{
  for (const auto value : values) {
    if (to_string(value) == text) return value;
  }
  throw StateFailure("state file: unknown value \"" + text + "\"");
}

} // namespace detail

// A device list's rows are found by its list id: ?1 and ?2 are the run and the query.
#define FLEETRUN_LIST_ID "(SELECT list_id FROM device_lists WHERE run_id = ?1 AND query_name = ?2)"

} // namespace fleetrun::state
