// Events (the run's story, append-only) and the run lock.
#include "state/run_journal.hpp"
#include "state/sqlite.hpp"

#include <csignal>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fleetrun::state {

using detail::now_ms;
using detail::Statement;

namespace {

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

} // namespace

void RunJournal::add_event(const std::string& run_id, const std::string& kind, const std::string& message)
{
  Statement insert(impl().db, "INSERT INTO events (run_id, at_ms, kind, message) VALUES (?1, ?2, ?3, ?4)");
  insert.bind(1, run_id).bind(2, now_ms()).bind(3, kind).bind(4, message).run();
}

std::vector<EventRecord> StateStore::events(const std::string& run_id) const
{
  Statement select(impl().db, "SELECT id, run_id, at_ms, kind, message FROM events WHERE run_id = ?1 ORDER BY id");
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
  Statement select(impl().db, "SELECT pid, process_start, host, heartbeat_ms FROM run_locks WHERE run_id = ?1");
  select.bind(1, run_id);
  if (!select.step()) return std::nullopt;
  return LockHolder{select.integer(0), select.text(1), select.text(2), select.integer(3)};
}

std::expected<void, LockHolder> RunJournal::acquire_lock(const std::string& run_id)
{
  Transaction transaction(*this);
  const LockHolder me{static_cast<std::int64_t>(getpid()), process_start_of(getpid()), this_host(), now_ms()};
  if (auto holder = m_store.lock_holder(run_id)) {
    const bool mine = holder->pid == me.pid && holder->host == me.host && holder->process_start == me.process_start;
    if (!mine && lock_holder_alive(*holder, me.heartbeat_ms)) return std::unexpected(*holder);
    if (!mine) {
      add_event(run_id, "lock_taken_over",
                "took over the lock left by pid " + std::to_string(holder->pid) + " on " + holder->host +
                    " (that process is gone; last heartbeat " +
                    std::to_string((me.heartbeat_ms - holder->heartbeat_ms) / 1000) + " s ago)");
    }
  }
  Statement upsert(impl().db, "INSERT INTO run_locks (run_id, pid, process_start, host, acquired_ms, heartbeat_ms) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (run_id) DO UPDATE SET pid = ?2, "
                              "process_start = ?3, host = ?4, acquired_ms = ?5, heartbeat_ms = ?5");
  upsert.bind(1, run_id).bind(2, me.pid).bind(3, me.process_start).bind(4, me.host).bind(5, me.heartbeat_ms).run();
  transaction.commit();
  return {};
}

void RunJournal::heartbeat(const std::string& run_id)
{
  Statement update(impl().db, "UPDATE run_locks SET heartbeat_ms = ?2 WHERE run_id = ?1 AND pid = ?3");
  update.bind(1, run_id).bind(2, now_ms()).bind(3, static_cast<std::int64_t>(getpid())).run();
}

void RunJournal::release_lock(const std::string& run_id)
{
  Statement remove(impl().db, "DELETE FROM run_locks WHERE run_id = ?1 AND pid = ?2");
  remove.bind(1, run_id).bind(2, static_cast<std::int64_t>(getpid())).run();
}

} // namespace fleetrun::state
