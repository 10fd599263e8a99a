// The real binary against a hostile or broken server (tests/support/
// scripted_server): huge, dripped, endless, deep, HTML, redirected and
// token-echoing answers, absurd Retry-After values. Each ends with a
// documented exit code and a message that names the request, within bounded
// time and memory, and never with the token in any output or state file.
#include "tests/support/sandbox_process.hpp"
#include "tests/support/scripted_server.hpp"
#include "tests/support/wait_until.hpp"
#include "tests/support/wall_time.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <thread>

using nlohmann::json;
using namespace fleetrun::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_token = "s3cr3t-t0k3n-4-tests";

const char* k_plan = R"(version: 1
queries:
  all: {query: {name: {$startsWith: device}}}
steps:
  - {id: ping, action: send_command, query: all, name: ping, allow_whole_fleet: true}
)";

std::vector<std::string> env_for(const ScriptedServer& server)
{
  return {"LOSANT_API_URL=" + server.url(), std::string("LOSANT_API_TOKEN=") + k_token,
          std::string("LOSANT_APPLICATION_ID=") + k_sandbox_application};
}

std::string read_all(const std::filesystem::path& path)
{
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `fleetrun plan` against `server`, timed.
struct Timed {
  CommandResult result;
  std::chrono::milliseconds took;
};

Timed plan_against(const ScriptedServer& server, const TempDir& dir, std::vector<std::string> extra = {})
{
  write_file(dir / "plan.yaml", k_plan);
  std::vector<std::string> args = {"plan", (dir / "plan.yaml").string(), "--state", (dir / "s.db").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto started = std::chrono::steady_clock::now();
  CommandResult result = run_fleetrun(args, env_for(server));
  return {std::move(result),
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)};
}

bool is_device_list(const RawRequest& request)
{
  return request.method == "GET" && request.path.ends_with("/devices");
}

} // namespace

#ifdef FLEETRUN_SANITIZED_BUILD
// ASan keeps up to 256 MiB of freed memory in quarantine, plus its shadow: still far below 2.5 GB.
constexpr long k_rss_ceiling_kib = 1024 * 1024;
#else
constexpr long k_rss_ceiling_kib = 300 * 1024;
#endif

TEST_CASE("a 2.5 GB answer is refused at 64 MiB without holding it in memory", "[hostile_answers]")
{
  ScriptedServer server([](const RawRequest&) -> Writer {
    return [](int fd) {
      if (!write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2500000000\r\nContent-Type: application/json\r\n\r\n"))
        return false;
      const std::string chunk(1 << 20, ' ');
      for (int i = 0; i < 2400; ++i) {
        if (!write_all(fd, chunk)) return false;
      }
      return false;
    };
  });
  TempDir dir;
  const auto [result, took] = plan_against(server, dir);
  INFO(result.err);
  CHECK(result.exit_code == 5);
  CHECK_THAT(result.err, Catch::Contains("larger than 64 MiB"));
  CHECK_THAT(result.err, Catch::Contains("GET " + server.url() + "/applications/"));
  CHECK(result.peak_rss_kib < k_rss_ceiling_kib);
}

TEST_CASE("an endless chunked answer is cut off too", "[hostile_answers]")
{
  ScriptedServer server([](const RawRequest&) -> Writer {
    return [](int fd) {
      if (!write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return false;
      const std::string chunk = "100000\r\n" + std::string(0x100000, '[') + "\r\n";
      for (;;) {
        if (!write_all(fd, chunk)) return false;
      }
    };
  });
  TempDir dir;
  const auto [result, took] = plan_against(server, dir);
  CHECK(result.exit_code == 5);
  CHECK_THAT(result.err, Catch::Contains("larger than 64 MiB"));
  CHECK(result.peak_rss_kib < k_rss_ceiling_kib);
}

TEST_CASE("an answer dripped a byte at a time ends at the request's deadline", "[hostile_answers]")
{
  ScriptedServer server([](const RawRequest&) -> Writer {
    return [](int fd) {
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, ' ');
      for (const char c : answer) {
        if (!write_all(fd, std::string(1, c))) return false;
        std::this_thread::sleep_for(300ms);
      }
      return false;
    };
  });
  TempDir dir;
  const auto [result, took] =
      plan_against(server, dir, {"--read-timeout-ms", "3000", "--request-timeout-ms", "2000", "--max-attempts", "2"});
  INFO(result.err);
  CHECK(result.exit_code == 5);
  CHECK_THAT(result.err, Catch::Contains("no complete answer within 2000 ms"));
  // Two attempts, each cut at 2 s: not the five minutes it would drip.
  CHECK_WALL_TIME(took < 10s);
}

// A byte every 1.5 s keeps the read timeout (3 s here) from ever firing;
// the low-speed limit ends it, counted as a transient failure and retried.
Writer trickle(std::chrono::milliseconds every)
{
  return [every](int fd) {
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, ' ');
    for (const char c : answer) {
      if (!write_all(fd, std::string(1, c))) return false;
      std::this_thread::sleep_for(every);
    }
    return false;
  };
}

