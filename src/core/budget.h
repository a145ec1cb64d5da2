// SPDX-License-Identifier: MIT
// Budget: a hard per-device memory cap that refuses a reservation before anything is allocated.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace moefit {

// Every allocation the runtime makes on a device (weights, KV blocks, buffers, expert caches)
// is first charged here. Reserve() throws moefit::Error naming the device, the cap, the bytes
// already used, the bytes asked and what they were for, and leaves the budget unchanged.
// Thread-safe: reservations from several threads never overshoot the cap together.
class Budget {
 public:
  Budget(std::string device, uint64_t cap_bytes);
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;

  // Charges `bytes` for `what` ("KV cache", "blk.3.ffn_up_exps.weight"), or throws.
  void Reserve(uint64_t bytes, std::string_view what);
  // The same without throwing: false (and nothing charged) when it would pass the cap.
  bool TryReserve(uint64_t bytes);
  // Returns bytes reserved earlier; releasing more than is in use is a bug (MOEFIT_CHECK).
  void Release(uint64_t bytes);

  const std::string& device() const { return device_; }
  uint64_t cap() const { return cap_; }
  uint64_t used() const;
  uint64_t peak() const;       // the most ever in use at once
  uint64_t available() const;  // cap - used

 private:
  const std::string device_;
  const uint64_t cap_;
  mutable std::mutex mutex_;
  uint64_t used_ = 0;
  uint64_t peak_ = 0;
};

// Bytes held against a Budget for as long as this object lives (move-only RAII owner).
class BudgetReservation {
 public:
  BudgetReservation() = default;
  BudgetReservation(Budget& budget, uint64_t bytes, std::string_view what);  // throws like Reserve
  BudgetReservation(BudgetReservation&& other) noexcept;
  BudgetReservation& operator=(BudgetReservation&& other) noexcept;
  ~BudgetReservation();

  uint64_t bytes() const { return bytes_; }
  void Reset();  // releases now

 private:
  Budget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace moefit
