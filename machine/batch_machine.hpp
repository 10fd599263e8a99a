#pragma once
// The life of one batch (docs/STATE.md) as a pure state machine: no I/O, no
// clock reads, no logging. It is told what happened (the step started, a
// request is about to leave, an answer came back, the stored request was
// read) and answers with what should happen next (write the batch's progress,
// record an event, send a request at a time, read the stored request, stop
// the run). The coordinator carries that out: it is the only one that writes
// the state file and talks to the request port.
//
//   planned ──dispatch: intent──▶ sending ──2xx──▶ done
//                                    │  └──202──▶ enqueued ──poll: job completed──▶ done
//                                    │                    └──job errored/failed──▶ failed
//                                    ├──429──▶ retry_wait (never counts as an attempt)
//                                    ├──5xx/timeout/lost before sent──▶ retry_wait (counts)
//                                    ├──4xx──▶ failed          ├──401/403──▶ planned, run stops
//                                    └──maybe applied──▶ what the step kind's OnUnknown says:
//                                          resend (after the hash check) / reconcile_commands
//                                          (read each device's history, narrow) / reconcile_creates
//                                          (look the device up) / report (unknown, left for people)
//
// Every failed send of a batch counts against its attempts, including a send
// whose connection was lost and which was reconciled; each follow-up request
// (a job poll, one device's history, a lookup) has attempts of its own; all
// of them draw on the run's retry budget, so every path ends. 429s count
// against none of these (the rate limiter slows down instead).

#include "machine/backoff.hpp"
#include "machine/clock.hpp"
#include "machine/run_counters.hpp"

#include "api/endpoints.hpp"
#include "api/losant_client.hpp"
#include "jobs/job_log.hpp"
#include "jobs/step_kind.hpp"
#include "state/records.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace fleetrun::machine {

// Why a batch wants a request made.
enum class Purpose {
  send,            // its own request (stored in the state file)
  poll_job,        // GET /jobLogs/{id} of the job its 202 enqueued
  list_jobs,       // GET /jobLogs?page=N, to find a job whose id the API does not take
  read_history,    // GET /devices/{id}/command, reconciling an unknown send_command
  look_up_created, // GET /devices?query={name, marker tag}, reconciling an unknown create
};

const char* to_string(Purpose purpose);

struct Want {
  Want(Purpose what = Purpose::send, int list_page = 0, std::string device = {})
      : purpose(what), page(list_page), device_id(std::move(device))
  {
  }
  Purpose purpose;
  int page;              // list_jobs
  std::string device_id; // read_history
};

struct Scheduled {
  SteadyTime due;
  Want want;
};

// A line for the operator; with `event` set it is also recorded in the run's events.
struct Note {
  enum class Level { debug, info, warn, error };
  Level level = Level::info;
  std::string event; // event kind, e.g. "batch_resent"; empty: a log line only
  std::string message;
};

// A batch's stored request: device ids and the exact request.
struct StoredRequest {
  std::vector<std::string> device_ids;
  std::string method;
  std::string path;
  std::string body;
  std::string hash; // SHA-256 of method, path and body
};

// SHA-256 of a request as the state file keys it.
std::string request_hash(const std::string& method, const std::string& path, const std::string& body);

enum class Halt {
  none,
  auth_failed,   // 401/403: no request of this run will be accepted
  plan_changed,  // a stored request no longer matches what the plan builds
  asked_to_wait, // a Retry-After longer than the run may wait: stop, resume later
};

// What one step of the machine asks for, carried out by the coordinator in
// this order: replace the stored request, write the progress, record the
// notes, schedule the wants, read the stored request (then on_stored_request).
struct Effects {
  std::optional<StoredRequest> replace_request; // the batch narrowed to fewer devices
  bool persist = false;                         // write record() (progress only)
  std::vector<Note> notes;
  std::vector<Scheduled> schedule;
  bool needs_stored_request = false;
  bool left_unfinished = false; // not final, nothing more this invocation: resume continues it
  Halt halt = Halt::none;
  std::string halt_message;
};

// What leaving a request takes: the request and the intent to write first.
struct Dispatch {
  api::RequestSpec request;
  Effects effects;
};

// The moment an event happens.
struct Moment {
  SteadyTime now;
  std::int64_t wall_ms = 0;
};

