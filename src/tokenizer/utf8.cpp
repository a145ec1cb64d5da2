// SPDX-License-Identifier: MIT
// UTF-8 helpers for the tokenizer: validation, lossy repair, incomplete tails, code points.
#include "tokenizer/utf8.h"

#include <algorithm>

namespace moefit {
namespace {

// Length of the sequence a lead byte announces, or 0 for a byte that cannot start one.
int SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

// Allowed range of the byte right after `lead` (Unicode table 3-7); later bytes are 80..BF.
bool SecondByteOk(uint8_t lead, uint8_t second) {
  switch (lead) {
    case 0xE0: return second >= 0xA0 && second <= 0xBF;
    case 0xED: return second >= 0x80 && second <= 0x9F;
    case 0xF0: return second >= 0x90 && second <= 0xBF;
    case 0xF4: return second >= 0x80 && second <= 0x8F;
    default: return second >= 0x80 && second <= 0xBF;
  }
}

struct Prefix {
  int needed = 0;  // bytes the lead announces (0: not a lead byte)
  int valid = 0;   // bytes from the start that are a well-formed prefix of that sequence
};

// How much of the sequence starting at bytes[pos] is well-formed.
Prefix ExamineSequence(std::string_view bytes, size_t pos) {
  const auto lead = static_cast<uint8_t>(bytes[pos]);
  Prefix prefix{SequenceLength(lead), 0};
  if (prefix.needed == 0) return prefix;
  prefix.valid = 1;
  while (prefix.valid < prefix.needed && pos + prefix.valid < bytes.size()) {
    const auto next = static_cast<uint8_t>(bytes[pos + prefix.valid]);
    const bool ok = prefix.valid == 1 ? SecondByteOk(lead, next) : (next & 0xC0) == 0x80;
    if (!ok) break;
    ++prefix.valid;
  }
  return prefix;
}

}  // namespace

void AppendUtf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

bool IsValidUtf8(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (static_cast<uint8_t>(bytes[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Prefix prefix = ExamineSequence(bytes, pos);
    if (prefix.needed == 0 || prefix.valid < prefix.needed) return false;
    pos += static_cast<size_t>(prefix.needed);
  }
  return true;
}

void AppendLossyUtf8(std::string_view bytes, std::string& out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    // Copy the longest run of ASCII in one go.
    size_t run = pos;
    while (run < bytes.size() && static_cast<uint8_t>(bytes[run]) < 0x80) ++run;
    out.append(bytes.substr(pos, run - pos));
    pos = run;
    if (pos == bytes.size()) break;
    const Prefix prefix = ExamineSequence(bytes, pos);
    if (prefix.needed != 0 && prefix.valid == prefix.needed) {
      out.append(bytes.substr(pos, static_cast<size_t>(prefix.needed)));
      pos += static_cast<size_t>(prefix.needed);
    } else {
      AppendUtf8(kReplacementCharacter, out);
      pos += static_cast<size_t>(prefix.valid > 0 ? prefix.valid : 1);
    }
  }
}

size_t IncompleteUtf8Tail(std::string_view bytes) {
  // A lead byte can sit at most 3 bytes before the end of an unfinished sequence.
  for (size_t back = 1; back <= 3 && back <= bytes.size(); ++back) {
    const size_t pos = bytes.size() - back;
    const auto byte = static_cast<uint8_t>(bytes[pos]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation: the lead is further back
    const Prefix prefix = ExamineSequence(bytes, pos);
    const bool unfinished = prefix.needed > static_cast<int>(back) &&
                            prefix.valid == static_cast<int>(back);
    return unfinished ? back : 0;
  }
  return 0;
}

uint32_t NextCodePoint(std::string_view bytes, size_t* pos) {
  const auto lead = static_cast<uint8_t>(bytes[*pos]);
  const int length = SequenceLength(lead);
  uint32_t code_point = 0;
  switch (length) {
    case 2: code_point = lead & 0x1Fu; break;
    case 3: code_point = lead & 0x0Fu; break;
    case 4: code_point = lead & 0x07u; break;
    default: ++*pos; return lead;
  }
  for (int i = 1; i < length && *pos + static_cast<size_t>(i) < bytes.size(); ++i) {
    code_point = (code_point << 6) | (static_cast<uint8_t>(bytes[*pos + static_cast<size_t>(i)]) & 0x3Fu);
  }
  *pos = std::min(*pos + static_cast<size_t>(length), bytes.size());
  return code_point;
}

}  // namespace moefit
