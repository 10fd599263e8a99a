#include "state/run_journal.hpp"
#include "state/state_store.hpp"

#include "tests/support/schema_1_file.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sqlite3.h>
#include <sstream>
#include <unistd.h>

using namespace fleetrun::state;
using fleetrun::testing::TempDir;

namespace {

// A new state file: its read side, and its journal for the writes.
struct Opened {
  std::unique_ptr<StateStore> store;
  std::unique_ptr<RunJournal> journal;
};

Opened open_new(const TempDir& dir)
{
  auto store = StateStore::open((dir / "state.db").string(), OpenMode::create_if_missing);
  REQUIRE(store.has_value());
  Opened opened{std::move(*store), nullptr};
  opened.journal = std::make_unique<RunJournal>(*opened.store);
  return opened;
}

RunRecord sample_run(const std::string& id)
{
  RunRecord run;
  run.id = id;
  run.kind = RunKind::apply;
  run.plan_path = "plan.yaml";
  run.plan_hash = "abc";
  run.effective_hash = "def";
  run.plan_text = "version: 1";
  run.api_url = "http://127.0.0.1:1";
  run.application_id = "5f1a2b3c4d5e6f7a8b9c0d1e";
  run.created_ms = 1000;
  run.updated_ms = 1000;
  return run;
}

void raw_sql(const std::string& path, const std::string& sql)
{
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

} // namespace

TEST_CASE("a new state file gets the schema, and runs survive reopening", "[state_store]")
{
  TempDir dir;
  {
    auto opened = open_new(dir);
    auto& journal = opened.journal;
    journal->insert_run(sample_run("r-1"));
  }
  auto reopened = StateStore::open((dir / "state.db").string(), OpenMode::must_exist);
  REQUIRE(reopened.has_value());
  const auto run = (*reopened)->run("r-1");
  REQUIRE(run.has_value());
  CHECK(run->plan_hash == "abc");
  CHECK(run->status == RunStatus::running);
}

TEST_CASE("must_exist refuses a missing file with advice", "[state_store]")
{
  TempDir dir;
  const auto missing = StateStore::open((dir / "none.db").string(), OpenMode::must_exist);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("no state file at") != std::string::npos);
}

TEST_CASE("foreign, corrupt and newer files are refused with a reason", "[state_store]")
{
  TempDir dir;
  const std::string foreign = (dir / "foreign.db").string();
  raw_sql(foreign, "CREATE TABLE t (x)");
  CHECK(StateStore::open(foreign, OpenMode::must_exist).error().message.find("not a fleetrun state file") !=
        std::string::npos);

  const std::string text = (dir / "text.db").string();
  std::ofstream(text) << "this is not a database at all, just some text that is long enough to look like a header....";
  CHECK(StateStore::open(text, OpenMode::must_exist).error().message.find("not a fleetrun state file") !=
        std::string::npos);

  {
    open_new(dir);
  }
  raw_sql((dir / "state.db").string(), "PRAGMA user_version=99");
  const auto newer = StateStore::open((dir / "state.db").string(), OpenMode::must_exist);
  REQUIRE_FALSE(newer.has_value());
  CHECK(newer.error().message.find("written by a newer fleetrun (state schema 99)") != std::string::npos);
}

namespace {

int user_version(const std::string& path)
{
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  const int version = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return version;
}

} // namespace

TEST_CASE("a state file of schema 1 is brought to the current schema, its runs and device lists kept", "[state_store]")
{
  TempDir dir;
  const std::string path = (dir / "state.db").string();
  raw_sql(path, fleetrun::testing::k_schema_1_file);
  {
    auto reopened = StateStore::open(path, OpenMode::must_exist);
    if (!reopened) FAIL(reopened.error().message);
    const auto run = (*reopened)->run("r-old");
    REQUIRE(run.has_value());
    CHECK(run->plan_hash == "abc");
    CHECK(run->variables_json == "{}");
    auto with_variables = sample_run("r-new");
    with_variables.variables_json = R"({"SITE":"0123"})";
    RunJournal journal(**reopened);
    journal.insert_run(with_variables);
    CHECK((*reopened)->run("r-new")->variables_json == R"({"SITE":"0123"})");
    // The device lists, in id order, each device with its document.
    std::vector<std::string> listed;
    (*reopened)->for_each_device("r-old", "all", true, [&](const std::string& id, const std::string& document) {
      listed.push_back(id + " " + document);
    });
    CHECK(listed == std::vector<std::string>{R"(5f0000000000000000000001 {"name":"a"})",
                                             R"(5f0000000000000000000002 {"name":"b"})"});
    CHECK((*reopened)->device_count("r-old", "other") == 1);
    journal.append_devices("r-new", "all", {{"5f0000000000000000000009", "{}"}});
    CHECK((*reopened)->device_count("r-new", "all") == 1);
  }
  CHECK(user_version(path) == k_schema_version);
}

