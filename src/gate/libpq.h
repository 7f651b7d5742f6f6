// libpq, loaded when a PostgreSQL log is first opened (dlopen), not at start-up:
// linking it pulled 15 more shared libraries (LDAP, Kerberos, GnuTLS, a second
// OpenSSL) into every run of glassbox, doubling the start-up of a scan that never
// touches a database; and a machine without libpq5 can run everything else.
#ifndef GLASSBOX_GATE_LIBPQ_H_
#define GLASSBOX_GATE_LIBPQ_H_

#include <libpq-fe.h>

#include "core/status.h"

namespace glassbox::gate {

// The libpq functions the PostgreSQL store calls (PQ + name).
// clang-format off
#define GLASSBOX_LIBPQ_FUNCTIONS(X) \
  X(getvalue) \
  X(ntuples) \
  X(status) \
  X(getisnull) \
  X(finish) \
  X(resultStatus) \
  X(resultErrorMessage) \
  X(getResult) \
  X(sendQueryParams) \
  X(getlength) \
  X(consumeInput) \
  X(clear) \
  X(setSingleRowMode) \
  X(setNoticeProcessor) \
  X(sendQueryPrepared) \
  X(prepare) \
  X(pipelineSync) \
  X(pingParams) \
  X(getCancel) \
  X(freeCancel) \
  X(flush) \
  X(exitPipelineMode) \
  X(execParams) \
  X(exec) \
  X(errorMessage) \
  X(enterPipelineMode) \
  X(connectdbParams) \
  X(cmdTuples) \
  X(isBusy) \
  X(socket) \
  X(cancel)
// clang-format on

struct LibPq {
// NOLINTNEXTLINE(bugprone-macro-parentheses): the argument is a member name
#define GLASSBOX_LIBPQ_FIELD(name) decltype(&::PQ##name) name = nullptr;
  GLASSBOX_LIBPQ_FUNCTIONS(GLASSBOX_LIBPQ_FIELD)
#undef GLASSBOX_LIBPQ_FIELD
};

// Loads libpq.so.5 once (thread-safe); an error names the library and why it
// could not be loaded. Later calls return the same result.
Status LoadLibPq();

// The loaded functions; only after LoadLibPq() returned Ok.
const LibPq& Pq();

}  // namespace glassbox::gate

#endif  // GLASSBOX_GATE_LIBPQ_H_
