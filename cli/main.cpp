#include "cli/commands.hpp"
#include "runner/worker_pool.hpp"

#include <cstdio>
#include <cstdlib>
#include <malloc.h>

int main(int argc, char** argv)
{
  // Requests are answered on many worker threads; glibc would give each its
  // own arena, and the megabyte pages freed on the coordinator's thread would
  // stay spread over them. Two arenas keep the peak memory near what is in use.
  mallopt(M_ARENA_MAX, 2);
  const int code = fleetrun::cli::run_cli(argc, argv);
  // A request abandoned after a stop signal may still be running on a worker
  // thread: static destructors (loggers, TLS) must not run under it. Every
  // state file was closed when the command returned.
  if (fleetrun::runner::abandoned_workers() > 0) {
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}
