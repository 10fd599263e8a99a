// fleetrun's Losant client over real sockets (Poco HTTP and HTTPS) against
// the real sandbox binary.
#include "api/losant_client.hpp"
#include "tests/support/sandbox_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <thread>

using nlohmann::json;
using namespace fleetrun::api;
using namespace fleetrun::testing;

namespace {

struct Client {
  explicit Client(const std::string& url, TransportOptions options = {})
  {
    options.base_url = url;
    options.read_timeout = std::chrono::seconds(10);
    transport = make_poco_transport(options);
    client = std::make_unique<LosantClient>(
        *transport, ClientOptions{"http://sandbox", k_sandbox_application, Secret(k_sandbox_token), "^1.29.3"});
  }
  std::unique_ptr<HttpTransport> transport;
  std::unique_ptr<LosantClient> client;
};

json body_of(const ApiResult& result)
{
  REQUIRE(result.has_value());
  return json::parse(result->body);
}

} // namespace

TEST_CASE("list, create, patch, delete and restore over HTTP with one kept-alive connection", "[client_over_http]")
{
  SandboxProcess sandbox({"--devices", "20"});
  Client c(sandbox.url());
  DeviceListParams params;
  params.sort_field = "id";
  params.query_json = R"({"deviceClass":{"$ne":"gateway"}})";
  const json page = body_of(c.client->get_devices(params));
  CHECK(page["totalCount"].get<int>() > 0);

  const json created =
      body_of(c.client->create_device({{"name", "made-by-test"}, {"tags", {{{"key", "k"}, {"value", "v"}}}}}));
  const std::string id = created["id"];
  CHECK(body_of(c.client->patch_devices({{"deviceIds", {id}}, {"updateFields", {{"description", "patched"}}}})) ==
        json{{"updated", 1}, {"failed", 0}, {"skipped", 0}});
  CHECK(body_of(c.client->get_device(id))["description"] == "patched");
  CHECK(body_of(c.client->delete_devices({{"query", {{"id", id}}}})) == json{{"removed", 1}, {"failed", 0}});
  const auto gone = c.client->get_device(id);
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().status == 404);
  CHECK(gone.error().kind == ErrorKind::permanent);
  CHECK(body_of(c.client->restore_devices({{"query", {{"id", id}}}})) == json{{"restored", 1}, {"failed", 0}});
}

TEST_CASE("a 202 job is followed through the job log", "[client_over_http]")
{
  SandboxProcess sandbox({"--devices", "30", "--job-threshold", "5", "--job-duration-ms", "100"});
  Client c(sandbox.url());
  const auto queued =
      c.client->send_command({{"name", "reboot"}, {"deviceQuery", json::object()}, {"time", 1'790'000'000'000}});
  REQUIRE(queued.has_value());
  CHECK(queued->status == 202);
  const std::string job_id = json::parse(queued->body)["jobId"];
  json log;
  for (int i = 0; i < 200; ++i) {
    log = body_of(c.client->get_job_log(job_id));
    if (log["status"] == "completed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(log["status"] == "completed");
  CHECK(log["output"]["sent"] == 30);
  const json history = body_of(
      c.client->get_command_history(sandbox.admin_get("/_sandbox/devices")[0]["id"], {10, 1, std::nullopt, "asc"}));
  REQUIRE(history.size() == 1);
  CHECK(history[0]["name"] == "reboot");
}

TEST_CASE("delivery is not_sent when the server is unreachable", "[client_over_http]")
{
  int port = 0;
  {
    SandboxProcess sandbox;
    port = sandbox.port();
  } // stopped: nothing listens there now
  Client c("http://127.0.0.1:" + std::to_string(port));
  const auto result = c.client->get_device("5f0000000000000000000001");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorKind::transient);
  CHECK(result.error().delivery == Delivery::not_sent);
}

TEST_CASE("a connection dropped after the request is maybe_sent", "[client_over_http]")
{
  SandboxProcess sandbox({"--devices", "3", "--fault-drop-after", "1"});
  Client c(sandbox.url());
  const auto result = c.client->delete_devices({{"query", json::object()}});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().delivery == Delivery::maybe_sent);
  CHECK(result.error().kind == ErrorKind::transient);
  // It was applied: exactly why an unknown outcome must never be assumed failed.
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) CHECK(device.contains("deletedAt"));
}

TEST_CASE("a read timeout is reported as a timeout", "[client_over_http]")
{
  SandboxProcess sandbox({"--devices", "1", "--latency-ms", "1500"});
  TransportOptions options;
  options.base_url = sandbox.url();
  options.read_timeout = std::chrono::milliseconds(300);
  auto transport = make_poco_transport(options);
  LosantClient client(*transport,
                      ClientOptions{"http://sandbox", k_sandbox_application, Secret(k_sandbox_token), "^1.29.3"});
  const auto result = client.get_devices({});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorKind::timeout);
  CHECK(result.error().delivery == Delivery::maybe_sent);
}

TEST_CASE("429 carries Retry-After to the caller", "[client_over_http]")
{
  SandboxProcess sandbox({"--devices", "1", "--rate", "1", "--burst", "1"});
  Client c(sandbox.url());
  REQUIRE(c.client->get_devices({}).has_value());
  const auto limited = c.client->get_devices({});
  REQUIRE_FALSE(limited.has_value());
  CHECK(limited.error().status == 429);
  CHECK(limited.error().retry_after_s == 1.0);
}

TEST_CASE("HTTPS: certificates are verified unless a CA file or --insecure says otherwise", "[client_over_http][tls]")
{
  TempDir dir;
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                              "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                              key + " -out " + cert + " 2>/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  SandboxProcess sandbox({"--devices", "2", "--tls-cert", cert, "--tls-key", key});
  const std::string url = "https://127.0.0.1:" + std::to_string(sandbox.port());

  Client verified(url);
  const auto refused = verified.client->get_devices({});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == ErrorKind::permanent);
  CHECK(refused.error().message.find("--ca-file") != std::string::npos);

  TransportOptions with_ca;
  with_ca.ca_file = cert;
  Client trusted(url, with_ca);
  CHECK(body_of(trusted.client->get_devices({}))["totalCount"] == 2);

  TransportOptions insecure;
  insecure.insecure = true;
  Client unchecked(url, insecure);
  CHECK(unchecked.client->get_devices({}).has_value());
}

TEST_CASE("HTTPS: the host name is checked even on loopback", "[client_over_http][tls]")
{
  // A certificate for api.losant.com, trusted through --ca-file, served at
  // 127.0.0.1: the name does not match the host, so no request may go out.
  TempDir dir;
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=api.losant.com "
                              "-addext subjectAltName=DNS:api.losant.com -keyout " +
                              key + " -out " + cert + " 2>/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  SandboxProcess sandbox({"--devices", "2", "--tls-cert", cert, "--tls-key", key});
  TransportOptions with_ca;
  with_ca.ca_file = cert;
  Client client("https://127.0.0.1:" + std::to_string(sandbox.port()), with_ca);
  const auto refused = client.client->get_devices({});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == ErrorKind::permanent);
  CHECK_THAT(refused.error().message, Catch::Contains("TLS failed"));
}
