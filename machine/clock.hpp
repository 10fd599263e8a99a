#pragma once
// Time as the coordinator sees it: a steady clock for waits and deadlines,
// and the wall clock for what is written down. Behind an interface so that a
// test can run a whole step, minutes of backoff and job polling included,
// in microseconds (tests/support/fake_sender.hpp advances a fake one).

#include <chrono>
#include <cstdint>

namespace fleetrun::machine {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
  virtual std::int64_t wall_ms() const = 0; // milliseconds since the Unix epoch
};

class SystemClock final : public Clock {
public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t wall_ms() const override
  {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

} // namespace fleetrun::machine
