// SPDX-License-Identifier: MIT
// Vocabulary: validation of the plain data and the lookup tables built from it.
#include "tokenizer/vocabulary.h"

#include <bit>
#include <limits>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace moefit {

void MergeTable::Reserve(size_t merges) {
  // At most 3/4 full: probes stay short, and the table stays small enough to stay in cache.
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, merges + merges / 3 + 1));
  if (capacity <= slots_.size()) return;
  std::vector<Entry> old = std::move(slots_);
  slots_.assign(capacity, Entry{});
  mask_ = capacity - 1;
  size_ = 0;
  for (const Entry& entry : old) {
    if (entry.key == kEmptyKey) continue;
    Insert(static_cast<TokenId>(entry.key >> 32), static_cast<TokenId>(entry.key & 0xFFFFFFFFu),
           entry.rank, entry.merged);
  }
}

void MergeTable::Insert(TokenId left, TokenId right, int32_t rank, TokenId merged) {
  if ((size_ + 1) * 4 > slots_.size() * 3) Reserve((size_ + 1) * 2);
  const uint64_t key = Key(left, right);
  for (size_t slot = Hash(key) & mask_;; slot = (slot + 1) & mask_) {
    Entry& entry = slots_[slot];
    if (entry.key == kEmptyKey) {
      entry = Entry{key, rank, merged};
      ++size_;
      return;
    }
    if (entry.key == key) {
      entry.rank = rank;
      entry.merged = merged;
      return;
    }
  }
}

namespace {

// "<0x0A>" -> 0x0A; -1 when `text` is not of that form.
int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char digit : text.substr(3, 2)) {
    value *= 16;
    if (digit >= '0' && digit <= '9') value += digit - '0';
    else if (digit >= 'A' && digit <= 'F') value += digit - 'A' + 10;
    else if (digit >= 'a' && digit <= 'f') value += digit - 'a' + 10;
    else return -1;
  }
  return value;
}

void Append(std::vector<char>& pool, std::vector<uint32_t>& offsets, std::string_view text) {
  pool.insert(pool.end(), text.begin(), text.end());
  if (pool.size() > std::numeric_limits<uint32_t>::max()) {
    Fail("the vocabulary's token texts exceed 4 GiB");
  }
  offsets.push_back(static_cast<uint32_t>(pool.size()));
}

}  // namespace

Vocabulary Vocabulary::Build(const VocabularyData& data) {
  if (data.model != "gpt2") {
    Fail("unsupported tokenizer model '{}' (tokenizer.ggml.model): only byte-level BPE ('gpt2') "
         "is supported",
         data.model);
  }
  if (FindPreTokenizerConfig(data.pre_tokenizer) == nullptr) {
    Fail("unknown pre-tokenizer '{}' (tokenizer.ggml.pre); supported: {}", data.pre_tokenizer,
         PreTokenizerNames());
  }
  if (data.tokens.empty()) Fail("the vocabulary has no tokens (tokenizer.ggml.tokens is empty)");
  if (data.tokens.size() > static_cast<size_t>(std::numeric_limits<TokenId>::max())) {
    Fail("the vocabulary has {} tokens, more than token ids can number", data.tokens.size());
  }
  if (!data.token_types.empty() && data.token_types.size() != data.tokens.size()) {
    Fail("tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}",
         data.token_types.size(), data.tokens.size());
  }
  Vocabulary vocabulary;
  vocabulary.model_ = data.model;
  vocabulary.pre_tokenizer_ = data.pre_tokenizer;
  vocabulary.BuildTokens(data);
  vocabulary.BuildMerges(data);
  vocabulary.BuildSpecialIds(data);
  return vocabulary;
}

