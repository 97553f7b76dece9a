// Names the calling thread (at most 15 characters) so `top -H`, perf and /proc show which part of
// the process it is.
#pragma once

#include <pthread.h>

namespace secplat {

inline void set_thread_name(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace secplat
