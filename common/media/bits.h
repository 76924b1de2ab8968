/*
 * A bounds-checked MSB-first bit reader for codec headers (SPS, AudioSpecificConfig): a read past
 * the end, or a value out of range, sets bad and reads 0, so a parser checks once at its end.
 */
#ifndef CV_MEDIA_BITS_H
#define CV_MEDIA_BITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cv_bits {
    const uint8_t *p;
    size_t len; /* bytes */
    size_t pos; /* bits */
    bool bad;   /* a read went past the end or a value was out of range */
};

/* n bits (n <= 32) as an unsigned number. */
uint32_t cv_bits_u(struct cv_bits *b, unsigned n);
void cv_bits_skip(struct cv_bits *b, size_t n);
/* Exp-Golomb ue(v) and se(v); values that need more than 32 bits are malformed. */
uint32_t cv_bits_ue(struct cv_bits *b);
int32_t cv_bits_se(struct cv_bits *b);
/* A ue(v) that must be <= max. */
uint32_t cv_bits_ue_max(struct cv_bits *b, uint32_t max);

#endif
