#include "api/losant_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace fleetrun::api;

namespace {

// Records what the client sends and answers from a script.
class RecordingTransport final : public HttpTransport {
public:
  std::vector<HttpRequest> sent;
  std::vector<std::expected<HttpResponse, TransportFailure>> answers;

  std::expected<HttpResponse, TransportFailure> send(const HttpRequest& request) override
  {
    sent.push_back(request);
    if (answers.empty()) return HttpResponse{200, "{}", {}};
    auto answer = answers.front();
    answers.erase(answers.begin());
    return answer;
  }
};

struct Fixture {
  RecordingTransport transport;
  LosantClient client{transport,
                      ClientOptions{"https://api.example", "5f1a2b3c4d5e6f7a8b9c0d1e", Secret("tok-123"), "^1.29.3"}};
};

std::string header(const HttpRequest& request, const std::string& name)
{
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return {};
}

} // namespace

TEST_CASE("every call carries the official headers", "[losant_client]")
{
  Fixture f;
  REQUIRE(f.client.patch_devices({{"deviceIds", json::array()}}).has_value());
  const auto& request = f.transport.sent.at(0);
  CHECK(request.method == "PATCH");
  CHECK(header(request, "Authorization") == "Bearer tok-123");
  CHECK(header(request, "Accept") == "application/json");
  CHECK(header(request, "Accept-Version") == "^1.29.3");
  CHECK(header(request, "Content-Type") == "application/json");
  CHECK(request.body == R"({"deviceIds":[]})");
  CHECK(request.target == "/applications/5f1a2b3c4d5e6f7a8b9c0d1e/devices?_actions=false&_links=true&_embedded=true");
}

TEST_CASE("GET devices encodes the query as one JSON parameter and filters in bracket form", "[losant_client]")
{
  Fixture f;
  DeviceListParams params;
  params.sort_field = "id";
  params.page = 2;
  params.per_page = 500;
  params.query_json = R"({"tags":{"site":"north"}})";
  params.tag_filter = {{"site", ""}};
  params.device_class = {"gateway", "peripheral"};
  REQUIRE(f.client.get_devices(params).has_value());
  const auto& request = f.transport.sent.at(0);
  CHECK_FALSE(request.body.has_value());
  CHECK(header(request, "Content-Type").empty());
  CHECK(request.target ==
        "/applications/5f1a2b3c4d5e6f7a8b9c0d1e/devices?sortField=id&page=2&perPage=500"
        "&deviceClass%5B0%5D=gateway&deviceClass%5B1%5D=peripheral&tagFilter%5B0%5D%5Bkey%5D=site"
        "&query=%7B%22tags%22%3A%7B%22site%22%3A%22north%22%7D%7D&_actions=false&_links=true&_embedded=true");
}

TEST_CASE("each typed call goes to its documented path", "[losant_client]")
{
  Fixture f;
  const std::string app = "/applications/5f1a2b3c4d5e6f7a8b9c0d1e";
  f.client.create_device({{"name", "x"}});
  f.client.delete_devices({{"query", json::object()}});
  f.client.restore_devices({{"query", json::object()}});
  f.client.remove_data({{"query", json::object()}});
  f.client.send_command({{"name", "x"}});
  f.client.export_devices(json::object(), "ops@example.com");
  f.client.get_device("5f0000000000000000000001");
  f.client.get_command_history("5f0000000000000000000001", {5, 10, 20, "asc"});
  f.client.get_job_log("job0001");
  f.client.list_job_logs({});
  std::vector<std::string> seen;
  for (const auto& r : f.transport.sent)
    seen.push_back(r.method + " " + r.target.substr(0, r.target.find("_actions") - 1));
  CHECK(seen ==
        std::vector<std::string>{
            "POST " + app + "/devices",
            "POST " + app + "/devices/delete",
            "POST " + app + "/devices/restore",
            "POST " + app + "/devices/removeData",
            "POST " + app + "/devices/command",
            "POST " + app + "/devices/export?email=ops%40example.com",
            "GET " + app + "/devices/5f0000000000000000000001",
            "GET " + app + "/devices/5f0000000000000000000001/command?limit=5&start=10&end=20&sortDirection=asc",
            "GET " + app + "/jobLogs/job0001",
            "GET " + app + "/jobLogs?page=0&perPage=100",
        });
}

