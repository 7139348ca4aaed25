/**
 * @file netimp.h  A network path between a test site and the bridge, in
 * user space (the kernel's netem is not available on the test machines):
 * random or bursty (Gilbert-Elliott) loss, jitter with the reordering it
 * brings, duplication and a bandwidth cap (a shaper with a bounded
 * queue, as a thin access line), deterministic with a seed.
 *
 * Threads: one path belongs to one thread.
 */
#ifndef LB_NETIMP_H
#define LB_NETIMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETIMP_QUEUE 512             /* packets in flight */
#define NETIMP_PKT 1500
#define NETIMP_IP_UDP 28             /* IPv4 + UDP header bytes */

struct netimp_prm {
	double loss_pct;             /* average loss */
	double burst;                /* mean burst length in packets: > 1
					is Gilbert-Elliott, else random */
	double jitter_ms;            /* extra delay, uniform 0..jitter */
	double dup_pct;
	double cap_kbps;             /* on the wire (IP/UDP included);
					0: none */
	double cap_queue_ms;         /* the line's queue (default 200) */
	uint64_t seed;
};

struct netimp_pkt {
	int64_t due_ns;
	uint64_t order;              /* ties leave in arrival order */
	uint16_t len;
	uint8_t data[NETIMP_PKT];
};

struct netimp {
	struct netimp_prm prm;
	uint64_t rng;
	bool bad;                    /* Gilbert-Elliott state */
	int64_t line_free_ns;        /* the shaper's line is busy until */
	struct netimp_pkt q[NETIMP_QUEUE];
	uint32_t qn;
	uint64_t order;
	/* counters */
	uint64_t in, out, lost, capped, dups, overflow;
	uint64_t wire_bytes_in;      /* what was offered, with headers */
};

void netimp_init(struct netimp *n, const struct netimp_prm *prm);
/** True when the path changes nothing (packets pass at once). */
bool netimp_clean(const struct netimp *n);
/** Offer a packet at now: lost, or queued to leave later (maybe twice). */
void netimp_put(struct netimp *n, const uint8_t *pkt, size_t len,
		int64_t now_ns);
/** The next packet due by now, if any. */
bool netimp_get(struct netimp *n, int64_t now_ns, uint8_t *buf,
		size_t *len);

#endif