TEST_CASE("opened read-only, a file of schema 1 is not migrated and the error names fleetrun migrate", "[state_store]")
{
  TempDir dir;
  const std::string path = (dir / "state.db").string();
  raw_sql(path, fleetrun::testing::k_schema_1_file);
  const auto opened = StateStore::open(path, OpenMode::read_only);
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().message.find("`fleetrun migrate --state " + path) != std::string::npos);
  CHECK(user_version(path) == 1);
}

TEST_CASE("a transaction rolls back unless committed", "[state_store]")
{
  TempDir dir;
  auto opened = open_new(dir);
  auto& store = opened.store;
  auto& journal = opened.journal;
  {
    auto transaction = journal->transaction();
    journal->insert_run(sample_run("r-rolled-back"));
  }
  CHECK_FALSE(store->run("r-rolled-back").has_value());
  {
    auto transaction = journal->transaction();
    journal->insert_run(sample_run("r-kept"));
    transaction.commit();
  }
  CHECK(store->run("r-kept").has_value());
}

TEST_CASE("an inner transaction that is not committed undoes its own writes only", "[state_store]")
{
  TempDir dir;
  auto opened = open_new(dir);
  auto& store = opened.store;
  auto& journal = opened.journal;
  {
    auto outer = journal->transaction();
    journal->insert_run(sample_run("r-outer"));
    {
      auto inner = journal->transaction();
      journal->insert_run(sample_run("r-inner-dropped"));
    }
    {
      auto inner = journal->transaction();
      journal->insert_run(sample_run("r-inner-kept"));
      inner.commit();
    }
    CHECK_FALSE(store->run("r-inner-dropped").has_value());
    outer.commit();
  }
  CHECK(store->run("r-outer").has_value());
  CHECK(store->run("r-inner-kept").has_value());
  CHECK_FALSE(store->run("r-inner-dropped").has_value());
  {
    auto outer = journal->transaction();
    journal->insert_run(sample_run("r-outer-2"));
    auto inner = journal->transaction();
    journal->insert_run(sample_run("r-inner-2"));
    inner.commit(); // nothing is durable until the outer one commits
  }
  CHECK_FALSE(store->run("r-outer-2").has_value());
  CHECK_FALSE(store->run("r-inner-2").has_value());
}

TEST_CASE("committing an outer transaction while an inner one is open is refused", "[state_store]")
{
  TempDir dir;
  auto opened = open_new(dir);
  auto& journal = opened.journal;
  auto outer = journal->transaction();
  auto inner = journal->transaction();
  CHECK_THROWS_AS(outer.commit(), StateFailure);
  inner.commit();
  outer.commit();
}

TEST_CASE("a failing statement throws StateFailure naming the file", "[state_store]")
{
  TempDir dir;
  auto opened = open_new(dir);
  auto& journal = opened.journal;
  journal->execute("DROP TABLE events");
  try {
    journal->add_event("r-1", "x", "y");
    FAIL("no exception");
  } catch (const StateFailure& failure) {
    CHECK_THAT(failure.what(), Catch::Contains("state.db"));
    CHECK_THAT(failure.what(), Catch::Contains("no such table: events"));
  }
}

TEST_CASE("device lists stream in and out in order and drift is their difference", "[state_store]")
{
  TempDir dir;
  auto opened = open_new(dir);
  auto& store = opened.store;
  auto& journal = opened.journal;
  journal->insert_run(sample_run("r-1"));
  journal->append_devices("r-1", "q", {{"a", "{\"id\":\"a\"}"}, {"b", "{}"}});
  journal->append_devices("r-1", "q", {{"c", "{}"}});
  journal->append_devices("r-1", "fresh", {{"b", "{}"}, {"c", "{}"}, {"d", "{}"}});
  CHECK(store->device_count("r-1", "q") == 3);
  std::vector<std::string> ids;
  store->for_each_device("r-1", "q", true, [&](const std::string& id, const std::string& doc) {
    ids.push_back(id);
    if (id == "a") CHECK(doc == "{\"id\":\"a\"}");
  });
  CHECK(ids == std::vector<std::string>{"a", "b", "c"});
  std::int64_t gone = 0, added = 0;
  CHECK(store->devices_missing_from("r-1", "q", "r-1", "fresh", 10, gone) == std::vector<std::string>{"a"});
  CHECK(store->devices_missing_from("r-1", "fresh", "r-1", "q", 10, added) == std::vector<std::string>{"d"});
  CHECK(gone == 1);
  CHECK(added == 1);
}

