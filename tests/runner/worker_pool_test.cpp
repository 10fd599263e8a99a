// The HTTP implementation of the request port, against the sandbox served on
// loopback in process: real sockets, real threads.
#include "runner/worker_pool.hpp"

#include "sandbox/http_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wall_time.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <thread>

using namespace fleetrun;
using namespace fleetrun::runner;
using namespace fleetrun::machine;
using nlohmann::json;

namespace {

struct Served {
  explicit Served(int latency_ms = 20)
  {
    sandbox::SandboxConfig config;
    config.runtime.latency_ms = latency_ms;
    service = std::make_unique<sandbox::Sandbox>(config);
    service->seed({40, 1, 1'790'000'000'000});
    server = std::make_unique<sandbox::HttpServer>(*service, sandbox::ServerOptions{});
    std::ofstream(dir / "token") << "sandbox-token\n";
    ConnectionSettings settings;
    settings.api_url = server->base_url();
    settings.application_id = "5f1a2b3c4d5e6f7a8b9c0d1e";
    settings.token_file = (dir / "token").string();
    connection = std::move(*ApiConnection::open(settings));
  }
  testing::TempDir dir;
  std::unique_ptr<sandbox::Sandbox> service;
  std::unique_ptr<sandbox::HttpServer> server;
  std::unique_ptr<ApiConnection> connection;
};

// Device-list requests the sandbox has taken (counted as they arrive, before
// their latency).
int device_lists_taken(sandbox::Sandbox& service)
{
  sandbox::Request request;
  request.method = "GET";
  request.path = "/_sandbox/stats";
  const json stats = json::parse(service.serve(request).body);
  return stats["requests"].value("GET /applications/{applicationId}/devices 200", 0);
}

} // namespace

TEST_CASE("the worker pool answers every ticket, at most `capacity` at a time", "[worker_pool]")
{
  // 200 ms a request: three rounds take 600 ms, one at a time would take 1.8 s
  // and all at once 200 ms, far apart even under sanitizers.
  Served served(200);
  WorkerPool pool(*served.connection, 3);
  CHECK(pool.capacity() == 3);
  for (Ticket ticket = 1; ticket <= 9; ++ticket) {
    api::DeviceListParams params;
    params.per_page = 1;
    params.page = static_cast<int>(ticket);
    pool.submit(ticket, api::endpoints::list_devices(params));
  }
  CHECK(pool.in_flight() == 9);
  std::set<Ticket> answered;
  const auto started = std::chrono::steady_clock::now();
  while (answered.size() < 9) {
    auto answer = pool.wait(std::chrono::steady_clock::now() + std::chrono::seconds(10));
    REQUIRE(answer.has_value());
    REQUIRE(answer->result.has_value());
    CHECK(json::parse(answer->result->body)["page"] == answer->ticket);
    answered.insert(answer->ticket);
  }
  // Nine 200 ms requests, three at a time: three rounds, not one, not nine.
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= std::chrono::milliseconds(590));
  CHECK_WALL_TIME(took < std::chrono::milliseconds(1500));
  CHECK(pool.in_flight() == 0);
}

TEST_CASE("waiting on an idle pool returns nothing when the time is up", "[worker_pool]")
{
  Served served;
  WorkerPool pool(*served.connection, 1);
  const auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(pool.wait(started + std::chrono::milliseconds(30)).has_value());
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(30));
}

TEST_CASE("a rejected request comes back as an error with its ticket", "[worker_pool]")
{
  Served served;
  WorkerPool pool(*served.connection, 1);
  pool.submit(42, api::endpoints::get_device("not-an-id"));
  auto answer = pool.wait(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  REQUIRE(answer.has_value());
  CHECK(answer->ticket == 42);
  REQUIRE_FALSE(answer->result.has_value());
  CHECK(answer->result.error().status == 404);
}

TEST_CASE("stopping drains what is in flight and the pool can be destroyed at once after", "[worker_pool]")
{
  Served served(100);
  const int abandoned_before = abandoned_workers();
  auto pool = std::make_unique<WorkerPool>(*served.connection, 2);
  pool->submit(1, api::endpoints::list_devices({}));
  pool->submit(2, api::endpoints::list_devices({}));
  // Both requests are taken by workers before the pool is told to stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (device_lists_taken(*served.service) < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(device_lists_taken(*served.service) == 2);
  pool->stop(std::chrono::milliseconds(5000));
  // Drained: every worker was joined, none left inside a request.
  CHECK(abandoned_workers() == abandoned_before);
  pool.reset();
  CHECK(abandoned_workers() == abandoned_before);
}
