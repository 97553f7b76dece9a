#include "store/async_write.h"

#include <string>

#include "core/log.h"

namespace secplat::store::async_write {

Error queue_full() {
  Error e = Error::unavailable("database write queue is full, retry");
  e.retry_after_s = 1;
  return e;
}

Error thrown(std::exception_ptr e) {
  std::string what = "non-standard exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  return Error::internal("transaction threw: " + what);
}

void deliver(const std::function<void(Status)>& done, Status outcome) {
  try {
    done(std::move(outcome));
  } catch (const std::exception& e) {
    log::error("transact_async done() threw", {log::str("error", e.what())});
  } catch (...) {
    log::error("transact_async done() threw", {log::str("error", "non-standard exception")});
  }
}

}  // namespace secplat::store::async_write
