// The platform's stream names (the seed's, kept for operators' tooling) and their consumer groups.
#pragma once

#include <array>
#include <string_view>

namespace secplat::queue {

inline constexpr std::string_view kScanJobs = "secplat.jobs.scan";
inline constexpr std::string_view kDeriveJobs = "secplat.jobs.derive";
inline constexpr std::string_view kNotifyEvents = "secplat.events.notify";
inline constexpr std::string_view kCorrelationEvents = "secplat.events.correlation";
// Live scan log events, read without a group so every API replica sees all of them (fan-out).
inline constexpr std::string_view kScanLogEvents = "secplat.events.scanlog";

struct StreamGroup {
  std::string_view stream;
  std::string_view group;
};

// Every stream with the group that consumes it; dead letters go to `<stream>.dlq`.
inline constexpr std::array<StreamGroup, 4> kStreams = {{
    {kScanJobs, "workers"},
    {kDeriveJobs, "derivers"},
    {kNotifyEvents, "notifiers"},
    {kCorrelationEvents, "correlators"},
}};

}  // namespace secplat::queue
