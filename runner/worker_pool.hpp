#pragma once
// The HTTP implementation of the request port: a bounded pool of worker
// threads, each with its own API connection (a kept-alive session), that send
// the requests they are handed and queue the answers. Workers never touch the
// state file.

#include "runner/connection.hpp"
#include "runner/request_sender.hpp"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace fleetrun::runner {

// Worker threads left inside a request when their pool stopped (process-wide).
// While any is, the process must not run static destructors under them:
// main() ends with _Exit then (runner/main.cpp).
int abandoned_workers();

class WorkerPool final : public RequestSender {
public:
  // `workers` connections like `prototype`, opened as the workers start.
  WorkerPool(const ApiConnection& prototype, int workers);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(Ticket ticket, api::RequestSpec request) override;
  std::optional<Answer> wait(SteadyTime until) override;
  int in_flight() const override;
  int capacity() const override { return m_capacity; }
  void stop(std::chrono::milliseconds drain) override;

private:
  struct Job {
    Ticket ticket;
    api::RequestSpec request;
  };
  // Shared with the threads, which may outlive the pool when abandoned.
  struct Shared {
    std::mutex mutex;
    std::condition_variable work_ready;
    std::condition_variable done_ready;
    std::deque<Job> jobs;
    std::deque<Answer> done;
    int in_flight = 0;
    int busy = 0;
    bool stopping = false;
  };
  std::shared_ptr<Shared> m_shared;
  std::vector<std::thread> m_threads;
  int m_capacity;
};

} // namespace fleetrun::runner
