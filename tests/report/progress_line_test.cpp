// The progress line people read while a run goes on.
#include "report/progress_line.hpp"

#include <catch2/catch.hpp>

using namespace fleetrun::report;
using fleetrun::runner::ProgressSnapshot;
using namespace std::chrono_literals;

TEST_CASE("durations read as seconds, minutes and seconds, hours and minutes", "[progress]")
{
  CHECK(duration_text(0ms) == "0s");
  CHECK(duration_text(59999ms) == "59s");
  CHECK(duration_text(65s) == "1m05s");
  CHECK(duration_text(7380s) == "2h03m");
  CHECK(duration_text(-5s) == "0s");
}

TEST_CASE("a progress line: devices, share, rate, 429s, retries, elapsed and ETA", "[progress]")
{
  ProgressSnapshot s;
  s.step_id = "ping";
  s.action = "send_command";
  s.step_number = 2;
  s.step_count = 4;
  s.devices_total = 27760;
  s.devices_finished = 12000;
  s.step_requests = 92;
  s.throttled = 3;
  s.retries = 1;
  s.step_elapsed = 5s;
  s.run_elapsed = 65s;
  // 12,000 devices in 5 s: 15,760 more take 6.57 s.
  CHECK(progress_line(s) == "step 2/4 ping (send_command): 12,000/27,760 devices 43.2 %, 18.4 req/s, 3 x 429, "
                            "1 retry, elapsed 1m05s, ETA 6s");
  s.devices_failed = 40;
  s.step_done = true;
  s.devices_finished = 27760;
  CHECK(progress_line(s) == "step 2/4 ping (send_command): 27,760/27,760 devices 100.0 %, 40 failed, 18.4 req/s, "
                            "3 x 429, 1 retry, elapsed 1m05s, step finished");
}

TEST_CASE("no ETA before a device has finished, no rate before time has passed", "[progress]")
{
  ProgressSnapshot s;
  s.step_id = "tag";
  s.action = "patch";
  s.step_number = 1;
  s.step_count = 1;
  s.devices_total = 100;
  CHECK(progress_line(s) == "step 1/1 tag (patch): 0/100 devices 0.0 %, 0 x 429, 0 retries, elapsed 0s");
}
