// SPDX-License-Identifier: MIT
// Tokenizer: added tokens -> normalisation -> pre-tokenizer -> BPE (with a word cache), and
// the byte-level decoders.
#include "tokenizer/tokenizer.h"

#include <mutex>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace moefit {
namespace {

constexpr size_t kMaxCachedPieceBytes = 128;  // longer pieces are rare; BPE them every time
constexpr size_t kMaxCacheEntries = 1 << 15;  // then start over: ~3 MB per cache at most
constexpr size_t kMaxIdleScratches = 8;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

// Piece bytes -> its ids, stored as a range of one shared id vector.
class WordCache {
 public:
  bool Lookup(std::string_view piece, std::vector<TokenId>& ids) const {
    const auto found = ranges_.find(piece);
    if (found == ranges_.end()) return false;
    const auto [begin, count] = found->second;
    ids.insert(ids.end(), ids_.begin() + begin, ids_.begin() + begin + count);
    return true;
  }
  void Insert(std::string_view piece, std::span<const TokenId> ids) {
    if (ranges_.size() >= kMaxCacheEntries) {
      ranges_.clear();
      ids_.clear();
    }
    const auto begin = static_cast<uint32_t>(ids_.size());
    ids_.insert(ids_.end(), ids.begin(), ids.end());
    ranges_.emplace(std::string(piece), std::pair{begin, static_cast<uint32_t>(ids.size())});
  }

 private:
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash, std::equal_to<>>
      ranges_;
  std::vector<TokenId> ids_;
};

}  // namespace

struct Tokenizer::Scratch {
  PreTokenizer::Scratch pre_tokenizer;
  std::string repaired;    // the input with ill-formed UTF-8 replaced
  std::string normalized;  // one segment after NFC
  std::vector<std::string_view> pieces;
  BpeScratch bpe;
  WordCache cache;
};

// Idle scratches; Encode borrows one, so concurrent calls never share working memory.
class Tokenizer::ScratchPool {
 public:
  std::unique_ptr<Scratch> Acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<Scratch> scratch = std::move(idle_.back());
        idle_.pop_back();
        return scratch;
      }
    }
    return std::make_unique<Scratch>();
  }
  void Release(std::unique_ptr<Scratch> scratch) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdleScratches) idle_.push_back(std::move(scratch));
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    idle_.clear();
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Scratch>> idle_;
};

namespace {

const PreTokenizerConfig& ConfigFor(const Vocabulary& vocabulary) {
  const PreTokenizerConfig* config = FindPreTokenizerConfig(vocabulary.pre_tokenizer());
  if (config == nullptr) {
    Fail("unknown pre-tokenizer '{}' (tokenizer.ggml.pre); supported: {}",
         vocabulary.pre_tokenizer(), PreTokenizerNames());
  }
  return *config;
}

}  // namespace

Tokenizer::Tokenizer(Vocabulary vocabulary)
    : vocabulary_(std::move(vocabulary)),
      pre_tokenizer_(ConfigFor(vocabulary_)),
      added_tokens_(vocabulary_),
      scratch_pool_(std::make_unique<ScratchPool>()) {}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<TokenId> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 2);
  Encode(text, options, ids);
  return ids;
}

void Tokenizer::Encode(std::string_view text, const EncodeOptions& options,
                       std::vector<TokenId>& ids) const {
  std::unique_ptr<Scratch> scratch = scratch_pool_->Acquire();
  if (options.add_special && vocabulary_.add_bos()) ids.push_back(vocabulary_.bos_id());
  if (!IsValidUtf8(text)) {
    scratch->repaired.clear();
    AppendLossyUtf8(text, scratch->repaired);
    text = scratch->repaired;
  }
  // Added tokens are found in the raw text first; the text between them is tokenized alone.
  size_t pos = 0;
  while (true) {
    const auto match = added_tokens_.FindNext(text, pos, options.parse_special);
    const size_t end = match ? match->start : text.size();
    EncodeSegment(text.substr(pos, end - pos), *scratch, ids);
    if (!match) break;
    ids.push_back(match->id);
    pos = match->start + match->length;
  }
  if (options.add_special && vocabulary_.add_eos()) ids.push_back(vocabulary_.eos_id());
  scratch_pool_->Release(std::move(scratch));
}

void Tokenizer::EncodeSegment(std::string_view text, Scratch& scratch,
                              std::vector<TokenId>& ids) const {
  if (text.empty()) return;
  if (pre_tokenizer_.config().nfc) text = NormalizeNfc(text, scratch.normalized);
  scratch.pieces.clear();
  pre_tokenizer_.Split(text, scratch.pre_tokenizer, scratch.pieces);
  for (std::string_view piece : scratch.pieces) EncodePiece(piece, scratch, ids);
}

void Tokenizer::EncodePiece(std::string_view piece, Scratch& scratch,
                            std::vector<TokenId>& ids) const {
  const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  if (cacheable && scratch.cache.Lookup(piece, ids)) return;
  const size_t first = ids.size();
  const TokenId whole =
      pre_tokenizer_.config().ignore_merges ? vocabulary_.FindNormalByBytes(piece) : kNoToken;
  if (whole != kNoToken) {
    ids.push_back(whole);
  } else {
    BpeEncodePiece(vocabulary_, piece, scratch.bpe, ids);
  }
  if (cacheable) scratch.cache.Insert(piece, std::span(ids).subspan(first));
}

void Tokenizer::ClearCaches() const { scratch_pool_->Clear(); }

std::string Tokenizer::Decode(std::span<const TokenId> ids, const DecodeOptions& options) const {
  std::string bytes;
  for (TokenId id : ids) {
    if (!vocabulary_.Contains(id)) {
      Fail("token id {} is out of range: the vocabulary has {} tokens", id, vocabulary_.size());
    }
    if (options.skip_special && vocabulary_.IsSpecial(id)) continue;
    bytes.append(vocabulary_.TokenBytes(id));
  }
  if (IsValidUtf8(bytes)) return bytes;
  std::string text;
  AppendLossyUtf8(bytes, text);
  return text;
}

std::string Tokenizer::Normalize(std::string_view text) const {
  std::string repaired;
  if (!IsValidUtf8(text)) {
    AppendLossyUtf8(text, repaired);
    text = repaired;
  }
  if (!pre_tokenizer_.config().nfc) return std::string(text);
  std::string buffer;
  return std::string(NormalizeNfc(text, buffer));
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, const DecodeOptions& options)
    : tokenizer_(&tokenizer), options_(options) {}

std::string StreamDecoder::Push(TokenId id) {
  const Vocabulary& vocabulary = tokenizer_->vocabulary();
  if (!vocabulary.Contains(id)) {
    Fail("token id {} is out of range: the vocabulary has {} tokens", id, vocabulary.size());
  }
  if (options_.skip_special && vocabulary.IsSpecial(id)) return {};
  pending_.append(vocabulary.TokenBytes(id));
  // Hold back an unfinished sequence at the end; everything before it is final. A sequence
  // cannot reach across a lead byte, so the split never changes how the prefix decodes.
  const size_t held = IncompleteUtf8Tail(pending_);
  const std::string_view ready = std::string_view(pending_).substr(0, pending_.size() - held);
  std::string text;
  AppendLossyUtf8(ready, text);
  pending_.erase(0, ready.size());
  return text;
}

std::string StreamDecoder::Finish() {
  std::string text;
  AppendLossyUtf8(pending_, text);
  pending_.clear();
  return text;
}

}  // namespace moefit
