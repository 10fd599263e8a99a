#include "runner/commands.hpp"
#include "runner/exit_codes.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"
#include "sandbox/http_server.hpp"
#include "sandbox/sandbox.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <pthread.h>

namespace fleetrun::runner {

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

} // namespace fleetrun::runner