TEST_CASE("a trickling answer is cut off by the low-speed limit and retried as transient", "[hostile_answers]")
{
  ScriptedServer server([](const RawRequest&) -> Writer { return trickle(1500ms); });
  TempDir dir;
  const auto [result, took] = plan_against(
      server, dir,
      {"--read-timeout-ms", "3000", "--low-speed-limit", "100", "--low-speed-time", "3", "--max-attempts", "2"});
  INFO(result.err);
  CHECK(result.exit_code == 5);
  CHECK_THAT(result.err, Catch::Contains("fewer than 100 bytes/s for 3 s"));
  CHECK(server.requests() == 2); // transient: tried again
  CHECK_WALL_TIME(took < 15s);
}

TEST_CASE("by default a trickling answer ends within about 30 s, not at the 180 s deadline", "[hostile_answers]")
{
  ScriptedServer server([](const RawRequest&) -> Writer { return trickle(1500ms); });
  TempDir dir;
  const auto [result, took] = plan_against(server, dir, {"--read-timeout-ms", "3000", "--max-attempts", "1"});
  INFO(result.err);
  CHECK(result.exit_code == 5);
  CHECK_THAT(result.err, Catch::Contains("bytes/s for 20 s"));
  CHECK_WALL_TIME(took < 30s);
}

TEST_CASE("HTML, redirects and unreadable totals are refused naming the request (exit 5)", "[hostile_answers]")
{
  const std::vector<std::pair<Writer, std::string>> cases = {
      {answer(200, "<html><body>Welcome to the captive portal</body></html>"), "could not be read"},
      {answer(302, "", {{"Location", "https://elsewhere.example/login"}}),
       "redirect to https://elsewhere.example/login"},
      {answer(200, R"({"items":[],"count":0,"totalCount":"lots"})"), "totalCount must be a whole number"},
      {answer(404, "<html>Not Found</html>"), "HTTP 404"},
  };
  for (const auto& [writer, expected] : cases) {
    int served = 0;
    ScriptedServer server([&](const RawRequest&) -> Writer {
      ++served;
      return writer;
    });
    TempDir dir;
    const auto [result, took] = plan_against(server, dir);
    INFO(result.err);
    CHECK(result.exit_code == 5);
    CHECK_THAT(result.err, Catch::Contains(expected));
    CHECK_THAT(result.err, Catch::Contains("[GET " + server.url()));
    CHECK(served == 1); // not retried: the answer says the server is not the API
  }
}

namespace {

// A 200 answer with a JSON body, kept alive.
Writer json_answer(std::string body)
{
  return [body = std::move(body)](int fd) {
    return write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body);
  };
}

std::string hex_id(unsigned long long n)
{
  char id[25];
  std::snprintf(id, sizeof id, "5f%022llx", n);
  return id;
}

