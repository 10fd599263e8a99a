#pragma once
// SIGINT and SIGTERM ask a run to stop: the coordinator sends nothing new,
// waits for what is in flight (with a deadline), records it, and exits with
// the "interrupted" code. A second signal exits at once; the state file is
// consistent at every commit, so resume still continues correctly.

#include <atomic>

namespace fleetrun::cli {

// Installs the handlers (once) and returns the flag they set.
const std::atomic<bool>& install_stop_handlers();

} // namespace fleetrun::cli
