/**
 * @file ring.h  Single-producer/single-consumer ring of fixed records.
 *
 * Two free-running indices with acquire/release ordering and a
 * power-of-two mask (the spa_ringbuffer idea). Push fails when full: the
 * producer counts the drop and goes on, it never waits.
 *
 * Threads: exactly one producer thread and one consumer thread per ring.
 * Both operations are RT-safe.
 */
#ifndef LB_RING_H
#define LB_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct ring {
	_Atomic uint32_t wr;
	_Atomic uint32_t rd;
	uint32_t mask;          /* capacity - 1, capacity a power of two */
	uint32_t recsz;
	uint8_t *buf;           /* capacity * recsz bytes, owned by caller */
};

static inline void ring_init(struct ring *r, void *buf, uint32_t cap,
			     uint32_t recsz)
{
	atomic_init(&r->wr, 0);
	atomic_init(&r->rd, 0);
	r->mask = cap - 1;
	r->recsz = recsz;
	r->buf = buf;
}

static inline bool ring_push(struct ring *r, const void *rec)
{
	uint32_t w = atomic_load_explicit(&r->wr, memory_order_relaxed);
	uint32_t rd = atomic_load_explicit(&r->rd, memory_order_acquire);

	if (w - rd > r->mask)
		return false;
	memcpy(r->buf + (size_t)(w & r->mask) * r->recsz, rec, r->recsz);
	atomic_store_explicit(&r->wr, w + 1, memory_order_release);
	return true;
}

/* Push only the first n bytes of a record (n <= recsz): the rest of the
 * slot keeps whatever it held, and the consumer must know from those n
 * bytes not to read it. For records whose tail is often unused. */
static inline bool ring_push_part(struct ring *r, const void *rec,
				  uint32_t n)
{
	uint32_t w = atomic_load_explicit(&r->wr, memory_order_relaxed);
	uint32_t rd = atomic_load_explicit(&r->rd, memory_order_acquire);

	if (w - rd > r->mask)
		return false;
	memcpy(r->buf + (size_t)(w & r->mask) * r->recsz, rec,
	       n < r->recsz ? n : r->recsz);
	atomic_store_explicit(&r->wr, w + 1, memory_order_release);
	return true;
}

static inline bool ring_pop(struct ring *r, void *rec)
{
	uint32_t rd = atomic_load_explicit(&r->rd, memory_order_relaxed);
	uint32_t w = atomic_load_explicit(&r->wr, memory_order_acquire);

	if (rd == w)
		return false;
	memcpy(rec, r->buf + (size_t)(rd & r->mask) * r->recsz, r->recsz);
	atomic_store_explicit(&r->rd, rd + 1, memory_order_release);
	return true;
}

#endif
