// SPDX-License-Identifier: MIT
// Server metrics in the Prometheus text format: requests by route and status, plus the
// scheduler's counters and gauges (tokens, throughput, queue, sequences, memory).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "runtime/scheduler.h"

namespace moefit {

class Metrics {
 public:
  // Thread-safe. `route` is a known route or anything else (counted as "other").
  void CountRequest(const std::string& route, int status);
  // The exposition text.
  std::string Render(const SchedulerStats& stats, uint64_t model_bytes) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
};

}  // namespace moefit
