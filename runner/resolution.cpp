#include "runner/resolution.hpp"

#include <spdlog/spdlog.h>

#include <set>

namespace fleetrun::runner {

namespace {

api::ApiError asked_too_long(const api::ApiError& error, std::chrono::seconds ceiling)
{
  api::ApiError paused = error;
  paused.kind = api::ErrorKind::permanent;
  paused.message = "the API asked to wait " + std::to_string(static_cast<std::int64_t>(*error.retry_after_s)) +
                   " s (Retry-After), more than the " + std::to_string(ceiling.count()) +
                   " s fleetrun may wait (--max-retry-after); try again later";
  return paused;
}

} // namespace

void ReadLoop::add(int id, api::RequestSpec request)
{
  m_due.emplace(m_context.clock.now(), Waiting{id, std::move(request)});
}

void ReadLoop::finish()
{
  m_due.clear();
  for (const auto& [ticket, waiting] : m_in_flight) m_context.dispatcher.abandon(ticket);
  m_in_flight.clear();
}

std::expected<void, api::ApiError>
ReadLoop::run(const std::function<std::expected<void, api::ApiError>(int id, const api::ApiResult& result)>& on_answer)
{
  Dispatcher& dispatcher = m_context.dispatcher;
  while (!m_due.empty() || !m_in_flight.empty()) {
    if (m_context.stop_requested.load()) {
      finish(); // answers in flight are dropped
      return std::unexpected(api::cancelled_error());
    }
    auto now = m_context.clock.now();
    // A wake-up at least every 100 ms: a stop request is noticed that soon.
    SteadyTime wake = now + std::chrono::milliseconds(100);
    while (!m_due.empty() && m_due.begin()->first <= now) {
      SteadyTime retry_at = wake;
      if (!dispatcher.try_take(now, retry_at)) {
        wake = std::min(wake, retry_at);
        break;
      }
      Waiting waiting = std::move(m_due.begin()->second);
      m_due.erase(m_due.begin());
      const Ticket ticket = dispatcher.send(waiting.request);
      m_in_flight.emplace(ticket, std::move(waiting));
    }
    // A request due later wakes the loop then; one due now but held back (no
    // slot, no token) waits for an answer or the token, as `wake` says already.
    if (!m_due.empty() && m_due.begin()->first > now) wake = std::min(wake, m_due.begin()->first);
    auto answer = dispatcher.wait(wake);
    if (const auto why = dispatcher.throttled_too_long()) {
      finish();
      api::ApiError paused;
      paused.kind = api::ErrorKind::permanent;
      paused.status = 429;
      paused.message = *why;
      return std::unexpected(paused);
    }
    if (!answer) continue;
    const auto found = m_in_flight.find(answer->ticket);
    if (found == m_in_flight.end()) continue; // not one of ours
    Waiting waiting = std::move(found->second);
    m_in_flight.erase(found);
    const api::ApiResult& result = answer->result;
    if (!result) {
      const api::ApiError& error = result.error();
      const bool retryable = error.kind == api::ErrorKind::transient || error.kind == api::ErrorKind::timeout;
      if (retryable) {
        if (error.retry_after_s && *error.retry_after_s > static_cast<double>(m_context.max_retry_after.count())) {
          finish();
          return std::unexpected(asked_too_long(error, m_context.max_retry_after));
        }
        const bool throttled = error.status == 429;
        int& failures = m_failures[waiting.id];
        if (!throttled) ++failures;
        if (throttled || failures < m_context.backoff.max_attempts) {
          const auto delay = backoff_delay(m_context.backoff, failures + 1, error.retry_after_s, m_context.rng);
          spdlog::debug("GET {} failed ({}); again in {} ms", waiting.request.path, error.describe(), delay.count());
          m_due.emplace(m_context.clock.now() + delay, std::move(waiting));
          continue;
        }
      }
    }
    m_failures.erase(waiting.id);
    if (auto handled = on_answer(waiting.id, result); !handled) {
      finish();
      return handled;
    }
  }
  return {};
}

api::ApiResult read_one(ReadContext context, api::RequestSpec request)
{
  ReadLoop loop(context);
  loop.add(0, std::move(request));
  std::optional<api::ApiResult> final_answer;
  const auto ran = loop.run([&](int, const api::ApiResult& result) -> std::expected<void, api::ApiError> {
    final_answer = result;
    return {};
  });
  if (!ran) return std::unexpected(ran.error());
  return std::move(*final_answer);
}

std::expected<void, api::ApiError> resolve_queries(const plans::Plan& plan, const std::string& run_id,
                                                   ReadContext context, DeviceListSink& sink)
{
  std::set<std::string> used;
  for (const auto& step : plan.steps) {
    if (!step.query.empty()) used.insert(step.query);
  }
  const std::set<std::string> kept = jobs::kept_fields(plan);
  for (const auto& spec : plan.queries) {
    if (!used.contains(spec.name)) continue;
    sink.begin_list(run_id, spec);
    jobs::QueryResolver resolver(spec);
    resolver.keep_only(kept);
    ReadLoop loop(context);
    const auto queue_requests = [&] {
      for (auto& request : resolver.take_requests(context.dispatcher.in_flight_limit()))
        loop.add(request.id, api::endpoints::list_devices(request.params));
    };
    queue_requests();
    const auto ran = loop.run([&](int id, const api::ApiResult& result) -> std::expected<void, api::ApiError> {
      auto pages = resolver.on_answer(id, result);
      if (!pages) return std::unexpected(pages.error());
      for (const auto& page : *pages) sink.append_page(run_id, spec, page);
      if (resolver.finished()) {
        loop.finish();
      } else {
        queue_requests();
      }
      return {};
    });
    if (!ran) return std::unexpected(ran.error());
    const jobs::Resolved& total = resolver.resolved();
    sink.end_list(run_id, spec, total.total, total.complete);
    if (total.complete) {
      spdlog::info("query {}: {} devices", spec.name, total.total);
    } else {
      spdlog::warn("query {}: {} devices, more than its expect.max of {}; stopped reading", spec.name, total.total,
                   *spec.expect_max);
    }
  }
  return {};
}

} // namespace fleetrun::runner
