#include "tests/support/fake_sender.hpp"

#include "api/losant_client.hpp"

#include <algorithm>

namespace fleetrun::testing {

runner::SteadyTime FakeClock::now() const
{
  std::lock_guard lock(m_mutex);
  return m_now;
}

std::int64_t FakeClock::wall_ms() const
{
  std::lock_guard lock(m_mutex);
  return m_wall_start +
         std::chrono::duration_cast<std::chrono::milliseconds>(m_now.time_since_epoch() - std::chrono::hours(1000))
             .count();
}

void FakeClock::advance_to(runner::SteadyTime when)
{
  std::lock_guard lock(m_mutex);
  m_now = std::max(m_now, when);
}

void FakeClock::advance(std::chrono::milliseconds by)
{
  std::lock_guard lock(m_mutex);
  m_now += by;
}

FakeSender::FakeSender(FakeClock& clock, Responder responder, std::chrono::milliseconds latency, int capacity)
    : m_clock(clock), m_responder(std::move(responder)), m_latency(latency), m_capacity(capacity)
{
}

void FakeSender::set_delivery(Delivery delivery)
{
  std::lock_guard lock(m_mutex);
  m_delivery = delivery;
  m_random.seed(delivery.seed);
}

void FakeSender::submit(runner::Ticket ticket, api::RequestSpec request)
{
  const auto now = m_clock.now();
  auto trip = m_latency;
  {
    std::lock_guard lock(m_mutex);
    if (m_delivery.jitter.count() > 0) {
      auto spread = std::uniform_int_distribution<long>(-m_delivery.jitter.count(), m_delivery.jitter.count());
      trip = std::max(std::chrono::milliseconds(2), m_latency + std::chrono::milliseconds(spread(m_random)));
    }
    m_arriving = now + trip / 2;
  }
  api::ApiResult result = m_responder(request);
  if (result) result->elapsed = trip; // the time on the wire, as the transport times it
  std::lock_guard lock(m_mutex);
  auto ready = now + trip;
  if (m_delivery.clump.count() > 0) {
    // Taken at the next multiple of the clump: heaps of answers at once.
    const auto since = ready.time_since_epoch();
    const auto clump = std::chrono::duration_cast<runner::SteadyTime::duration>(m_delivery.clump);
    ready = runner::SteadyTime((since + clump - runner::SteadyTime::duration(1)) / clump * clump);
  }
  m_sent.push_back({std::move(request), now});
  m_pending.push_back({ready, {ticket, std::move(result)}});
  m_max_in_flight = std::max(m_max_in_flight, static_cast<int>(m_pending.size()));
}

std::optional<runner::Answer> FakeSender::wait(runner::SteadyTime until)
{
  std::unique_lock lock(m_mutex);
  auto first = std::min_element(m_pending.begin(), m_pending.end(),
                                [](const Pending& a, const Pending& b) { return a.ready < b.ready; });
  if (first == m_pending.end() || first->ready > until) {
    lock.unlock();
    m_clock.advance_to(until);
    return std::nullopt;
  }
  m_clock.advance_to(first->ready);
  runner::Answer answer = std::move(first->answer);
  m_pending.erase(first);
  return answer;
}

int FakeSender::in_flight() const
{
  std::lock_guard lock(m_mutex);
  return static_cast<int>(m_pending.size());
}

std::vector<FakeSender::Sent> FakeSender::sent() const
{
  std::lock_guard lock(m_mutex);
  return m_sent;
}

std::size_t FakeSender::count(const std::string& method, const std::string& path) const
{
  std::lock_guard lock(m_mutex);
  return static_cast<std::size_t>(std::count_if(m_sent.begin(), m_sent.end(), [&](const Sent& s) {
    return s.request.method == method && s.request.path == path;
  }));
}

Responder sandbox_responder(sandbox::Sandbox& sandbox)
{
  return [&sandbox](const api::RequestSpec& spec) -> api::ApiResult {
    sandbox::Request request;
    request.method = spec.method;
    request.path = "/applications/" + sandbox.config().application_id + spec.path;
    request.query = spec.params;
    request.authorization = "Bearer " + sandbox.config().tokens.front();
    request.body = spec.body.value_or("");
    request.user_agent = "fake-sender";
    const sandbox::Response response = sandbox.serve(request);
    if (response.disposition == sandbox::Response::Disposition::drop) return connection_lost();
    if (response.status < 200 || response.status >= 300) {
      api::HttpResponse http{response.status, response.body, {}};
      for (const auto& header : response.headers) http.headers.push_back(header);
      return std::unexpected(api::error_from_response(http));
    }
    return api::ApiResponse{response.status, response.body, std::chrono::milliseconds(1), {}};
  };
}

api::ApiResult ok(int status, std::string body)
{
  return api::ApiResponse{status, std::move(body), std::chrono::milliseconds(1), {}};
}

api::ApiResult http_error(int status, std::string body, std::optional<double> retry_after_s)
{
  api::HttpResponse http{status, std::move(body), {}};
  if (retry_after_s) http.headers.emplace_back("Retry-After", std::to_string(*retry_after_s));
  return std::unexpected(api::error_from_response(http));
}

api::ApiResult connection_lost()
{
  api::ApiError error;
  error.kind = api::ErrorKind::transient;
  error.delivery = api::Delivery::maybe_sent;
  error.message = "connection lost after the request was sent (scripted)";
  return std::unexpected(error);
}

api::ApiResult not_sent()
{
  api::ApiError error;
  error.kind = api::ErrorKind::transient;
  error.delivery = api::Delivery::not_sent;
  error.message = "could not send the request (scripted)";
  return std::unexpected(error);
}

} // namespace fleetrun::testing