// A page of `count` devices with rising ids from `first`, each a full document's worth of text.
std::string device_page(unsigned long long first, int count, bool descending, const std::string& total)
{
  std::string body = "{" + total + "\"items\":[";
  for (int i = 0; i < count; ++i) {
    const unsigned long long n =
        descending ? first - static_cast<unsigned long long>(i) : first + static_cast<unsigned long long>(i);
    body += (i ? "," : "") + std::string("{\"id\":\"") + hex_id(n) + "\",\"name\":\"d\",\"description\":\"" +
            std::string(600, 'x') + "\"}";
  }
  return body + "]}";
}

// The lower id bound of a range query in the request's query string, as a number.
unsigned long long range_start(const RawRequest& request)
{
  const auto at = request.target.find("%22%24gt");
  if (at == std::string::npos) return 0;
  const auto id = request.target.find("5f", at);
  return std::stoull(request.target.substr(id + 2, 22), nullptr, 16) + 1;
}

// The upper id bound of a range query ($lt), as a number; 0 when there is none.
unsigned long long range_end(const RawRequest& request)
{
  const auto at = request.target.find("%22%24lt");
  if (at == std::string::npos) return 0;
  const auto id = request.target.find("5f", at);
  return std::stoull(request.target.substr(id + 2, 22), nullptr, 16);
}

// Up to a page of new devices from the range's start, inside the range: a
// server that honours the query and always has more (how many parts the
// range was cut into depends on how fast answers come, so a device outside
// a part would be caught as "outside the ids asked for" instead, sooner or
// later by timing).
std::string endless_range(const RawRequest& request, const std::string& total)
{
  const auto start = range_start(request);
  const auto end = range_end(request);
  const int count = end == 0       ? 1000
                    : end <= start ? 0
                                   : static_cast<int>(std::min<unsigned long long>(1000, end - start));
  return device_page(start, count, false, total);
}

// Requests the sandbox has answered on routes starting with `prefix` ("PATCH",
// "GET /applications/{applicationId}/devices 200"), every status counted.
int served(SandboxProcess& sandbox, std::string_view prefix)
{
  int total = 0;
  const json stats = sandbox.admin_get("/_sandbox/stats");
  for (const auto& [route, count] : stats["requests"].items())
    if (route.starts_with(prefix)) total += count.get<int>();
  return total;
}

} // namespace

TEST_CASE("a server with endless pages is stopped in seconds, in bounded memory, naming the query and why",
          "[hostile_answers]")
{
  struct Case {
    const char* what;
    std::function<std::string(const RawRequest&)> answer;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"new devices in every range asked for, beyond the reported total",
       [](const RawRequest& request) {
         if (request.target.find("sortDirection=desc") != std::string::npos)
           return device_page(1'000'000'000'000ULL, 1000, true, "\"totalCount\":5000,");
         return endless_range(request, "\"totalCount\":5000,");
       },
       "reported 5000 in all"},
      {"the same page whatever the cursor",
       [](const RawRequest& request) {
         if (request.target.find("sortDirection=desc") != std::string::npos)
           return device_page(1'000'000'000'000ULL, 1000, true, "\"totalCount\":9000000,");
         return device_page(0, 1000, false, "\"totalCount\":9000000,");
       },
       "outside the ids asked for"},
      {"new devices and no total at all",
       [](const RawRequest& request) {
         if (request.target.find("sortDirection=desc") != std::string::npos)
           return device_page(1'000'000'000'000ULL, 1000, true, "");
         return endless_range(request, "");
       },
       "after "},
  };
  for (const auto& example : cases) {
    INFO(example.what);
    ScriptedServer server([&](const RawRequest& request) -> Writer { return json_answer(example.answer(request)); });
    TempDir dir;
    const bool no_total = std::string(example.expected) == "after ";
    std::vector<std::string> extra;
    if (no_total) {
      // Without a total only the most one query may read (10 million) would
      // stop it; the query's expect.max stops it sooner, and memory stays flat.
      write_file(dir / "bounded.yaml",
                 std::string(k_plan).replace(std::string(k_plan).find("}}}"), 3, "}}, expect: {max: 30000}}"));
    }
    const auto started = std::chrono::steady_clock::now();
    const CommandResult result =
        no_total ? run_fleetrun({"plan", (dir / "bounded.yaml").string(), "--state", (dir / "s.db").string()},
                                env_for(server))
                 : plan_against(server, dir).result;
    const auto took = std::chrono::steady_clock::now() - started;
    INFO(result.err);
    CHECK_WALL_TIME(took < 15s);
    if (no_total) {
      CHECK(result.exit_code == 3);
      CHECK_THAT(result.out, Catch::Contains("more than expect.max 30000"));
    } else {
      CHECK(result.exit_code == 5);
      CHECK_THAT(result.err, Catch::Contains("query all:"));
      CHECK_THAT(result.err, Catch::Contains(example.expected));
      CHECK_THAT(result.err, Catch::Contains("pages"));
    }
    CHECK(result.peak_rss_kib < k_rss_ceiling_kib);
  }
}

