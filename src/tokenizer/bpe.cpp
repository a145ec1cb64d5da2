// SPDX-License-Identifier: MIT
// Byte-level BPE on one piece (see bpe.h).
#include "tokenizer/bpe.h"

#include <algorithm>

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

}  // namespace

void BpeEncodePiece(const Vocabulary& vocabulary, std::string_view bytes, BpeScratch& scratch,
                    std::vector<TokenId>& out) {
  const auto count = static_cast<int32_t>(bytes.size());
  if (count == 0) return;
  if (count == 1) {
    out.push_back(vocabulary.ByteToken(static_cast<uint8_t>(bytes[0])));
    return;
  }
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
