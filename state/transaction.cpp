// Transactions (savepoints when nested) and relaxed durability for pages
// that are redone when they did not all land.
#include "state/run_journal.hpp"
#include "state/sqlite.hpp"

namespace fleetrun::state {

Transaction RunJournal::transaction()
{
  return Transaction(*this);
}

RelaxedDurability::RelaxedDurability(RunJournal& journal) : m_journal(&journal)
{
  m_journal->execute("PRAGMA synchronous=NORMAL");
}

RelaxedDurability::~RelaxedDurability()
{
  try {
    restore();
  } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw; the next open sets FULL again
  }
}

void RelaxedDurability::relax()
{
  if (!m_restored) return;
  m_restored = false;
  m_journal->execute("PRAGMA synchronous=NORMAL");
}

void RelaxedDurability::restore()
{
  if (m_restored) return;
  m_restored = true;
  m_journal->execute("PRAGMA synchronous=FULL");
}

// The outermost transaction is BEGIN IMMEDIATE ... COMMIT; one opened inside
// it is a SAVEPOINT, so that rolling the inner one back undoes its writes
// only, and the outer one decides about everything.
Transaction::Transaction(RunJournal& journal) : m_journal(&journal), m_depth(++journal.impl().transaction_depth)
{
  try {
    m_journal->execute(m_depth == 1 ? std::string("BEGIN IMMEDIATE") : "SAVEPOINT t" + std::to_string(m_depth));
  } catch (...) {
    --m_journal->impl().transaction_depth;
    throw;
  }
}

Transaction::Transaction(Transaction&& other) noexcept
    : m_journal(other.m_journal), m_depth(other.m_depth), m_done(other.m_done)
{
  other.m_done = true;
}

Transaction::~Transaction()
{
  if (m_done) return;
  --m_journal->impl().transaction_depth;
  try {
    if (m_depth == 1) {
      m_journal->execute("ROLLBACK");
    } else {
      m_journal->execute("ROLLBACK TO t" + std::to_string(m_depth) + "; RELEASE t" + std::to_string(m_depth));
    }
  } catch (const std::exception&) { // nothing more to do in a destructor
  }
}

void Transaction::commit()
{
  if (m_done) return;
  if (m_journal->impl().transaction_depth != m_depth) {
    throw StateFailure("state file: a transaction was committed while an inner one was still open");
  }
  m_journal->execute(m_depth == 1 ? std::string("COMMIT") : "RELEASE t" + std::to_string(m_depth));
  m_done = true;
  --m_journal->impl().transaction_depth;
}

} // namespace fleetrun::state
