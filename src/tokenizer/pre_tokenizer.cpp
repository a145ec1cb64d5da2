// SPDX-License-Identifier: MIT
// Pre-tokenizers: the split patterns of each supported `tokenizer.ggml.pre`, run with PCRE2.
#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

namespace moefit {
namespace {

// The patterns are those of the models' Hugging Face tokenizer.json files, with the
// case-insensitive contractions `(?i:'s|...)` spelled out, so that PCRE2's Unicode case folding
// (which would also accept "'ſ", U+017F) does not apply. Non-ASCII characters are \x{...}.
#define MOEFIT_CONTRACTIONS "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]"

// Qwen2, Qwen2.5, Qwen3 and their MoE models: single digits.
constexpr const char* kQwen2[] = {
    "(?:" MOEFIT_CONTRACTIONS ")|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

// Llama 3 (cl100k-style): numbers in groups of up to three digits.
constexpr const char* kLlama3[] = {
    "(?:" MOEFIT_CONTRACTIONS ")|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

// GPT-4o (o200k): words split at lower-to-upper case changes, contractions kept on the word.
constexpr const char* kGpt4o[] = {
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?:" MOEFIT_CONTRACTIONS ")?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "(?:" MOEFIT_CONTRACTIONS ")?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

// DeepSeek-V3 / R1: digits in threes, then runs of CJK ideographs and kana, then words.
constexpr const char* kDeepSeekV3[] = {
    "\\p{N}{1,3}",
    "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
    "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

// DeepSeek LLM (v1): newlines, cased-letter words, ASCII/full-width punctuation, trailing
// space, CJK/Hangul runs, numbers.
constexpr const char* kDeepSeekLlm[] = {
    "[\\r\\n]",
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"
    "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}"
    "\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}"
    "\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}"
    "\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}"
    "\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}"
    "\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
    "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}"
    "\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}"
    "\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}"
    "\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}"
    "\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}"
    "\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
    "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}"
    "\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}"
    "\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}"
    "\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
    "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
    "\\s+$",
    "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
    "\\p{N}+",
};

#undef MOEFIT_CONTRACTIONS

constexpr PreTokenizerConfig kConfigs[] = {
    {.name = "qwen2", .patterns = kQwen2, .nfc = true},
    {.name = "llama-bpe", .patterns = kLlama3, .ignore_merges = true},
    {.name = "deepseek-v3", .patterns = kDeepSeekV3},
    {.name = "deepseek-llm", .patterns = kDeepSeekLlm},
    {.name = "gpt-4o", .patterns = kGpt4o},
};

std::string Pcre2Message(int error_code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  return length < 0 ? "unknown PCRE2 error" : std::string(reinterpret_cast<char*>(buffer));
}

}  // namespace

const PreTokenizerConfig* FindPreTokenizerConfig(std::string_view name) {
  for (const PreTokenizerConfig& config : kConfigs) {
    if (config.name == name) return &config;
  }
  return nullptr;
}

std::string PreTokenizerNames() {
  std::string names;
  for (const PreTokenizerConfig& config : kConfigs) {
    if (!names.empty()) names += ", ";
    names += config.name;
  }
  return names;
}

struct PreTokenizer::Pattern {
  pcre2_code* code = nullptr;
  ~Pattern() { pcre2_code_free(code); }
};

struct PreTokenizer::Scratch::State {
  pcre2_match_data* match_data = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  pcre2_match_context* match_context = nullptr;
  std::vector<std::string_view> current;  // pieces between two patterns
  std::vector<std::string_view> next;

  State() {
    match_data = pcre2_match_data_create(1, nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    match_context = pcre2_match_context_create(nullptr);
    if (match_data == nullptr || jit_stack == nullptr || match_context == nullptr) {
      Release();
      throw std::bad_alloc();
    }
    pcre2_jit_stack_assign(match_context, nullptr, jit_stack);
  }
  ~State() { Release(); }
  void Release() {
    pcre2_match_data_free(match_data);
    pcre2_match_context_free(match_context);
    pcre2_jit_stack_free(jit_stack);
  }
};

PreTokenizer::Scratch::Scratch() : state_(std::make_unique<State>()) {}
PreTokenizer::Scratch::~Scratch() = default;

PreTokenizer::PreTokenizer(const PreTokenizerConfig& config) : config_(&config) {
  for (const char* source : config.patterns) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    auto pattern = std::make_unique<Pattern>();
    pattern->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source), PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (pattern->code == nullptr) {
      Fail("pre-tokenizer '{}': PCRE2 rejects pattern {} at offset {}: {}", config.name,
           patterns_.size(), error_offset, Pcre2Message(error_code));
    }
    // Without JIT (an unsupported CPU) pcre2_match falls back to the interpreter.
    pcre2_jit_compile(pattern->code, PCRE2_JIT_COMPLETE);
    patterns_.push_back(std::move(pattern));
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

namespace {

// Appends the matches of `code` in `piece` and the stretches between them.
void SplitPiece(const pcre2_code* code, std::string_view piece, pcre2_match_data* match_data,
                pcre2_match_context* match_context, std::vector<std::string_view>& out) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
  size_t emitted = 0;  // end of what is already in `out`
  size_t search = 0;   // where the next match may start
  while (search < piece.size()) {
    const int rc = pcre2_match(code, subject, piece.size(), search, PCRE2_NO_UTF_CHECK, match_data,
                               match_context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) Fail("pre-tokenizer: PCRE2 match failed: {}", Pcre2Message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data);
    const size_t start = ovector[0];
    const size_t end = ovector[1];
    if (end == start) {  // an empty match cuts nothing: step over one code point
      search = start + 1;
      while (search < piece.size() && (static_cast<uint8_t>(piece[search]) & 0xC0) == 0x80) {
        ++search;
      }
      continue;
    }
    if (start > emitted) out.push_back(piece.substr(emitted, start - emitted));
    out.push_back(piece.substr(start, end - start));
    emitted = search = end;
  }
  if (emitted < piece.size()) out.push_back(piece.substr(emitted));
}

}  // namespace

void PreTokenizer::Split(std::string_view text, Scratch& scratch,
                         std::vector<std::string_view>& pieces) const {
  if (text.empty()) return;
  Scratch::State& state = *scratch.state_;
  if (patterns_.size() == 1) {
    SplitPiece(patterns_[0]->code, text, state.match_data, state.match_context, pieces);
    return;
  }
  state.current.assign(1, text);
  for (const auto& pattern : patterns_) {
    state.next.clear();
    for (std::string_view piece : state.current) {
      SplitPiece(pattern->code, piece, state.match_data, state.match_context, state.next);
    }
    state.current.swap(state.next);
  }
  pieces.insert(pieces.end(), state.current.begin(), state.current.end());
}

}  // namespace moefit
