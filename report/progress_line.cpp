#include "report/progress_line.hpp"

#include "text/text_format.hpp"

#include <cstdio>

namespace fleetrun::report {

using text::with_commas;

std::string duration_text(std::chrono::milliseconds duration)
{
  const std::int64_t seconds = std::max<std::int64_t>(0, duration.count() / 1000);
  char text[48];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(seconds));
  } else if (seconds < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  } else {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds / 60 % 60));
  }
  return text;
}

std::string progress_line(const runner::ProgressSnapshot& s)
{
  char number[64];
  std::string line = "step " + std::to_string(s.step_number) + "/" + std::to_string(s.step_count) + " " + s.step_id +
                     " (" + s.action + "): " + with_commas(s.devices_finished) + "/" + with_commas(s.devices_total) +
                     " devices";
  if (s.devices_total > 0) {
    std::snprintf(number, sizeof number, " %.1f %%",
                  100.0 * static_cast<double>(s.devices_finished) / static_cast<double>(s.devices_total));
    line += number;
  }
  if (s.devices_failed > 0) line += ", " + with_commas(s.devices_failed) + " failed";
  const double seconds = static_cast<double>(s.step_elapsed.count()) / 1000.0;
  if (seconds > 0) {
    std::snprintf(number, sizeof number, ", %.1f req/s", static_cast<double>(s.step_requests) / seconds);
    line += number;
  }
  line += ", " + with_commas(s.throttled) + " x 429, " + with_commas(s.retries) +
          (s.retries == 1 ? " retry" : " retries") + ", elapsed " + duration_text(s.run_elapsed);
  if (s.step_done) return line + ", step finished";
  if (s.devices_finished > 0 && s.devices_finished < s.devices_total && s.step_elapsed.count() > 0) {
    const double per_device = static_cast<double>(s.step_elapsed.count()) / static_cast<double>(s.devices_finished);
    const auto left = std::chrono::milliseconds(
        static_cast<std::int64_t>(per_device * static_cast<double>(s.devices_total - s.devices_finished)));
    line += ", ETA " + duration_text(left);
  }
  return line;
}

} // namespace fleetrun::report
