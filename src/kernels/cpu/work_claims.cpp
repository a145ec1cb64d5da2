// SPDX-License-Identifier: MIT
#include "kernels/cpu/work_claims.h"

#include <algorithm>

namespace moefit::cpu_detail {
namespace {

constexpr int64_t kMaxUnits = int64_t{1} << 31;

uint64_t Pack(int64_t front, int64_t back) { return static_cast<uint64_t>(front) | (static_cast<uint64_t>(back) << 32); }
int64_t Front(uint64_t range) { return static_cast<int64_t>(range & 0xffffffffu); }
int64_t Back(uint64_t range) { return static_cast<int64_t>(range >> 32); }

}  // namespace

void WorkClaims::Start(int64_t total, int threads, int64_t min_cost, int64_t parts) {
  total_ = std::max<int64_t>(0, total);
  parts_ = std::max<int64_t>(1, parts);
  unit_ = std::max<int64_t>(1, (total_ + kMaxUnits - 1) / kMaxUnits);
  min_units_ = std::max<int64_t>(1, (std::max<int64_t>(1, min_cost) + unit_ - 1) / unit_);
  const int64_t units = (total_ + unit_ - 1) / unit_;
  shares_ = std::clamp(threads, 1, kMaxShares);
  for (int i = 0; i < shares_; ++i)
    share_[i].range.store(Pack(units * i / shares_, units * (i + 1) / shares_), std::memory_order_relaxed);
}

// A piece from the front of `share`: 1 / parts_ of what is left in it, at least min_units_, and
// all of it rather than a sliver below min_units_ after.
bool WorkClaims::TakeFront(Share& share, int64_t& lo, int64_t& hi) const {
  uint64_t range = share.range.load(std::memory_order_acquire);
  for (;;) {
    const int64_t front = Front(range), back = Back(range);
    if (front >= back) return false;
    int64_t end = std::min(back, front + std::max(min_units_, (back - front) / parts_));
    if (back - end < min_units_) end = back;
    if (share.range.compare_exchange_weak(range, Pack(end, back), std::memory_order_acq_rel)) {
      lo = front;
      hi = end;
      return true;
    }
  }
}

// The back half of what is left of `victim` (all of it below two minimum pieces).
bool WorkClaims::StealBack(Share& victim, int64_t& lo, int64_t& hi) const {
  uint64_t range = victim.range.load(std::memory_order_acquire);
  for (;;) {
    const int64_t front = Front(range), back = Back(range), left = back - front;
    if (left <= 0) return false;
    const int64_t take = left < 2 * min_units_ ? left : left / 2;
    if (victim.range.compare_exchange_weak(range, Pack(front, back - take), std::memory_order_acq_rel)) {
      lo = back - take;
      hi = back;
      return true;
    }
  }
}

std::pair<int64_t, int64_t> WorkClaims::ToCost(int64_t lo, int64_t hi) const {
  return {std::min(total_, lo * unit_), std::min(total_, hi * unit_)};
}

std::pair<int64_t, int64_t> WorkClaims::Next(int self) {
  const bool owner = self >= 0 && self < shares_;
  int64_t lo = 0, hi = 0;
  if (owner && TakeFront(share_[self], lo, hi)) return ToCost(lo, hi);
  for (;;) {
    // The share with the most left; none: the phase is done (a range in flight between a thief's
    // steal and its own share is that thief's to compute).
    int victim = -1;
    int64_t most = 0;
    for (int i = 0; i < shares_; ++i) {
      const uint64_t range = share_[i].range.load(std::memory_order_acquire);
      if (Back(range) - Front(range) > most) {
        most = Back(range) - Front(range);
        victim = i;
      }
    }
    if (victim < 0) return ToCost(0, 0);
    if (!StealBack(share_[victim], lo, hi)) continue;
    if (!owner) return ToCost(lo, hi);
    // The stolen range becomes this thread's share (empty until now: only its owner refills it),
    // so it is claimed a piece at a time and can be stolen from in turn.
    share_[self].range.store(Pack(lo, hi), std::memory_order_release);
    if (TakeFront(share_[self], lo, hi)) return ToCost(lo, hi);
  }
}

}  // namespace moefit::cpu_detail
