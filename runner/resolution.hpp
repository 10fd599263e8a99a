#pragma once
// Query resolution for a run: every query some step uses becomes an exact
// device list, with GET requests only. jobs/query_resolution says which pages
// to read; this loop sends them through the dispatcher (the rate limit and
// the in-flight limit decide how many at once), retries what fails, and hands
// each page, in order, to the sink: the coordinator, which writes them to the
// state file.

#include "runner/dispatcher.hpp"
#include "runner/machine_names.hpp"

#include "api/losant_client.hpp"
#include "jobs/query_resolution.hpp"
#include "plans/plan.hpp"

#include <atomic>
#include <expected>
#include <functional>
#include <random>
#include <string>

namespace fleetrun::runner {

// Receives a run's device lists as they are resolved, one query at a time.
class DeviceListSink {
public:
  virtual ~DeviceListSink() = default;
  virtual void begin_list(const std::string& run_id, const plans::QuerySpec& query) = 0;
  virtual void append_page(const std::string& run_id, const plans::QuerySpec& query, const jobs::DevicePage& page) = 0;
  // `complete` false: reading stopped because the query matched more than
  // its expect.max (the guard refuses the run); the list is never marked resolved.
  virtual void end_list(const std::string& run_id, const plans::QuerySpec& query, std::int64_t total,
                        bool complete) = 0;
};

// What GET requests before the first change need: where to send them, how to
// retry them, when to stop.
struct ReadContext {
  Dispatcher& dispatcher;
  const Clock& clock;
  const BackoffPolicy& backoff;
  std::mt19937_64& rng;
  const std::atomic<bool>& stop_requested;
  std::chrono::seconds max_retry_after;
};

// Sends GET requests (any number at once, as the dispatcher allows),
// retrying transient failures with backoff (429s without using up an
// attempt), until each has its final answer. `on_answer(id, result)` gets
// each final answer and may add requests (`add`). Returns the error that
// stopped it: a cancelled one when a stop is requested, a permanent one when
// the API asked to wait longer than it may.
class ReadLoop {
public:
  explicit ReadLoop(ReadContext context) : m_context(context) {}
  void add(int id, api::RequestSpec request);
  // Nothing more is needed: requests waiting are dropped, answers in flight ignored.
  void finish();
  std::expected<void, api::ApiError>
  run(const std::function<std::expected<void, api::ApiError>(int id, const api::ApiResult& result)>& on_answer);

private:
  struct Waiting {
    int id;
    api::RequestSpec request;
  };
  ReadContext m_context;
  std::multimap<SteadyTime, Waiting> m_due;
  std::map<Ticket, Waiting> m_in_flight;
  std::map<int, int> m_failures; // by request id, 429s excluded
};

// One GET with retries: the whole-fleet guard's count.
api::ApiResult read_one(ReadContext context, api::RequestSpec request);

// Resolves every query some step of `plan` uses, in the plan's order.
// Returns the error that stopped it.
std::expected<void, api::ApiError> resolve_queries(const plans::Plan& plan, const std::string& run_id,
                                                   ReadContext context, DeviceListSink& sink);

} // namespace fleetrun::runner