TEST_CASE("batches round-trip every field", "[state_store]")
{
  TempDir dir;
  auto opened = open_new(dir);
  auto& store = opened.store;
  auto& journal = opened.journal;
  journal->insert_run(sample_run("r-1"));
  BatchRecord batch;
  batch.run_id = "r-1";
  batch.step_index = 2;
  batch.batch_index = 7;
  batch.status = BatchStatus::planned;
  batch.device_ids_json = R"(["x"])";
  batch.device_count = 1;
  batch.method = "PATCH";
  batch.path = "/devices";
  batch.body = "{}";
  batch.request_hash = "h";
  journal->insert_batch(batch);
  batch.status = BatchStatus::enqueued;
  batch.job_id = "job1";
  batch.attempts = 2;
  batch.outcome_json = R"({"updated":1})";
  journal->update_batch(batch);
  const auto read = store->batch("r-1", 2, 7);
  REQUIRE(read.has_value());
  CHECK(read->status == BatchStatus::enqueued);
  CHECK(read->job_id == "job1");
  CHECK(read->attempts == 2);
  CHECK(read->outcome_json == R"({"updated":1})");
  CHECK(store->batches("r-1", 2).size() == 1);
}

TEST_CASE("the lock refuses a live holder and takes over from a dead one", "[state_store]")
{
  TempDir dir;
  auto opened = open_new(dir);
  auto& store = opened.store;
  auto& journal = opened.journal;
  journal->insert_run(sample_run("r-1"));
  REQUIRE(journal->acquire_lock("r-1").has_value());
  REQUIRE(journal->acquire_lock("r-1").has_value()); // re-entrant for the same process

  // A live holder: this test's parent process, with its real start time.
  const auto mine = store->lock_holder("r-1");
  REQUIRE(mine.has_value());
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::ifstream stat("/proc/" + std::to_string(getppid()) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field, start;
  for (int i = 3; i <= 22 && fields >> field; ++i) start = field;
  journal->execute("UPDATE run_locks SET pid = " + std::to_string(getppid()) + ", process_start = '" + start + "'");
  const auto refused = journal->acquire_lock("r-1");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().pid == getppid());
  CHECK(refused.error().host == host);

  // A dead holder: a pid that does not exist.
  journal->execute("UPDATE run_locks SET pid = 99999999");
  REQUIRE(journal->acquire_lock("r-1").has_value());
  const auto events = store->events("r-1");
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "lock_taken_over");
  CHECK(events[0].message.find("pid 99999999") != std::string::npos);

  // A reused pid (alive, but a different process than the holder) is not the holder.
  journal->execute("UPDATE run_locks SET pid = " + std::to_string(getppid()) + ", process_start = 'other'");
  CHECK(journal->acquire_lock("r-1").has_value());
  journal->release_lock("r-1");
  CHECK_FALSE(store->lock_holder("r-1").has_value());
}

TEST_CASE("relaxed durability lasts for its scope and full durability comes back", "[state_store]")
{
  TempDir dir;
  auto opened = open_new(dir);
  auto& store = opened.store;
  auto& journal = opened.journal;
  CHECK(store->synchronous() == 2); // FULL
  {
    RelaxedDurability relaxed(*journal);
    CHECK(store->synchronous() == 1); // NORMAL
    journal->append_devices("r-1", "q", {{"a", "{}"}});
    relaxed.restore();
    CHECK(store->synchronous() == 2);
  }
  {
    RelaxedDurability relaxed(*journal);
    CHECK(store->synchronous() == 1);
  }
  CHECK(store->synchronous() == 2);
  CHECK(store->device_count("r-1", "q") == 1);
}

TEST_CASE("new state files use 16 KB pages", "[state_store]")
{
  TempDir dir;
  open_new(dir);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "state.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &statement, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  CHECK(sqlite3_column_int(statement, 0) == 16384);
  sqlite3_finalize(statement);
  sqlite3_close(db);
}
