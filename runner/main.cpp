#include "runner/commands.hpp"
#include "runner/worker_pool.hpp"

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv)
{
  const int code = fleetrun::runner::run_cli(argc, argv);
  // A request abandoned after a stop signal may still be running on a worker
  // thread: static destructors (loggers, TLS) must not run under it. Every
  // state file was closed when the command returned.
  if (fleetrun::runner::abandoned_workers() > 0) {
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}
