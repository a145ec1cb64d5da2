// SPDX-License-Identifier: MIT
#include "kernels/cpu/work_claims.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace moefit::cpu_detail {
namespace {

using Piece = std::pair<int64_t, int64_t>;

// Every piece non-empty, and together exactly [0, total): no gap, no overlap.
void ExpectExactCover(std::vector<Piece> pieces, int64_t total) {
  std::sort(pieces.begin(), pieces.end());
  int64_t at = 0;
  for (const Piece& p : pieces) {
    ASSERT_LT(p.first, p.second);
    ASSERT_EQ(p.first, at) << "a gap or an overlap before " << p.first;
    at = p.second;
  }
  EXPECT_EQ(at, total);
}

// `callers` threads (numbers 0 .. callers - 1) claim until nothing is left; the pieces of each.
std::vector<std::vector<Piece>> ClaimAll(WorkClaims& claims, int callers) {
  std::vector<std::vector<Piece>> taken(static_cast<size_t>(callers));
  std::vector<std::thread> threads;
  for (int self = 0; self < callers; ++self)
    threads.emplace_back([&claims, &taken, self] {
      for (;;) {
        const Piece p = claims.Next(self);
        if (p.first >= p.second) return;
        taken[static_cast<size_t>(self)].push_back(p);
      }
    });
  for (std::thread& t : threads) t.join();
  return taken;
}

std::vector<Piece> Flatten(const std::vector<std::vector<Piece>>& taken) {
  std::vector<Piece> all;
  for (const auto& pieces : taken) all.insert(all.end(), pieces.begin(), pieces.end());
  return all;
}

TEST(WorkClaims, OneThreadTakesItsShareFromTheFrontInHalves) {
  WorkClaims claims;
  claims.Start(1000, 1, 10, 2);
  std::vector<Piece> pieces;
  for (Piece p = claims.Next(0); p.first < p.second; p = claims.Next(0)) pieces.push_back(p);
  // In order and contiguous (each piece continues the last one's stream), halving down to the
  // minimum, and no sliver below it at the end.
  const std::vector<Piece> expected = {{0, 500}, {500, 750}, {750, 875}, {875, 937}, {937, 968}, {968, 984}, {984, 1000}};
  EXPECT_EQ(pieces, expected);
  EXPECT_GE(claims.Next(0).first, claims.Next(0).second) << "nothing left";
}

TEST(WorkClaims, NothingToShare) {
  WorkClaims claims;
  claims.Start(0, 4, 64, 2);
  for (int self = 0; self < 4; ++self) {
    const Piece p = claims.Next(self);
    EXPECT_GE(p.first, p.second);
  }
}

TEST(WorkClaims, ThreadsTogetherCoverTheRangeExactlyOnce) {
  std::mt19937_64 rng(7);
  // Totals from one unit to past 2^31 (ranges are packed in 32-bit units, so costs are scaled).
  const std::vector<int64_t> totals = {1, 2, 3, 63, 64, 65, 1000, 4097, 1 << 20, int64_t{3} << 31, int64_t{7} << 40};
  for (int round = 0; round < 30; ++round)
    for (int64_t total : totals)
      for (int threads : {2, 3, 4}) {
        WorkClaims claims;
        const int64_t min_cost = static_cast<int64_t>(rng() % 100) + 1;
        claims.Start(total, threads, min_cost, 2);
        const auto taken = ClaimAll(claims, threads);
        ExpectExactCover(Flatten(taken), total);
        if (HasFatalFailure()) return;
      }
}

TEST(WorkClaims, AStalledThreadHoldsOnlyThePieceItIsIn) {
  // Thread 0 takes its first piece and then stops (descheduled); thread 1 must do the rest of
  // the phase, thread 0's share included, without waiting for it.
  WorkClaims claims;
  const int64_t total = 1 << 20;
  claims.Start(total, 2, 1024, 2);
  const Piece first = claims.Next(0);
  EXPECT_EQ(first, Piece(0, total / 4)) << "half of its share";
  std::vector<Piece> rest;
  std::thread other([&] {
    for (Piece p = claims.Next(1); p.first < p.second; p = claims.Next(1)) rest.push_back(p);
  });
  other.join();  // returns although thread 0 never came back
  rest.push_back(first);
  ExpectExactCover(rest, total);
  const Piece after = claims.Next(0);
  EXPECT_GE(after.first, after.second) << "the stalled thread finds nothing left when it resumes";
}

TEST(WorkClaims, MissingAndExtraThreadsStillCoverEverything) {
  // A team smaller than announced: the shares of the threads that never come are stolen.
  {
    WorkClaims claims;
    claims.Start(100000, 4, 100, 2);
    ExpectExactCover(Flatten(ClaimAll(claims, 2)), 100000);
  }
  // More threads than shares: the extra ones only steal.
  {
    WorkClaims claims;
    claims.Start(100000, 1, 100, 2);
    ExpectExactCover(Flatten(ClaimAll(claims, 3)), 100000);
  }
  // More threads than WorkClaims keeps shares for.
  {
    WorkClaims claims;
    const int threads = WorkClaims::kMaxShares + 3;
    claims.Start(1 << 22, threads, 100, 2);
    ExpectExactCover(Flatten(ClaimAll(claims, threads)), 1 << 22);
  }
}

TEST(WorkClaims, AStalledThreadsShareGoesToTheOthersInATeam) {
  // Four threads; thread 0 stops after its first piece. The other three share the rest of the
  // phase, thread 0's share included, and return without it.
  WorkClaims claims;
  const int64_t total = 1 << 16;
  claims.Start(total, 4, 256, 2);
  const Piece first = claims.Next(0);
  EXPECT_EQ(first, Piece(0, total / 8));
  std::vector<std::vector<Piece>> taken(4);
  std::vector<std::thread> threads;
  for (int self = 1; self < 4; ++self)
    threads.emplace_back([&, self] {
      for (Piece p = claims.Next(self); p.first < p.second; p = claims.Next(self)) taken[static_cast<size_t>(self)].push_back(p);
    });
  for (std::thread& t : threads) t.join();
  taken[0].push_back(first);
  for (Piece p = claims.Next(0); p.first < p.second; p = claims.Next(0)) taken[0].push_back(p);
  EXPECT_EQ(taken[0].size(), 1u) << "the stalled thread found work left when it resumed";
  ExpectExactCover(Flatten(taken), total);
}

}  // namespace
}  // namespace moefit::cpu_detail