// Shared by every batch of an invocation.
struct RunAllowance {
  int retries_left = 500;
  std::mt19937_64 rng{1}; // the backoff's jitter; seeded by whoever runs the machines (ExecutionSettings::seed)
  RunCounters counters;
};

struct MachinePolicy {
  BackoffPolicy backoff; // max_attempts: per batch, every request of it counted
  std::chrono::seconds job_timeout{600};
  std::chrono::milliseconds job_poll_first{300};
  std::chrono::milliseconds job_poll_max{5'000};
  std::chrono::seconds max_retry_after{300}; // a longer Retry-After halts the run (Halt::asked_to_wait)
  int job_lookups = 4;                       // times a job missing from the job logs is looked for again
  int job_log_pages = 10;                    // pages of job logs searched each time
  std::string run_id;                        // requests are rebuilt with it (create's marker tag)
  std::string step_id;                       // for messages
  int batch_count = 0;                       // for messages
};

class BatchMachine {
public:
  // `progress`: the batch as recorded (without its request). `kind` and
  // `policy` outlive the machine.
  BatchMachine(state::BatchRecord progress, const jobs::StepKind& kind, const MachinePolicy& policy);

  // What the recorded state means when a step starts or resumes (the resume
  // table of docs/STATE.md).
  Effects start(const Moment& at);
  // Whether dispatch() of `purpose` needs the stored request.
  static bool needs_stored_request(Purpose purpose);
  // A request is about to leave: for a send the intent (sending, attempts+1),
  // which the coordinator commits before the request is handed over.
  Dispatch dispatch(const Want& want, const StoredRequest* stored, const Moment& at);
  Effects on_answer(const Want& want, const api::ApiResult& result, const Moment& at, RunAllowance& allowance);
  // The stored request, after Effects::needs_stored_request.
  Effects on_stored_request(const StoredRequest& stored, const Moment& at);

  const state::BatchRecord& record() const { return m_record; }
  bool is_final() const;
  // Devices this batch failed for (0 until final): a failed batch's whole
  // count, or what a done batch's outcome says failed.
  std::int64_t failed_devices() const;
  std::string describe() const;

private:
  enum class Awaiting { nothing, resend_check, reconcile_start };

  void handle_unknown(const std::string& why, const Moment& at, Effects& effects);
  void retry(const Want& want, const api::ApiError& error, const Moment& at, RunAllowance& allowance, Effects& effects);
  void finish(state::BatchStatus status, nlohmann::json outcome, std::string error, const Moment& at, Effects& effects);
  void on_sent(const api::ApiResult& result, const Moment& at, RunAllowance& allowance, Effects& effects);
  void on_job_log(const Want& want, const api::ApiResult& result, const Moment& at, RunAllowance& allowance,
                  Effects& effects);
  void on_job_list(const Want& want, const api::ApiResult& result, const Moment& at, RunAllowance& allowance,
                   Effects& effects);
  void on_history(const Want& want, const api::ApiResult& result, const Moment& at, RunAllowance& allowance,
                  Effects& effects);
  void on_lookup(const Want& want, const api::ApiResult& result, const Moment& at, RunAllowance& allowance,
                 Effects& effects);
  void follow_job(const jobs::JobState& job, const Moment& at, Effects& effects);
  void narrow(const Moment& at, Effects& effects);
  std::chrono::milliseconds next_poll_in(const jobs::JobState& job, std::chrono::milliseconds waited) const;
  bool out_of_attempts() const;
  static std::string follow_up_key(const Want& want);

  state::BatchRecord m_record;
  const jobs::StepKind& m_kind;
  const MachinePolicy& m_policy;

  // Failed sends of this batch in this invocation (429s excluded), and failed
  // attempts of each follow-up request by purpose, device and page.
  int m_failures = 0;
  std::map<std::string, int> m_follow_up_failures;
  Awaiting m_awaiting = Awaiting::nothing;
  std::string m_unknown_why;
  bool m_reconciled = false; // the send being made is a narrowed one

  // Following a job.
  std::string m_job_log_id; // found by listing; empty: poll by the 202's job id
  int m_polls = 0;
  int m_job_misses = 0;

  // Reconciling a send_command: each device's history is read once.
  std::string m_command_name;
  std::int64_t m_command_time = 0;
  std::vector<std::string> m_reconcile_ids;
  std::size_t m_histories_pending = 0;
  std::vector<std::string> m_missing;
};

} // namespace fleetrun::machine
