#include "runner/worker_pool.hpp"

#include <atomic>

namespace fleetrun::runner {

namespace {
std::atomic<int> g_abandoned{0};
} // namespace

int abandoned_workers()
{
  return g_abandoned.load();
}

WorkerPool::WorkerPool(const ApiConnection& prototype, int workers)
    : m_shared(std::make_shared<Shared>()), m_capacity(std::max(1, workers))
{
  for (int i = 0; i < m_capacity; ++i) {
    // Each worker owns its connection (keep-alive session) for its lifetime.
    std::shared_ptr<ApiConnection> connection = prototype.clone();
    m_threads.emplace_back([shared = m_shared, connection] {
      std::unique_lock lock(shared->mutex);
      while (true) {
        shared->work_ready.wait(lock, [&] { return shared->stopping || !shared->jobs.empty(); });
        if (shared->stopping) return;
        Job job = std::move(shared->jobs.front());
        shared->jobs.pop_front();
        ++shared->busy;
        lock.unlock();
        api::ApiResult result = connection->client().send(job.request);
        lock.lock();
        --shared->busy;
        shared->done.push_back({job.ticket, std::move(result)});
        shared->done_ready.notify_all();
      }
    });
  }
}

WorkerPool::~WorkerPool()
{
  stop(std::chrono::milliseconds(0));
}

void WorkerPool::stop(std::chrono::milliseconds drain)
{
  bool idle = false;
  {
    std::unique_lock lock(m_shared->mutex);
    m_shared->jobs.clear();
    m_shared->done_ready.wait_for(lock, drain, [&] { return m_shared->busy == 0; });
    m_shared->stopping = true;
    idle = m_shared->busy == 0;
  }
  m_shared->work_ready.notify_all();
  for (auto& thread : m_threads) {
    if (!thread.joinable()) continue;
    if (idle) {
      thread.join();
    } else {
      thread.detach(); // still inside a request; it owns what it uses
      ++g_abandoned;
    }
  }
  m_threads.clear();
}

void WorkerPool::submit(Ticket ticket, api::RequestSpec request)
{
  {
    std::lock_guard lock(m_shared->mutex);
    m_shared->jobs.push_back({ticket, std::move(request)});
    ++m_shared->in_flight;
  }
  m_shared->work_ready.notify_one();
}

std::optional<Answer> WorkerPool::wait(SteadyTime until)
{
  std::unique_lock lock(m_shared->mutex);
  if (!m_shared->done_ready.wait_until(lock, until, [&] { return !m_shared->done.empty(); })) return std::nullopt;
  Answer answer = std::move(m_shared->done.front());
  m_shared->done.pop_front();
  --m_shared->in_flight;
  return answer;
}

int WorkerPool::in_flight() const
{
  std::lock_guard lock(m_shared->mutex);
  return m_shared->in_flight;
}

} // namespace fleetrun::runner