TEST_CASE("Retry-After over the ceiling stops at once, however it is written", "[hostile_answers]")
{
  for (const std::string retry_after : {"86400", "1e300", "inf"}) {
    ScriptedServer server([&](const RawRequest&) -> Writer {
      return answer(429, R"({"type":"TooManyRequests","message":"slow down"})", {{"Retry-After", retry_after}});
    });
    TempDir dir;
    const auto [result, took] = plan_against(server, dir, {"--max-attempts", "3", "--max-retry-after", "3"});
    INFO(retry_after << ": " << result.err);
    CHECK(result.exit_code == 5);
    CHECK_WALL_TIME(took < 30s);
    CHECK_THAT(result.err, Catch::Contains("--max-retry-after"));
  }
}

TEST_CASE("an error answer that echoes the token reaches no output and no state file", "[hostile_answers]")
{
  ScriptedServer server([](const RawRequest& request) -> Writer {
    if (is_device_list(request)) return answer(200, device_page(1, 3, 3));
    const std::string echoed = request.headers.contains("authorization") ? request.headers.at("authorization") : "";
    return answer(400, json{{"type", "Validation"}, {"message", "you sent " + echoed}}.dump());
  });
  TempDir dir;
  write_file(dir / "plan.yaml", k_plan);
  const auto result = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", (dir / "s.db").string(),
                                    "--output", "json", "--log-level", "debug"},
                                   env_for(server));
  INFO(result.err);
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Catch::Contains("you sent Bearer [REDACTED]"));
  CHECK_THAT(result.out + result.err, !Catch::Contains(k_token));
  for (const auto& file : std::filesystem::directory_iterator(dir.path())) {
    INFO(file.path());
    CHECK(read_all(file.path()).find(k_token) == std::string::npos);
  }
  const auto status = run_fleetrun({"status", "--state", (dir / "s.db").string(), "--output", "json"});
  CHECK(status.exit_code == 0);
  CHECK_THAT(status.out, !Catch::Contains(k_token));
}

TEST_CASE("a job log nested 100,000 deep fails the poll, not the process, resume does the same", "[hostile_answers]")
{
  ScriptedServer server([](const RawRequest& request) -> Writer {
    if (is_device_list(request)) return answer(200, device_page(1, 3, 3));
    if (request.method == "POST") return answer(202, R"({"jobQueued":true,"jobId":"job1","success":true})");
    return answer(200,
                  R"({"status":"completed","output":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}");
  });
  TempDir dir;
  write_file(dir / "plan.yaml", k_plan);
  const std::vector<std::string> args = {
      "apply", (dir / "plan.yaml").string(), "--yes", "--state", (dir / "s.db").string(), "--max-attempts", "2"};
  const auto first = run_fleetrun(args, env_for(server));
  INFO(first.err);
  CHECK(first.exit_code == 1);
  CHECK_THAT(first.err, Catch::Contains("nests deeper than 64 levels"));
  const auto again =
      run_fleetrun({"resume", "--state", (dir / "s.db").string(), "--max-attempts", "2"}, env_for(server));
  INFO(again.err);
  CHECK(again.exit_code == 1);
}

