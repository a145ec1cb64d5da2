// SPDX-License-Identifier: MIT
// Budget bookkeeping under one mutex; the refusal message carries every figure a user needs.
#include "core/budget.h"

#include <fmt/format.h>

#include "core/error.h"

namespace moefit {
namespace {

// "17.50 GiB (18790481920 bytes)": readable and exact.
std::string Bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.2f} {} ({} bytes)", value, kUnits[unit], bytes);
}

}  // namespace

Budget::Budget(std::string device, uint64_t cap_bytes) : device_(std::move(device)), cap_(cap_bytes) {}

void Budget::Reserve(uint64_t bytes, std::string_view what) {
  std::lock_guard lock(mutex_);
  if (bytes > cap_ - used_) {
    Fail("{}: refusing to allocate {} for {}: the cap is {} and {} are already in use ({} left)", device_,
         Bytes(bytes), what, Bytes(cap_), Bytes(used_), Bytes(cap_ - used_));
  }
  used_ += bytes;
  if (used_ > peak_) peak_ = used_;
}

bool Budget::TryReserve(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (bytes > cap_ - used_) return false;
  used_ += bytes;
  if (used_ > peak_) peak_ = used_;
  return true;
}

void Budget::Release(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  MOEFIT_CHECK(bytes <= used_);
  used_ -= bytes;
}

uint64_t Budget::used() const {
  std::lock_guard lock(mutex_);
  return used_;
}

uint64_t Budget::peak() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

uint64_t Budget::available() const {
  std::lock_guard lock(mutex_);
  return cap_ - used_;
}

BudgetReservation::BudgetReservation(Budget& budget, uint64_t bytes, std::string_view what) {
  budget.Reserve(bytes, what);
  budget_ = &budget;
  bytes_ = bytes;
}

BudgetReservation::BudgetReservation(BudgetReservation&& other) noexcept
    : budget_(other.budget_), bytes_(other.bytes_) {
  other.budget_ = nullptr;
  other.bytes_ = 0;
}

BudgetReservation& BudgetReservation::operator=(BudgetReservation&& other) noexcept {
  if (this != &other) {
    Reset();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.budget_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

BudgetReservation::~BudgetReservation() { Reset(); }

void BudgetReservation::Reset() {
  if (budget_ != nullptr) budget_->Release(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

}  // namespace moefit
