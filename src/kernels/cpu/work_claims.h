// SPDX-License-Identifier: MIT
// How the threads of a parallel phase share its work: a range of cost [0, total) (weight bytes x
// tokens, matmul.cpp), claimed a piece at a time. Which thread computes a piece never changes a
// result's bits; the scheme decides the balance and how many new weight streams start.
//
// Each thread owns a contiguous share of the range, which it claims from the front a piece at a
// time (1 / parts of what is left in it): each piece continues the weight streams of the one
// before. A thread with nothing left takes the back half of what is left of the fullest share, and
// that becomes its own share, claimed the same way (and stolen from in turn). A thread that is
// descheduled for a while (another process, the hypervisor) holds up only the piece it is in.
//
// It replaced one shared counter (each claim 1 / parts of what was left, the first one half the
// phase in decode): a trace of decode's gate/up phases showed the two threads finishing 3.9 us
// apart at the median, but ~4% of the phases 0.1-3.4 ms apart, a thread descheduled while holding
// its big first claim (the VM's steal time was ~3%); those were ~2/3 of the time the threads
// waited for each other (docs/benchmarks.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace moefit::cpu_detail {

class WorkClaims {
 public:
  // Shares beyond this many threads: threads past the last take only what they steal.
  static constexpr int kMaxShares = 64;

  // Before the parallel region, on one thread: `threads` the team size it will have (a smaller
  // team is fine: the missing threads' shares are stolen), min_cost the smallest piece worth its
  // start (only a range's last piece may be smaller), parts the divisor of what is left of a share
  // per piece.
  void Start(int64_t total, int threads, int64_t min_cost, int64_t parts);

  // The next range [lo, hi) for thread `self` (its number in the team); empty (lo >= hi) when
  // nothing is left for it. Thread-safe; lock-free.
  std::pair<int64_t, int64_t> Next(int self);

  int64_t total() const { return total_; }

 private:
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};  // [front, back) in units, packed: front low 32 bits
  };
  bool TakeFront(Share& share, int64_t& lo, int64_t& hi) const;
  bool StealBack(Share& victim, int64_t& lo, int64_t& hi) const;
  std::pair<int64_t, int64_t> ToCost(int64_t lo, int64_t hi) const;

  int64_t total_ = 0, parts_ = 1;
  int64_t unit_ = 1, min_units_ = 1;  // cost per unit (ranges are packed in 32-bit units)
  int shares_ = 0;
  Share share_[kMaxShares];
};

}  // namespace moefit::cpu_detail
