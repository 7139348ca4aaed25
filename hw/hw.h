/**
 * @file hw.h  Audio devices: ALSA discovery with the hardware speech
 * processing each device offers (echo cancellation, noise suppression,
 * AGC), and the local room endpoint (the meeting room's own microphones
 * and loudspeakers) over ALSA or PortAudio, with offload-or-software
 * per feature and hot-unplug fallback.
 *
 * hw/ knows nothing of rooms or the mixer: the local room hands its
 * 20 ms, 16 kHz frames to two callbacks the bridge gives it (the PCM
 * member's rings), and publishes its state as relaxed atomics.
 *
 * Dependencies: libc, alsa-lib, PortAudio, SpeexDSP and dsp/.
 */
#ifndef LB_HW_H
#define LB_HW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define HW_RATE 16000                 /* the mixer's rate */
#define HW_FRAME 320                  /* 20 ms at HW_RATE */
#define HW_NAME_MAX 128

/* ---- features and profiles ---------------------------------------------- */

enum hw_feature {
	HW_AEC = 0,
	HW_NS,
	HW_AGC,
	HW_FEATURES,
};

/** What a device offers for one feature. */
enum hw_cap {
	HW_CAP_NONE = 0,
	HW_CAP_SWITCH,                /* an ALSA control turns it on */
	HW_CAP_ALWAYS,                /* on inside the device, invisible */
};

/** Where a feature runs (a decision, see hw_decide). */
enum hw_where {
	HW_OFF = 0,
	HW_SW,                        /* the software chain */
	HW_HW,                        /* the device */
};

/** The configuration's choice per feature. */
enum hw_mode {
	HW_MODE_AUTO = 0,             /* hardware when it has it */
	HW_MODE_HW,                   /* hardware, else software (warned) */
	HW_MODE_SW,
	HW_MODE_OFF,
};

const char *hw_feature_name(enum hw_feature f);
const char *hw_where_name(enum hw_where w);
int hw_mode_parse(const char *s, enum hw_mode *mode);

struct hw_profiles;

/**
 * Load the profile table: text (the built-in one when NULL) is rules of
 * the form described in hw/profiles.conf. @return 0, or EINVAL with
 * "line N: reason" in err.
 */
int  hw_profiles_load(struct hw_profiles **pp, const char *text,
		      char *err, size_t errsz);
/** The same from a file. */
int  hw_profiles_load_file(struct hw_profiles **pp, const char *path,
			   char *err, size_t errsz);
void hw_profiles_free(struct hw_profiles *p);
/** The built-in table (hw/profiles.conf, embedded at build). */
const char *hw_profiles_builtin(void);

/* ---- discovery ---------------------------------------------------------- */

struct hw_feat {
	enum hw_cap cap;
	char ctl[64];                 /* the control, HW_CAP_SWITCH */
	char why[96];                 /* which rule found it */
};

struct hw_devinfo {
	char name[HW_NAME_MAX];       /* what snd_pcm_open takes */
	char desc[160];
	char ctl_name[HW_NAME_MAX];   /* what snd_ctl_open takes, or "" */
	char card_id[32];
	char driver[32];
	char card_name[80];
	char usb_id[16];              /* VID:PID of a USB card, or "" */
	bool playback, capture;
	uint32_t pool;                /* >0: a conference DSP unit for
					 that many remote sites */
	unsigned pool_features;       /* 1 << enum hw_feature */
	struct hw_feat feat[HW_FEATURES];
	char **ctlv;                  /* every control's name */
	size_t ctlc;
};

/** Every PCM alsa-lib knows (hints, asoundrc plugins included) and
 *  every card. */
int  hw_discover(struct hw_devinfo **vp, size_t *np,
		 const struct hw_profiles *p);
/** One device by name (it need not appear in the hints). */
int  hw_probe(struct hw_devinfo *di, const char *name,
	      const struct hw_profiles *p);
void hw_devinfo_free(struct hw_devinfo *v, size_t n);
/** Free what one filled hw_devinfo holds (its control names). */
void hw_devinfo_free_fields(struct hw_devinfo *d);
/** Text or JSON listing (lowbridge devices). */
int  hw_print_devices(FILE *f, const struct hw_devinfo *v, size_t n,
		      bool json);

/** Where each feature runs on this device, given the modes. */
void hw_decide(const struct hw_devinfo *di, const enum hw_mode *modev,
	       enum hw_where *wherev);

/** Silence alsa-lib's own stderr chatter (missing cards, plugins). */
void hw_quiet_alsa(void);

/* ---- the local room ----------------------------------------------------- */

enum hw_api {
	HW_API_ALSA = 0,
	HW_API_PORTAUDIO,
};

/** The bridge's side of a local room: called on the device thread,
 *  RT-safe, never blocking. */
struct hw_local_io {
	/** What the room's microphones said (20 ms at 16 kHz). @return
	 *  false when the mixer's ring is full. */
	bool (*put)(void *arg, const int16_t *frame);
	/** What the room's loudspeakers play. @return false when none
	 *  (it plays silence). */
	bool (*get)(void *arg, int16_t *frame);
	void *arg;
};

