/* The bit reader: see common/media/bits.h. */
#include "common/media/bits.h"

uint32_t cv_bits_u(struct cv_bits *b, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        if (b->pos >= b->len * 8) {
            b->bad = true;
            return 0;
        }
        v = (v << 1) | ((b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1u);
        b->pos++;
    }
    return v;
}

void cv_bits_skip(struct cv_bits *b, size_t n)
{
    if (n > b->len * 8 - b->pos)
        b->bad = true;
    else
        b->pos += n;
}

/* Exp-Golomb ue(v); values that need more than 32 bits are malformed. */
uint32_t cv_bits_ue(struct cv_bits *b)
{
    unsigned lz = 0;
    while (!b->bad && cv_bits_u(b, 1) == 0)
        if (++lz > 31)
            b->bad = true;
    if (b->bad)
        return 0;
    return (uint32_t)(((uint64_t)1 << lz) - 1 + cv_bits_u(b, lz));
}

int32_t cv_bits_se(struct cv_bits *b)
{
    uint32_t k = cv_bits_ue(b);
    return (k & 1) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

/* A ue(v) that must be <= max. */
uint32_t cv_bits_ue_max(struct cv_bits *b, uint32_t max)
{
    uint32_t v = cv_bits_ue(b);
    if (v > max)
        b->bad = true;
    return v;
}
