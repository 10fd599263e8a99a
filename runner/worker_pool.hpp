#pragma once
// A bounded pool of workers, each with its own API connection, that send the
// requests the coordinator hands them and hand back the answers. Workers
// never touch the state file.

#include "runner/connection.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace fleetrun::runner {

struct Task {
  enum class Kind { send, poll_job, list_jobs, history, lookup_created };
  Kind kind = Kind::send;
  int batch = 0;
  int page = 0;          // list_jobs: which page of job logs
  std::string device_id; // history: whose command history
  std::string method;
  std::string path; // under /applications/{applicationId}
  api::QueryParams params;
  std::optional<std::string> body;
};

struct Completion {
  Task task;
  api::ApiResult result;
};

class WorkerPool {
public:
  WorkerPool(const ApiConnection& prototype, int workers);
  // Waits for the workers; any still inside a request past `drain` are left
  // to finish on their own (they share nothing with what is destroyed).
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(Task task);
  // The next completion, or nullopt when `until` passes first.
  std::optional<Completion> next(std::chrono::steady_clock::time_point until);
  int in_flight() const;
  // Stops taking tasks; returns true when every worker finished within `drain`.
  bool stop(std::chrono::milliseconds drain);

private:
  struct Shared {
    std::mutex mutex;
    std::condition_variable work_ready;
    std::condition_variable done_ready;
    std::deque<Task> tasks;
    std::deque<Completion> done;
    int in_flight = 0;
    int busy_workers = 0;
    bool stopping = false;
  };
  std::shared_ptr<Shared> m_shared;
  std::vector<std::thread> m_threads;
};

} // namespace fleetrun::runner