TEST_CASE("HTTP errors are classified with the server's message", "[losant_client]")
{
  Fixture f;
  f.transport.answers = {HttpResponse{400, R"({"type":"Validation","message":"deviceIds[0]: bad"})", {}},
                         HttpResponse{401, R"({"type":"Unauthorized","message":"Invalid access token"})", {}},
                         HttpResponse{429, "{}", {{"retry-after", "3"}}}, HttpResponse{503, "oops", {}},
                         HttpResponse{202, R"({"jobQueued":true})", {}}};
  const auto validation = f.client.patch_devices(json::object());
  REQUIRE_FALSE(validation.has_value());
  CHECK(validation.error().kind == ErrorKind::permanent);
  CHECK(validation.error().describe() == "HTTP 400 Validation: deviceIds[0]: bad");
  CHECK(f.client.patch_devices(json::object()).error().kind == ErrorKind::auth);
  const auto limited = f.client.patch_devices(json::object());
  CHECK(limited.error().kind == ErrorKind::transient);
  CHECK(limited.error().retry_after_s == 3.0);
  const auto unavailable = f.client.patch_devices(json::object());
  CHECK(unavailable.error().kind == ErrorKind::transient);
  CHECK(unavailable.error().message == "oops");
  const auto queued = f.client.patch_devices(json::object());
  REQUIRE(queued.has_value());
  CHECK(queued->status == 202);
}

TEST_CASE("transport failures keep whether the request may have been applied", "[losant_client]")
{
  Fixture f;
  f.transport.answers = {
      std::unexpected(TransportFailure{ErrorKind::transient, Delivery::not_sent, "refused"}),
      std::unexpected(TransportFailure{ErrorKind::transient, Delivery::maybe_sent, "connection lost"})};
  const auto refused = f.client.send_command({{"name", "x"}});
  CHECK(refused.error().delivery == Delivery::not_sent);
  CHECK(refused.error().status == 0);
  const auto lost = f.client.send_command({{"name", "x"}});
  CHECK(lost.error().delivery == Delivery::maybe_sent);
  CHECK(lost.error().describe() == "connection lost (the request may have been applied)");
}

TEST_CASE("an answer echoing the token is redacted in every error and body", "[losant_client]")
{
  Fixture f;
  f.transport.answers.push_back(HttpResponse{400, R"({"type":"Validation","message":"you sent tok-123"})", {}});
  f.transport.answers.push_back(HttpResponse{502, "<html>Bearer tok-123 rejected</html>", {}});
  f.transport.answers.push_back(HttpResponse{200, R"({"items":[{"description":"tok-123"}]})", {}});
  f.transport.answers.push_back(
      std::unexpected(TransportFailure{ErrorKind::transient, Delivery::not_sent, "tok-123 lost"}));
  const auto first = f.client.get_devices({});
  CHECK(first.error().describe() == "HTTP 400 Validation: you sent [REDACTED]");
  CHECK_THAT(f.client.get_devices({}).error().describe(), !Catch::Contains("tok-123"));
  CHECK_THAT(f.client.get_devices({})->body, !Catch::Contains("tok-123"));
  CHECK_THAT(f.client.get_devices({}).error().describe(), !Catch::Contains("tok-123"));
}

TEST_CASE("an error names the request it answers, without its query", "[losant_client]")
{
  Fixture f;
  f.transport.answers.push_back(HttpResponse{404, R"({"type":"NotFound","message":"Application was not found"})", {}});
  const auto result = f.client.get_devices({});
  CHECK(result.error().describe_with_request() == "HTTP 404 NotFound: Application was not found [GET "
                                                  "https://api.example/applications/5f1a2b3c4d5e6f7a8b9c0d1e/devices]");
}

TEST_CASE("a redirect is refused with where it pointed, never followed", "[losant_client]")
{
  Fixture f;
  f.transport.answers.push_back(HttpResponse{302, "", {{"Location", "https://evil.example/steal"}}});
  const auto result = f.client.get_devices({});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorKind::permanent);
  CHECK_THAT(result.error().message, Catch::Contains("redirect to https://evil.example/steal"));
  CHECK(f.transport.sent.size() == 1);
}

TEST_CASE("hostile error bodies never throw: wrong types, deep nesting, HTML, bytes", "[losant_client]")
{
  const std::vector<std::string> bodies = {R"({"type":5,"message":["x"]})", std::string(100'000, '[') + "1",
                                           "<html><body>502 Bad Gateway</body></html>", std::string("\xFF\xFE\0x", 4),
                                           R"({"message":null})"};
  for (const auto& body : bodies) {
    const ApiError error = error_from_response({503, body, {{"Retry-After", "inf"}}});
    CHECK(error.kind == ErrorKind::transient);
    CHECK_FALSE(error.retry_after_s.has_value());
    CHECK_FALSE(error.message.empty());
    CHECK(error.message.size() < 300);
  }
}

TEST_CASE("a 2xx answer nested deeper than any API answer is refused for a GET, ignored for a change",
          "[losant_client]")
{
  Fixture f;
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  f.transport.answers.push_back(HttpResponse{200, deep, {}});
  f.transport.answers.push_back(HttpResponse{200, deep, {}});
  const auto read = f.client.get_devices({});
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().kind == ErrorKind::transient);
  const auto changed = f.client.patch_devices({{"deviceIds", json::array()}});
  REQUIRE(changed.has_value());
  CHECK(changed->body == "{}");
}
