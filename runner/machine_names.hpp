#pragma once
// The engine drives the batch machine (machine/): these are its names as the
// engine uses them, declared once.

#include "machine/backoff.hpp"
#include "machine/batch_machine.hpp"
#include "machine/clock.hpp"
#include "machine/run_counters.hpp"

namespace fleetrun::runner {

using machine::backoff_delay;
using machine::BackoffPolicy;
using machine::BatchMachine;
using machine::Clock;
using machine::count_failure;
using machine::Dispatch;
using machine::Effects;
using machine::Halt;
using machine::MachinePolicy;
using machine::Moment;
using machine::Note;
using machine::Purpose;
using machine::request_hash;
using machine::RunAllowance;
using machine::RunCounters;
using machine::Scheduled;
using machine::SteadyTime;
using machine::StoredRequest;
using machine::SystemClock;
using machine::TimelineBucket;
using machine::Want;

} // namespace fleetrun::runner
