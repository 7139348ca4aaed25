/**
 * @file config.h  Configuration: one table of keys, defaults, bounds.
 *
 * The table in config.c is the single source of truth: defaults are parsed
 * from it, `lowbridge config-doc` prints docs/config.md from it, and a
 * unit test checks the two match. Files are INI (inih); every error is
 * reported as `file:line: key: reason`.
 *
 * Threads: main thread at start-up only.
 */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <re.h>
#include "log.h"

#define CFG_MAX_ROOMS 64
#define CFG_ID_MAX 32
#define CFG_NAME_MAX 64
#define CFG_PATH_MAX 256
#define CFG_AUTO UINT32_MAX
#define CFG_MAX_USERS 32
#define CFG_MAX_EXPECT 1000         /* expected sites per room */

/** How a caller is recognised as an expected site. */
enum cfg_match {
	CFG_MATCH_NAME = 0,             /* its display name (default) */
	CFG_MATCH_USER,                 /* the user part of its From URI */
	CFG_MATCH_URI,                  /* its From URI */
	CFG_MATCH_ADDR,                 /* its source IP (or IP:port) */
};

/** A site the room expects (`expect = ...` lines). */
struct cfg_expect {
	char name[64];
	enum cfg_match match;
	char value[128];                /* what is matched */
	char contact[64];
	char phone[32];
};

#define CFG_MAX_WINDOWS 8

/** A readiness test window (`test_window`): local time, on one date or
 *  every day. */
struct cfg_window {
	uint32_t date;                  /* YYYYMMDD, 0: every day */
	uint32_t start_min, end_min;    /* minutes after midnight */
};

/** An account of the HTTP API and console (`[user NAME]`). */
struct cfg_user {
	char name[32];
	bool operator;                  /* else viewer: reads only */
	char hash[160];                 /* crypto_pwhash_str */
};

struct cfg_room {
	char id[CFG_ID_MAX];
	char name[CFG_NAME_MAX];
	uint32_t max_sites;
	uint32_t max_talkers;
	uint32_t answer_delay_ms;
	uint32_t opus_bitrate_bps;
	bool opus_dtx;                  /* silence as DTX to every site */
	uint32_t opus_complexity;
	bool ns;
	int32_t ns_db;
	bool agc;
	int32_t agc_target_dbfs;
	int32_t agc_max_gain_db;
	bool aec;
	bool record;
	bool adapt;                     /* to the site's receiver reports */
	uint32_t adapt_thin_bps;        /* the thin profile's bit rate */
	uint32_t adapt_thin_ptime;      /* and packets, ms */
	uint32_t adapt_thin_bw;         /* and sample rate, Hz */
	uint32_t adapt_fec_bps;         /* a line's own loss: FEC budget */
	bool adapt_ask;                 /* re-offer to a site that loses */
	uint32_t record_format;         /* enum rec_format */
	uint32_t record_bitrate_bps;
	char local_room[128];           /* ALSA/PortAudio device, or "" */
	char local_fallback[128];
	uint32_t local_api;             /* enum hw_api */
	uint32_t local_aec, local_ns, local_agc; /* enum hw_mode */
	struct cfg_expect *expv;        /* malloc'd: cfg_free() */
	uint32_t expc;
	struct cfg_window winv[CFG_MAX_WINDOWS];
	uint32_t winc;
	char dsp_pool[128];             /* a conference DSP unit, or "" */
	int32_t ready_probe_dbfs;       /* the readiness probe's level */
	uint32_t ready_max_loss_pct;    /* a line losing more fails */
};

struct cfg {
	struct sa sip_addr;
	struct sa http_addr;
	char data_dir[CFG_PATH_MAX];
	uint32_t rtp_port_min;
	uint32_t rtp_port_max;
	uint32_t rtp_timeout_s;
	enum log_level log_level;
	uint32_t dsp_threads;           /* CFG_AUTO or a count */
	uint32_t rt_prio;               /* CFG_AUTO, 0 (off) or 1-99 */
	uint32_t shed_tick_us;          /* a tick this long: short of time */
	uint32_t retention_days;        /* 0: keep */
	uint32_t retention_gb;          /* 0: no limit */
	char tls_cert[CFG_PATH_MAX];    /* PEM: cert + key; "" = plain */
	char dsp_profiles[CFG_PATH_MAX]; /* "" : built-in */
	char prompt_dir[CFG_PATH_MAX];  /* readiness prompts (WAV), "" */
	struct cfg_room roomv[CFG_MAX_ROOMS];
	size_t roomc;
	struct cfg_user userv[CFG_MAX_USERS];
	size_t userc;
};

/** Fill cfg with the embedded defaults: bridge keys and one room "1000". */
void cfg_defaults(struct cfg *cfg);
/** Free what loading allocated (the expected-site lists). */
void cfg_free(struct cfg *cfg);

/**
 * Load an INI file over the bridge defaults (rooms come only from the file
 * if it declares any). On error writes `file:line: key: reason` into
 * errbuf and returns EINVAL (or the errno of fopen).
 */
int cfg_load(struct cfg *cfg, const char *path, char *errbuf, size_t errsz);

/** Apply a single `key = value` of section kind "bridge" (command-line
 *  flags use this so they are checked like file values). */
int cfg_set_bridge(struct cfg *cfg, const char *key, const char *value,
		   char *errbuf, size_t errsz);

const struct cfg_room *cfg_room_find(const struct cfg *cfg, const char *id);

/** Print the configuration reference (markdown) generated from the table. */
int cfg_print_doc(struct re_printf *pf, void *unused);

#endif
