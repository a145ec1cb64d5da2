// SPDX-License-Identifier: MIT
// Byte-level BPE on one piece (see bpe.h).
#include "tokenizer/bpe.h"

#include <algorithm>
#include <limits>

namespace moefit {
namespace {

// Heap order: lowest rank first, then leftmost. A function object, so the heap code inlines it.
struct LaterThan {
  bool operator()(const BpeScratch::Candidate& a, const BpeScratch::Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  }
};

void PushPair(const MergeTable& merges, BpeScratch& scratch, int32_t left) {
  const BpeScratch::Symbol& symbol = scratch.symbols[static_cast<size_t>(left)];
  if (symbol.next < 0) return;
  const TokenId right_id = scratch.symbols[static_cast<size_t>(symbol.next)].id;
  const MergeTable::Entry* rule = merges.Find(symbol.id, right_id);
  if (rule == nullptr) return;
  scratch.heap.push_back({rule->rank, left, symbol.id, right_id, rule->merged});
  std::push_heap(scratch.heap.begin(), scratch.heap.end(), LaterThan{});
}

// Pieces up to this many bytes take the array path below; longer ones the heap.
constexpr int32_t kShortPiece = 24;
constexpr int32_t kNoRank = std::numeric_limits<int32_t>::max();

// Short pieces (most words): symbols in a small array with the rank of each adjacent pair;
// each step merges the leftmost lowest-rank pair and looks up only the two pairs it changed.
// The scan is linear in a length bounded by kShortPiece, so cheaper than heap upkeep.
void EncodeShortPiece(const Vocabulary& vocabulary, std::string_view bytes,
                      std::vector<TokenId>& out) {
  const MergeTable& merges = vocabulary.merges();
  TokenId ids[kShortPiece];
  int32_t ranks[kShortPiece];    // ranks[i]: rule for (ids[i], ids[i + 1]), or kNoRank
  TokenId merged[kShortPiece];  // what that rule makes
  const auto lookup = [&](int32_t i) {
    const MergeTable::Entry* rule = merges.Find(ids[i], ids[i + 1]);
    ranks[i] = rule != nullptr ? rule->rank : kNoRank;
    merged[i] = rule != nullptr ? rule->merged : kNoToken;
  };
  int32_t count = static_cast<int32_t>(bytes.size());
  for (int32_t i = 0; i < count; ++i) ids[i] = vocabulary.ByteToken(static_cast<uint8_t>(bytes[static_cast<size_t>(i)]));
  for (int32_t i = 0; i + 1 < count; ++i) lookup(i);
  while (count > 1) {
    int32_t best = 0;
    for (int32_t i = 1; i + 1 < count; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == kNoRank) break;
    ids[best] = merged[best];
    for (int32_t i = best + 1; i + 1 < count; ++i) {  // close the gap left by ids[best + 1]
      ids[i] = ids[i + 1];
      ranks[i] = ranks[i + 1];
      merged[i] = merged[i + 1];
    }
    --count;
    if (best + 1 < count) lookup(best);
    if (best > 0) lookup(best - 1);
  }
  out.insert(out.end(), ids, ids + count);
}

}  // namespace

void BpeEncodePiece(const Vocabulary& vocabulary, std::string_view bytes, BpeScratch& scratch,
                    std::vector<TokenId>& out) {
  const auto count = static_cast<int32_t>(bytes.size());
  if (count == 0) return;
  if (count == 1) {
    out.push_back(vocabulary.ByteToken(static_cast<uint8_t>(bytes[0])));
    return;
  }
  if (count <= kShortPiece) return EncodeShortPiece(vocabulary, bytes, out);
  auto& symbols = scratch.symbols;
  symbols.resize(static_cast<size_t>(count));
  for (int32_t index = 0; index < count; ++index) {
    symbols[static_cast<size_t>(index)] = {
        vocabulary.ByteToken(static_cast<uint8_t>(bytes[static_cast<size_t>(index)])), index - 1,
        index + 1 < count ? index + 1 : -1};
  }
  const MergeTable& merges = vocabulary.merges();
  scratch.heap.clear();
  for (int32_t index = 0; index + 1 < count; ++index) PushPair(merges, scratch, index);

  while (!scratch.heap.empty()) {
    std::pop_heap(scratch.heap.begin(), scratch.heap.end(), LaterThan{});
    const BpeScratch::Candidate candidate = scratch.heap.back();
    scratch.heap.pop_back();
    // Stale when either side has changed since the pair was queued (a symbol's id only ever
    // grows into a longer token, so equal ids mean the same, untouched pair).
    BpeScratch::Symbol& left = symbols[static_cast<size_t>(candidate.left)];
    if (left.id != candidate.left_id || left.next < 0) continue;
    BpeScratch::Symbol& right = symbols[static_cast<size_t>(left.next)];
    if (right.id != candidate.right_id) continue;

    left.id = candidate.merged;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = candidate.left;
    right.id = kNoToken;
    if (left.prev >= 0) PushPair(merges, scratch, left.prev);
    PushPair(merges, scratch, candidate.left);
  }
  for (int32_t index = 0; index >= 0; index = symbols[static_cast<size_t>(index)].next) {
    out.push_back(symbols[static_cast<size_t>(index)].id);
  }
}

}  // namespace moefit
