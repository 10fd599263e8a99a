#include "cli/notify.hpp"

#include "api/http_transport.hpp"
#include "text/text_format.hpp"

#include <Poco/URI.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace fleetrun::cli {

using nlohmann::json;

std::string notification_text(const std::string& outcome, const report::RunFacts& facts)
{
  std::string text = "fleetrun: run " + facts.run + " " + outcome + " (" + facts.status + "), plan " + facts.plan +
                     ", application " + facts.application;
  for (const auto& step : facts.steps) {
    text += "\n" + std::to_string(step.index) + ". " + step.id + " (" + step.action + "): ";
    std::string counts;
    for (const auto& [state, devices] : step.devices_by_state)
      counts += (counts.empty() ? "" : ", ") + text::with_commas(devices) + " " + state;
    text += counts.empty() ? step.status : counts;
  }
  text += "\n`fleetrun status --run " + facts.run + "` and `fleetrun report` say more.";
  return text;
}

void send_notification(const plans::Plan& plan, const plans::Environment& env, const std::string& outcome,
                       const report::RunFacts& facts)
{
  if (!plan.notify) return;
  const auto& spec = *plan.notify;
  if (std::find(spec.on.begin(), spec.on.end(), outcome) == spec.on.end()) return;
  const auto url = env(spec.webhook_url_env);
  if (!url || url->empty()) {
    spdlog::warn("notify: ${} is not set; no notification sent", spec.webhook_url_env);
    return;
  }
  try {
    const Poco::URI uri(*url);
    if (uri.getScheme() != "https" && uri.getScheme() != "http") {
      spdlog::warn("notify: ${} is not an http(s) URL; no notification sent", spec.webhook_url_env);
      return;
    }
    api::TransportOptions options;
    options.base_url = uri.getScheme() + "://" + uri.getAuthority();
    options.connect_timeout = std::chrono::seconds(5);
    options.read_timeout = std::chrono::seconds(10);
    options.request_timeout = std::chrono::seconds(15);
    options.max_answer_bytes = 64 * 1024;
    const auto transport = api::make_poco_transport(options);
    api::HttpRequest request;
    request.method = "POST";
    request.target = uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery();
    request.headers = {{"Content-Type", "application/json"}};
    request.body = json{{"text", notification_text(outcome, facts)}, {"outcome", outcome}, {"run", facts.run}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
    const auto answer = transport->send(request);
    if (!answer) {
      spdlog::warn("notify: the webhook in ${} could not be reached: {}", spec.webhook_url_env, answer.error().message);
    } else if (answer->status < 200 || answer->status >= 300) {
      spdlog::warn("notify: the webhook in ${} answered HTTP {}", spec.webhook_url_env, answer->status);
    } else {
      spdlog::info("notify: {} sent to the webhook in ${}", outcome, spec.webhook_url_env);
    }
  } catch (const std::exception& error) {
    spdlog::warn("notify: the webhook in ${} could not be used: {}", spec.webhook_url_env, error.what());
  }
}

} // namespace fleetrun::cli