struct hw_local_prm {
	char device[HW_NAME_MAX];
	char fallback[HW_NAME_MAX];   /* "" : none (silence and an alarm) */
	enum hw_api api;
	enum hw_mode modev[HW_FEATURES];
	uint32_t period_ms;           /* 0: 10 */
	const struct hw_profiles *profiles;
	uint32_t rt_prio;             /* SCHED_FIFO priority of the device
					 thread when allowed; 0: none */
};

enum hw_local_state {
	HW_LOCAL_OPENING = 0,
	HW_LOCAL_RUNNING,             /* on its device */
	HW_LOCAL_FALLBACK,            /* on the fallback device */
	HW_LOCAL_SILENT,              /* no device: silence, alarm */
	HW_LOCAL_STOPPED,
};

/** Published by the device thread (relaxed atomics). */
struct hw_local_stats {
	_Atomic int state;            /* enum hw_local_state */
	_Atomic int where[HW_FEATURES]; /* enum hw_where now */
	_Atomic uint64_t frames_in, frames_out;
	_Atomic uint64_t xruns;
	_Atomic uint64_t lost_frames;  /* 20 ms frames concealed */
	_Atomic uint64_t switches;     /* device changes */
	_Atomic int32_t drift_ppm10;   /* card vs mixer clock */
	_Atomic int32_t delay_ms10;    /* capture-to-mixer delay */
	_Atomic uint32_t rate;         /* the device's rate */
	_Atomic uint64_t alarm_seq;    /* bumps with a new alarm text */
	_Atomic uint64_t chain_ns;     /* CPU time in the software chains
					  of its devices (ns) */
	/* the software chain of the active device */
	_Atomic int32_t in_rms_cdb;    /* what the microphones picked up */
	_Atomic int32_t out_rms_cdb;   /* after the chain */
	_Atomic int32_t agc_gain_cdb;
	_Atomic int32_t erle_cdb;      /* software echo canceller */
	_Atomic int32_t echo_delay_ms10; /* < 0: none found */
	_Atomic bool echo_present;
	_Atomic bool double_talk;
};

struct hw_local;

/** Start the device thread (it opens the device; failures become
 *  state and alarm, never an error here). */
int  hw_local_start(struct hw_local **lp, const struct hw_local_prm *prm,
		    const struct hw_local_io *io);
void hw_local_stop(struct hw_local *l);
const struct hw_local_stats *hw_local_stats(const struct hw_local *l);
/** The device in use and the last alarm (control thread; copies). */
void hw_local_status(struct hw_local *l, char *dev, size_t devsz,
		     char *alarm, size_t alarmsz);

/* ---- the offload pool (pool.c) ----------------------------------------- */

#define HW_POOL_MAX 16                /* sites one unit serves, at most */

/** The bridge's side of a pool, called on the device thread: RT-safe,
 *  never blocking. */
struct hw_pool_io {
	/** Channel ch's next frame for the unit: the site's microphone and
	 *  its echo reference (20 ms at 16 kHz), and the site's tag.
	 *  @return false when none (the unit gets silence). */
	bool (*get)(void *arg, uint32_t ch, uint32_t *tag, int16_t *raw,
		    int16_t *ref);
	/** Channel ch's processed frame, for the site tagged tag. */
	void (*put)(void *arg, uint32_t ch, uint32_t tag, const int16_t *out);
	void *arg;
};

struct hw_pool_prm {
	char device[HW_NAME_MAX];     /* an ALSA PCM of a conference unit */
	const struct hw_profiles *profiles;
	enum hw_mode modev[HW_FEATURES];
	uint32_t rt_prio;             /* SCHED_FIFO of its thread; 0: none */
};

enum hw_pool_state {
	HW_POOL_OPENING = 0,
	HW_POOL_MEASURING,            /* its own delay, at every open */
	HW_POOL_RUNNING,
	HW_POOL_FAILED,               /* the probe did not come back */
	HW_POOL_LOST,                 /* gone (unplugged), retried */
	HW_POOL_STOPPED,
};

/** Published by the device thread (relaxed atomics). */
struct hw_pool_stats {
	_Atomic int state;            /* enum hw_pool_state */
	_Atomic uint32_t channels;
	_Atomic int where[HW_FEATURES]; /* what the unit does */
	_Atomic int32_t latency_ms10; /* its delay, microphone in to
					 processed out; < 0: unknown */
	_Atomic uint64_t frames;      /* periods moved each way */
	_Atomic uint64_t xruns;
	_Atomic uint64_t opens;
	_Atomic int open_err;         /* the last failure (errno) */
};

struct hw_pool;

/** Start its device thread (which opens the unit; failures are state,
 *  never an error here). */
int  hw_pool_start(struct hw_pool **pp, const struct hw_pool_prm *prm,
		   const struct hw_pool_io *io);
void hw_pool_stop(struct hw_pool *p);
const struct hw_pool_stats *hw_pool_stats(const struct hw_pool *p);
const char *hw_pool_state_name(int state);

#endif
