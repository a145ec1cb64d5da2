// SPDX-License-Identifier: MIT
// Added-token matching over a byte trie (see added_tokens.h).
#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <map>

namespace moefit {

AddedTokenMatcher::AddedTokenMatcher(const Vocabulary& vocabulary) {
  // Build with maps, then flatten into sorted edge ranges.
  struct BuildNode {
    std::map<uint8_t, uint32_t> children;
    TokenId id = kNoToken;
    bool control = false;
  };
  std::vector<BuildNode> build(1);
  for (TokenId id : vocabulary.added_tokens()) {
    const std::string_view text = vocabulary.TokenText(id);
    const bool control = vocabulary.Type(id) == TokenType::kControl;
    uint32_t node = 0;
    for (char c : text) {
      const auto byte = static_cast<uint8_t>(c);
      const auto found = build[node].children.find(byte);
      if (found != build[node].children.end()) {
        node = found->second;
      } else {
        const auto child = static_cast<uint32_t>(build.size());
        build[node].children.emplace(byte, child);
        build.emplace_back();
        node = child;
      }
    }
    if (build[node].id == kNoToken) {  // the first of duplicate spellings wins
      build[node].id = id;
      build[node].control = control;
    }
    const auto first = static_cast<uint8_t>(text.front());
    starts_any_[first] = true;
    if (!control) starts_user_[first] = true;
  }
  nodes_.resize(build.size());
  for (size_t index = 0; index < build.size(); ++index) {
    Node& node = nodes_[index];
    node.first_edge = static_cast<uint32_t>(edges_.size());
    node.edge_count = static_cast<uint32_t>(build[index].children.size());
    node.id = build[index].id;
    node.control = build[index].control;
    for (const auto& [byte, child] : build[index].children) edges_.push_back(Edge{byte, child});
  }
}

int64_t AddedTokenMatcher::Child(uint32_t node, uint8_t byte) const {
  const Node& parent = nodes_[node];
  const auto begin = edges_.begin() + parent.first_edge;
  const auto end = begin + parent.edge_count;
  const auto found =
      std::lower_bound(begin, end, byte, [](const Edge& edge, uint8_t b) { return edge.byte < b; });
  return found != end && found->byte == byte ? static_cast<int64_t>(found->child) : -1;
}

std::optional<AddedTokenMatcher::Match> AddedTokenMatcher::FindNext(std::string_view text,
                                                                    size_t from,
                                                                    bool parse_special) const {
  const bool* starts = parse_special ? starts_any_ : starts_user_;
  for (size_t start = from; start < text.size(); ++start) {
    if (!starts[static_cast<uint8_t>(text[start])]) continue;
    Match best;
    uint32_t node = 0;
    for (size_t pos = start; pos < text.size(); ++pos) {
      const int64_t child = Child(node, static_cast<uint8_t>(text[pos]));
      if (child < 0) break;
      node = static_cast<uint32_t>(child);
      const Node& reached = nodes_[node];
      if (reached.id != kNoToken && (parse_special || !reached.control)) {
        best = Match{start, pos + 1 - start, reached.id};
      }
    }
    if (best.id != kNoToken) return best;
  }
  return std::nullopt;
}

}  // namespace moefit
