#pragma once
// The inner loop of reading JSON text: how far a string's plain characters
// run. Device pages are mostly string text, and looking at 16 bytes at a
// time (SSE2, which every x86-64 has) reads them several times faster than a
// byte at a time; elsewhere, a byte at a time.

#include <cstddef>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fleetrun::losant {

// The offset in [p, p + n) of the first byte that ends a run of plain
// string characters: a quote, a backslash or a control character (below
// 0x20); n when there is none.
inline std::size_t plain_string_run(const char* p, std::size_t n)
{
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i last_control = _mm_set1_epi8(0x1F);
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)),
                     _mm_cmpeq_epi8(_mm_max_epu8(bytes, last_control), last_control)); // unsigned byte <= 0x1F
    if (const int mask = _mm_movemask_epi8(special); mask != 0)
      return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c == '"' || c == '\\' || c < 0x20) return i;
  }
  return n;
}

} // namespace fleetrun::losant
