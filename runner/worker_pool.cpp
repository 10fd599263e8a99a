#include "runner/worker_pool.hpp"

namespace fleetrun::runner {

WorkerPool::WorkerPool(const ApiConnection& prototype, int workers) : m_shared(std::make_shared<Shared>())
{
  for (int i = 0; i < workers; ++i) {
    // Each worker owns its connection (keep-alive session) for its lifetime.
    std::shared_ptr<ApiConnection> connection = prototype.clone();
    m_threads.emplace_back([shared = m_shared, connection] {
      std::unique_lock lock(shared->mutex);
      while (true) {
        shared->work_ready.wait(lock, [&] { return shared->stopping || !shared->tasks.empty(); });
        if (shared->stopping) return;
        Task task = std::move(shared->tasks.front());
        shared->tasks.pop_front();
        ++shared->busy_workers;
        lock.unlock();
        api::ApiResult result = connection->client().request(task.method, task.path, task.params, task.body);
        lock.lock();
        --shared->busy_workers;
        shared->done.push_back({std::move(task), std::move(result)});
        shared->done_ready.notify_all();
      }
    });
  }
}

WorkerPool::~WorkerPool()
{
  stop(std::chrono::milliseconds(0));
}

bool WorkerPool::stop(std::chrono::milliseconds drain)
{
  {
    std::unique_lock lock(m_shared->mutex);
    m_shared->done_ready.wait_for(lock, drain, [&] { return m_shared->busy_workers == 0; });
    m_shared->stopping = true;
    m_shared->tasks.clear();
  }
  m_shared->work_ready.notify_all();
  bool all_joined = true;
  std::unique_lock lock(m_shared->mutex);
  const bool idle = m_shared->busy_workers == 0;
  lock.unlock();
  for (auto& thread : m_threads) {
    if (!thread.joinable()) continue;
    if (idle) {
      thread.join();
    } else {
      thread.detach(); // still inside a request; it owns what it uses
      all_joined = false;
    }
  }
  m_threads.clear();
  return all_joined;
}

void WorkerPool::submit(Task task)
{
  {
    std::lock_guard lock(m_shared->mutex);
    m_shared->tasks.push_back(std::move(task));
    ++m_shared->in_flight;
  }
  m_shared->work_ready.notify_one();
}

std::optional<Completion> WorkerPool::next(std::chrono::steady_clock::time_point until)
{
  std::unique_lock lock(m_shared->mutex);
  if (!m_shared->done_ready.wait_until(lock, until, [&] { return !m_shared->done.empty(); })) return std::nullopt;
  Completion completion = std::move(m_shared->done.front());
  m_shared->done.pop_front();
  --m_shared->in_flight;
  return completion;
}

int WorkerPool::in_flight() const
{
  std::lock_guard lock(m_shared->mutex);
  return m_shared->in_flight;
}

} // namespace fleetrun::runner
