// SPDX-License-Identifier: MIT
// Budget: refusals before allocation, exact cap, release, peak, and concurrent reservations.
#include "core/budget.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace moefit {
namespace {

TEST(Budget, ReservesUpToTheCapExactly) {
  Budget budget("host", 1000);
  budget.Reserve(600, "weights");
  budget.Reserve(400, "KV cache");
  EXPECT_EQ(budget.used(), 1000u);
  EXPECT_EQ(budget.available(), 0u);
  EXPECT_FALSE(budget.TryReserve(1));
  EXPECT_TRUE(budget.TryReserve(0));
}

TEST(Budget, RefusalNamesDeviceCapUsedAskedAndWhat) {
  Budget budget("gpu0", 12ull << 30);
  budget.Reserve(11ull << 30, "weights");
  try {
    budget.Reserve(2ull << 30, "KV cache");
    FAIL() << "expected a refusal";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("gpu0"), std::string::npos) << message;
    EXPECT_NE(message.find("KV cache"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(12ull << 30)), std::string::npos) << message;  // cap
    EXPECT_NE(message.find(std::to_string(11ull << 30)), std::string::npos) << message;  // used
    EXPECT_NE(message.find(std::to_string(2ull << 30)), std::string::npos) << message;   // asked
  }
  EXPECT_EQ(budget.used(), 11ull << 30) << "a refused reservation charges nothing";
}

TEST(Budget, HugeRequestDoesNotWrapAround) {
  Budget budget("host", 100);
  budget.Reserve(50, "a");
  EXPECT_THROW(budget.Reserve(UINT64_MAX, "b"), Error);
  EXPECT_THROW(budget.Reserve(UINT64_MAX - 40, "c"), Error);
  EXPECT_EQ(budget.used(), 50u);
}

TEST(Budget, ReleaseAndPeak) {
  Budget budget("host", 100);
  budget.Reserve(70, "a");
  budget.Release(50);
  budget.Reserve(60, "b");
  EXPECT_EQ(budget.used(), 80u);
  EXPECT_EQ(budget.peak(), 80u);
  budget.Release(80);
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(budget.peak(), 80u);
  EXPECT_THROW(budget.Release(1), Error) << "releasing more than is held is a bug";
}

TEST(Budget, ReservationReleasesOnDestructionAndMove) {
  Budget budget("host", 100);
  {
    BudgetReservation first(budget, 40, "a");
    EXPECT_EQ(budget.used(), 40u);
    BudgetReservation second = std::move(first);
    EXPECT_EQ(first.bytes(), 0u);
    EXPECT_EQ(second.bytes(), 40u);
    EXPECT_EQ(budget.used(), 40u);
    EXPECT_THROW(BudgetReservation(budget, 61, "too much"), Error);
    EXPECT_EQ(budget.used(), 40u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(Budget, ConcurrentReservationsNeverOvershoot) {
  constexpr uint64_t kCap = 10'000;
  Budget budget("host", kCap);
  std::atomic<uint64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        if (budget.TryReserve(3)) granted += 3;
        if (i % 7 == 0) {
          try {
            budget.Reserve(5, "burst");
            granted += 5;
          } catch (const Error&) {
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(budget.used(), granted.load());
  EXPECT_LE(budget.used(), kCap);
  EXPECT_LE(budget.peak(), kCap);
  EXPECT_GE(budget.used(), kCap - 4) << "the cap fills up to within one small reservation";
}

}  // namespace
}  // namespace moefit