void Vocabulary::BuildTokens(const VocabularyData& data) {
  const size_t count = data.tokens.size();
  types_.reserve(count);
  text_offsets_.reserve(count + 1);
  bytes_offsets_.reserve(count + 1);
  text_offsets_.push_back(0);
  bytes_offsets_.push_back(0);
  for (size_t index = 0; index < count; ++index) {
    const std::string& text = data.tokens[index];
    const TokenType type = data.token_types.empty() ? TokenType::kNormal : data.token_types[index];
    if (static_cast<int32_t>(type) < 0 || static_cast<int32_t>(type) > 6) {
      Fail("token {} ('{}') has unknown type {} (tokenizer.ggml.token_type)", index, text,
           static_cast<int32_t>(type));
    }
    if (!IsValidUtf8(text)) Fail("token {} is not valid UTF-8 (tokenizer.ggml.tokens)", index);
    types_.push_back(type);
    Append(text_pool_, text_offsets_, text);

    const int byte = type == TokenType::kByte ? ParseByteToken(text) : -1;
    if (byte >= 0) {
      const char value = static_cast<char>(byte);
      Append(bytes_pool_, bytes_offsets_, std::string_view(&value, 1));
    } else if (type == TokenType::kNormal || type == TokenType::kUnknown ||
               type == TokenType::kUndefined) {
      Append(bytes_pool_, bytes_offsets_, ByteLevelDecode(text));
    } else {
      Append(bytes_pool_, bytes_offsets_, text);  // added tokens are stored as plain text
    }
  }

  by_text_.Reserve(count);
  normal_by_bytes_.Reserve(count);
  const auto text_of = [this](TokenId id) { return TokenText(id); };
  const auto bytes_of = [this](TokenId id) { return TokenBytes(id); };
  for (TokenId id = 0; id < size(); ++id) {
    by_text_.Insert(TokenText(id), id, text_of);  // the first of duplicate spellings wins
    if (Type(id) == TokenType::kNormal) normal_by_bytes_.Insert(TokenBytes(id), id, bytes_of);
    const bool added = Type(id) == TokenType::kControl || Type(id) == TokenType::kUserDefined;
    if (added && !TokenText(id).empty()) added_tokens_.push_back(id);
  }

  for (int byte = 0; byte < 256; ++byte) {
    std::string text;
    AppendUtf8(ByteLevelCharOf(static_cast<uint8_t>(byte)), text);
    byte_tokens_[byte] = Find(text);
    if (byte_tokens_[byte] == kNoToken) {
      Fail("the vocabulary has no token for byte 0x{:02X} ('{}'): byte-level BPE needs one for "
           "each of the 256 bytes",
           byte, text);
    }
  }
}

void Vocabulary::BuildMerges(const VocabularyData& data) {
  if (data.merges.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    Fail("tokenizer.ggml.merges has {} entries, too many", data.merges.size());
  }
  merges_.Reserve(data.merges.size());
  std::string merged;
  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    const std::string& merge = data.merges[rank];
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= merge.size()) {
      Fail("merge {} ('{}') is not two tokens separated by a space (tokenizer.ggml.merges)", rank,
           merge);
    }
    const std::string_view left = std::string_view(merge).substr(0, space);
    const std::string_view right = std::string_view(merge).substr(space + 1);
    const TokenId left_id = Find(left);
    const TokenId right_id = Find(right);
    if (left_id == kNoToken || right_id == kNoToken) {
      Fail("merge {} ('{}') names unknown token '{}' (tokenizer.ggml.merges)", rank, merge,
           left_id == kNoToken ? left : right);
    }
    merged.assign(left);
    merged.append(right);
    const TokenId merged_id = Find(merged);
    if (merged_id == kNoToken) {
      Fail("merge {} ('{}') makes '{}', which is not in the vocabulary (tokenizer.ggml.merges)",
           rank, merge, merged);
    }
    merges_.Insert(left_id, right_id, static_cast<int32_t>(rank), merged_id);
  }
}

void Vocabulary::BuildSpecialIds(const VocabularyData& data) {
  const auto check = [&](TokenId id, std::string_view key) {
    if (id != kNoToken && !Contains(id)) {
      Fail("tokenizer.ggml.{} = {} is out of range: the vocabulary has {} tokens", key, id, size());
    }
    return id;
  };
  bos_id_ = check(data.bos_id, "bos_token_id");
  eos_id_ = check(data.eos_id, "eos_token_id");
  pad_id_ = check(data.pad_id, "padding_token_id");
  unknown_id_ = check(data.unknown_id, "unknown_token_id");
  if (data.add_bos && bos_id_ == kNoToken) {
    Fail("tokenizer.ggml.add_bos_token is set but there is no tokenizer.ggml.bos_token_id");
  }
  if (data.add_eos && eos_id_ == kNoToken) {
    Fail("tokenizer.ggml.add_eos_token is set but there is no tokenizer.ggml.eos_token_id");
  }
  add_bos_ = data.add_bos;
  add_eos_ = data.add_eos;
}

TokenId Vocabulary::Find(std::string_view text) const {
  return by_text_.Find(text, [this](TokenId id) { return TokenText(id); });
}

TokenId Vocabulary::FindNormalByBytes(std::string_view bytes) const {
  return normal_by_bytes_.Find(bytes, [this](TokenId id) { return TokenBytes(id); });
}

}  // namespace moefit
