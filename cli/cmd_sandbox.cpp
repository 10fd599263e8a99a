#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/options.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"
#include "sandbox/http_server.hpp"
#include "sandbox/sandbox.hpp"

#include <memory>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <pthread.h>

namespace fleetrun::cli {

void setup_sandbox(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<SandboxOptions>();
  auto& o = *options;
  auto* cmd = app.add_subcommand("sandbox", "Run the local Losant-compatible Devices API on loopback");
  cmd->add_option("--host", o.host, "address to bind (loopback)")->capture_default_str();
  cmd->add_option("--port", o.port, "port; 0 picks a free one and prints it")->capture_default_str();
  cmd->add_option("--port-file", o.port_file, "write the port to this file once listening");
  cmd->add_option("--threads", o.threads, "request threads (a kept-alive connection holds one while open)")
      ->capture_default_str();
  cmd->add_option("--application", o.application_id, "application id served")->capture_default_str();
  cmd->add_option("--tokens", o.tokens, "accepted API tokens (comma separated)")->delimiter(',')->capture_default_str();
  cmd->add_option("--devices", o.devices, "generate this many devices")->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed of the generated fleet")->capture_default_str();
  cmd->add_option("--seed-time", o.seed_time, "\"now\" of the generated history (ISO 8601)")->capture_default_str();
  cmd->add_option("--load", o.load_file, "load devices from a devices export (JSON)");
  cmd->add_option("--job-threshold", o.job_threshold, "bulk actions on more devices than this answer 202")
      ->capture_default_str();
  cmd->add_option("--job-duration-ms", o.job_duration_ms, "how long a background job takes")->capture_default_str();
  cmd->add_option("--job-error-rate", o.job_error_rate, "probability a job ends errored")->capture_default_str();
  cmd->add_option("--job-fail-rate", o.job_fail_rate, "probability a job ends failed")->capture_default_str();
  cmd->add_flag("--no-joblog-by-jobid", o.no_joblog_by_job_id,
                "GET /jobLogs/{id} accepts only job log ids, not a 202's jobId");
  cmd->add_flag("--hide-job-logs", o.hide_job_logs, "serve no job logs at all (clients must check the devices)");
  cmd->add_option("--rate", o.rate, "requests/second per token; 0 unlimited")->capture_default_str();
  cmd->add_option("--burst", o.burst, "token bucket size (default: rate)")->capture_default_str();
  cmd->add_option("--fault-5xx", o.fault_5xx, "probability of a 503")->capture_default_str();
  cmd->add_option("--fault-drop-before", o.fault_drop_before, "probability of dropping the connection before handling")
      ->capture_default_str();
  cmd->add_option("--fault-drop-after", o.fault_drop_after, "probability of dropping it after applying a mutation")
      ->capture_default_str();
  cmd->add_option("--fault-seed", o.fault_seed, "seed of the fault dice")->capture_default_str();
  cmd->add_option("--fault-route", o.fault_route,
                  "faults only on this route, e.g. \"POST /devices/command\" (default: every route)");
  cmd->add_option("--latency-ms", o.latency_ms, "added latency per request")->capture_default_str();
  cmd->add_flag("--bare-429", o.bare_429, "answer a request over the rate limit with a 429 and no Retry-After");
  cmd->add_option("--jitter-ms", o.jitter_ms, "each request's latency varies by up to this much either way")
      ->capture_default_str();
  cmd->add_option("--request-log", o.request_log, "append a JSON line per request to this file (tokens redacted)");
  cmd->add_flag("--log-bodies", o.log_bodies, "include request bodies in the request log");
  cmd->add_option("--tls-cert", o.tls_certificate, "serve HTTPS with this PEM certificate");
  cmd->add_option("--tls-key", o.tls_private_key, "and this PEM private key");
  cmd->callback([&invocation, options] { invocation.run = [options] { return run_sandbox(*options); }; });
}

int run_sandbox(const SandboxOptions& options)
{
  if (!losant::is_object_id(options.application_id)) {
    spdlog::error("--application \"{}\" is not a 24-character hexadecimal id", options.application_id);
    return k_exit_usage;
  }
  const auto reference = losant::parse_iso8601_ms(options.seed_time);
  if (!reference) {
    spdlog::error("--seed-time \"{}\" is not an ISO 8601 time", options.seed_time);
    return k_exit_usage;
  }
  for (const double p : {options.fault_5xx, options.fault_drop_before, options.fault_drop_after, options.job_error_rate,
                         options.job_fail_rate}) {
    if (p < 0 || p > 1) {
      spdlog::error("fault and job error rates are probabilities between 0 and 1");
      return k_exit_usage;
    }
  }

  // Block the stop signals before any server thread starts, so that they all
  // inherit the mask and this thread alone receives them in sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  sandbox::SandboxConfig config;
  config.application_id = options.application_id;
  config.tokens = options.tokens;
  config.fault_seed = options.fault_seed;
  config.request_log_path = options.request_log;
  config.log_bodies = options.log_bodies;
  auto& rc = config.runtime;
  rc.rate = options.rate;
  rc.burst = options.burst;
  rc.fault_5xx = options.fault_5xx;
  rc.fault_drop_before = options.fault_drop_before;
  rc.fault_drop_after = options.fault_drop_after;
  rc.latency_ms = options.latency_ms;
  rc.jitter_ms = options.jitter_ms;
  rc.retry_after = !options.bare_429;
  rc.fault_route = options.fault_route;
  rc.job_threshold = options.job_threshold;
  rc.job_duration_ms = options.job_duration_ms;
  rc.job_error_rate = options.job_error_rate;
  rc.job_fail_rate = options.job_fail_rate;
  rc.joblog_by_job_id = !options.no_joblog_by_job_id;
  rc.job_logs_visible = !options.hide_job_logs;

  sandbox::Sandbox service(config);
  if (!options.load_file.empty()) {
    std::ifstream in(options.load_file);
    if (!in) {
      spdlog::error("cannot read devices export {}", options.load_file);
      return k_exit_usage;
    }
    const auto document = nlohmann::json::parse(in, nullptr, false);
    if (document.is_discarded()) {
      spdlog::error("{} is not valid JSON", options.load_file);
      return k_exit_usage;
    }
    try {
      service.load_export(document);
    } catch (const std::exception& error) {
      spdlog::error("{}: {}", options.load_file, error.what());
      return k_exit_usage;
    }
  }
  if (options.devices > 0) service.seed({options.devices, options.seed, *reference});

  sandbox::ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.threads = options.threads;
  server_options.tls_certificate = options.tls_certificate;
  server_options.tls_private_key = options.tls_private_key;
  sandbox::HttpServer server(service, server_options);

  // The first line is for scripts: they read the URL from it.
  std::cout << "fleetrun sandbox listening on " << server.base_url() << std::endl;
  std::cout << "application " << service.config().application_id << ", " << service.device_count() << " devices, "
            << options.tokens.size() << " token(s) accepted" << std::endl;
  if (!options.port_file.empty()) {
    const std::string temporary = options.port_file + ".tmp";
    std::ofstream(temporary) << server.port() << '\n';
    std::rename(temporary.c_str(), options.port_file.c_str());
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("sandbox stopping (signal {})", signal_number);
  server.stop();
  return k_exit_ok;
}

} // namespace fleetrun::cli