TEST_CASE("a URL with credentials is refused without showing them", "[hostile_answers]")
{
  TempDir dir;
  write_file(dir / "plan.yaml", k_plan);
  const auto result = run_fleetrun(
      {"plan", (dir / "plan.yaml").string(), "--api-url", "https://alice:pa55word@api.example.com"},
      {std::string("LOSANT_API_TOKEN=") + k_token, std::string("LOSANT_APPLICATION_ID=") + k_sandbox_application});
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("https://***@api.example.com"));
  CHECK_THAT(result.err, !Catch::Contains("pa55word"));
  CHECK_FALSE(std::filesystem::exists(dir / "plan.fleetrun.db"));
}

TEST_CASE("a token with a line break is refused before any request", "[hostile_answers]")
{
  ScriptedServer server([](const RawRequest&) -> Writer { return answer(200, device_page(1, 1, 1)); });
  TempDir dir;
  write_file(dir / "plan.yaml", k_plan);
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string()},
                                   {"LOSANT_API_URL=" + server.url(), "LOSANT_API_TOKEN=abc\r\nX-Injected: yes",
                                    std::string("LOSANT_APPLICATION_ID=") + k_sandbox_application});
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("control character"));
  CHECK(server.requests() == 0);
}

TEST_CASE("the state file is readable by its owner only", "[hostile_answers]")
{
  SandboxProcess sandbox({"--devices", "5"});
  TempDir dir;
  write_file(dir / "plan.yaml",
             "version: 1\nqueries: {q: {query: {name: x}}}\nsteps: [{id: e, action: export, query: q}]\n");
  REQUIRE(run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox)).exit_code == 0);
  struct stat info {};
  REQUIRE(::stat((dir / "plan.fleetrun.db").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("a state file deleted under a running apply stops it with exit 4", "[hostile_answers]")
{
  SandboxProcess sandbox({"--devices", "3000", "--latency-ms", "100"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {name: {$ne: nobody}}}}
steps: [{id: t, action: patch, query: all, batch_size: 10, allow_whole_fleet: true, updateFields: {description: x}}]
)");
  FleetrunProcess apply({"apply", (dir / "plan.yaml").string(), "--yes", "--concurrency", "1"}, sandbox_env(sandbox));
  // Deleted once batches are being sent (each answer takes 100 ms: there are 300).
  wait_until([&] { return served(sandbox, "PATCH") >= 2; }, "the apply to send batches");
  std::filesystem::remove(dir / "plan.fleetrun.db");
  const auto started = std::chrono::steady_clock::now();
  const auto result = apply.wait();
  INFO(result.err);
  CHECK(result.exit_code == 4);
  CHECK_THAT(result.err, Catch::Contains("was deleted while this command was using it"));
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("SIGTERM during resolution stops it within a second, exit 130, and resume continues", "[hostile_answers]")
{
  SandboxProcess sandbox({"--devices", "8000", "--latency-ms", "400"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {name: {$ne: nobody}}}}
steps: [{id: t, action: patch, query: all, allow_whole_fleet: true, updateFields: {description: x}}]
)");
  FleetrunProcess apply({"apply", (dir / "plan.yaml").string(), "--yes"}, sandbox_env(sandbox));
  // Stopped once resolution has read a page (each answer takes 400 ms; eight pages).
  wait_until([&] { return served(sandbox, "GET /applications/{applicationId}/devices 200") >= 1; },
             "resolution to read a page");
  const auto stats_before = sandbox.admin_get("/_sandbox/stats");
  apply.signal(SIGTERM);
  const auto signalled = std::chrono::steady_clock::now();
  const auto result = apply.wait();
  INFO(result.err);
  CHECK(result.exit_code == 130);
  CHECK(std::chrono::steady_clock::now() - signalled < 1500ms);
  const auto status = run_fleetrun({"status", "--state", (dir / "plan.fleetrun.db").string(), "--output", "json"});
  CHECK(json::parse(status.out)["status"] == "interrupted");
  CHECK(json::parse(status.out)["steps"].empty());
  const auto resumed = run_fleetrun({"resume", "--state", (dir / "plan.fleetrun.db").string()}, sandbox_env(sandbox));
  INFO(resumed.err);
  CHECK(resumed.exit_code == 0);
  (void)stats_before;
}
