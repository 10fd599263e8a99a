#include "cli/signals.hpp"

#include <csignal>
#include <unistd.h>

namespace fleetrun::cli {

namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int)
{
  if (g_stop_requested.exchange(true)) _exit(130);
  static const char k_message[] = "\nfleetrun: stopping after the requests in flight (again to quit now)\n";
  [[maybe_unused]] const auto written = write(STDERR_FILENO, k_message, sizeof k_message - 1);
}

} // namespace

const std::atomic<bool>& install_stop_handlers()
{
  static const bool k_installed = [] {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    return true;
  }();
  (void)k_installed;
  return g_stop_requested;
}

} // namespace fleetrun::cli
