/**
 * @file dspemu.h  The emulated DSP sound card shared by the ALSA PCM
 * plugin (pcm_dspemu.c), the control plugin (ctl_dspemu.c), the fault
 * injection tool (dspemu_ctl.c) and the self-test.
 *
 * One emulated card is one state file, mapped shared by every process
 * that opens the card: the controls (switches, volumes), its presence
 * (unplug/replug), room parameters a test may change while it runs,
 * counters for tests, and the "loudspeaker": a ring of what the card
 * played, keyed by device time, from which the capture side builds its
 * echo (room mode) or takes the sites' signals (pool mode). A real card
 * keeps such state in the kernel; a shared file lets the PCM, the
 * control and a test in another process see the same card.
 *
 * The file has no lock beyond aligned word stores: one writer per word
 * at a time is all the tests need (a control written by one process,
 * counters by the streams of another).
 *
 * Errors: these helpers return 0 or a positive errno (house style); the
 * plugins turn them into ALSA's negative codes at their callbacks.
 */
#ifndef DSPEMU_H
#define DSPEMU_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <alsa/asoundlib.h>

#define DSPEMU_MAGIC       0x45505344u   /* "DSPE" */
#define DSPEMU_VERSION     1u
#define DSPEMU_HDR_BYTES   4096u
/* The loudspeaker ring: 2^21 samples (4 MiB) shared among its channels
 * (1 in room mode, 2N in pool mode), so 2^21 frames of history for a
 * room (43 s at 48 kHz) and 2^17 for a 16-channel pool (2.7 s). */
#define DSPEMU_RING_SAMPLES (1u << 21)
#define DSPEMU_RING_BLOCK  64u           /* frames per validity stamp */
#define DSPEMU_CH_MAX      16u
#define DSPEMU_POOL_MAX    8u

#define DSPEMU_VOL_MIN_DB  (-40)
#define DSPEMU_VOL_MAX     60            /* index; dB = index - 40 */
#define DSPEMU_VOL_0DB     40
#define DSPEMU_TARGET_MIN  1             /* AGC target: -N dBFS */
#define DSPEMU_TARGET_MAX  40

/** The controls the card keeps (which ones a device shows depends on
 *  its profile). */
enum dspemu_ctl_id {
	DSPEMU_AEC = 0,
	DSPEMU_NS,
	DSPEMU_AGC,
	DSPEMU_AGC_TARGET,
	DSPEMU_CAP_VOL,
	DSPEMU_PLAY_VOL,
	DSPEMU_CTL_N,
};

/** Room and clock parameters a test may change on a running card
 *  (dspemu-fault set KEY VALUE); the asoundrc gives their start values. */
enum dspemu_room_id {
	DSPEMU_NEAR_DB = 0,       /* near-end talker, dBFS while talking */
	DSPEMU_NOISE_DB,          /* room noise, dBFS */
	DSPEMU_ECHO_DB,           /* loudspeaker to microphone gain, dB */
	DSPEMU_ECHO_DELAY_MS,     /* direct path delay */
	DSPEMU_RT60,              /* reverb decay to -60 dB, seconds */
	DSPEMU_LATENCY_MS,        /* pool: the DSP's processing delay */
	DSPEMU_PPM,               /* clock offset (real-time mode) */
	DSPEMU_PINK,              /* noise colour: 1 pink, 0 white */
	DSPEMU_ROOM_N,
};

/** What a device shows and does, from the keys dsp, hidden, names. */
enum dspemu_profile {
	DSPEMU_PROFILE_DSP = 0,   /* three switches, target, volumes */
	DSPEMU_PROFILE_PLAIN,     /* volumes only, no processing */
	DSPEMU_PROFILE_HIDDEN,    /* AEC+NS always on, volumes only */
	DSPEMU_PROFILE_UAC,       /* one switch: the AGC, UAC-style name */
};

/** A device's configuration: its asoundrc keys. */
struct dspemu_cfg {
	char state[PATH_MAX];
	bool dsp;
	bool hidden;
	bool uac_names;
	uint32_t pool;            /* 0, or N channels processed */
	bool realtime;
	char near[PATH_MAX];      /* WAV, or "" for the built-in talker */
	float room[DSPEMU_ROOM_N];
	float aec_tail_ms;
	int32_t ctl_default[DSPEMU_CTL_N];
	char card_id[16];
	char driver[16];
	char card_name[32];
	char longname[80];
	char mixername[80];
};

/** The shared state file's header (the ring follows it). */
struct dspemu_shm {
	uint32_t magic;
	uint32_t version;
	uint64_t size_bytes;
	uint32_t present;         /* 0: unplugged */
	uint32_t plug_gen;        /* bumps at every replug */
	uint32_t ctl_gen;         /* bumps with every control change */
	uint32_t profile;         /* enum dspemu_profile, for show */
	int32_t ctl[DSPEMU_CTL_N];
	int32_t ctl_default[DSPEMU_CTL_N];
	float room[DSPEMU_ROOM_N];
	uint32_t room_set;        /* bit per room key set by hand: the
				   * asoundrc no longer overrides it */
	uint32_t pool;
	int64_t epoch_ns;         /* CLOCK_MONOTONIC origin of device time */
	/* counters, for tests */
	uint64_t frames_played;
	uint64_t frames_captured;
	uint32_t xruns_play;
	uint32_t xruns_capture;
	uint32_t opens;
	float capture_dbfs;       /* level of the last captured 10 ms */
	/* the loudspeaker ring */
	uint32_t ring_rate;       /* of the playback that filled it */
	uint32_t ring_ch;
	uint32_t ring_frames;     /* power of two */
	uint32_t ring_epoch;      /* bumps when it is cleared */
};

/** A process's mapping of one state file. */
struct dspemu_state {
	int fd;
	struct dspemu_shm *shm;
	int64_t *stamp;           /* per ring block: block number + 1 */
	int16_t *ring;
	size_t map_bytes;
	char path[PATH_MAX];
};

/* ---- configuration ------------------------------------------------------ */

void dspemu_cfg_default(struct dspemu_cfg *cfg);
/** Read a device's keys from its pcm or ctl node. @return 0 or EINVAL
 *  (the key is reported through SNDERR). */
int  dspemu_cfg_parse(struct dspemu_cfg *cfg, snd_config_t *conf);
enum dspemu_profile dspemu_cfg_profile(const struct dspemu_cfg *cfg);

/* ---- state file --------------------------------------------------------- */

/**
 * Map the state file at path, creating it when missing. With cfg, the
 * file takes that device's profile and control defaults, and with room
 * also its room values (except those set by hand): the PCM's
 * configuration is the one that counts for the room, so that a key
 * given to the pcm node alone (pcm.NAME.echo_db) takes effect whatever
 * opened first. Without cfg (the fault tool), a new file gets the
 * built-in defaults.
 */
int  dspemu_state_open(struct dspemu_state **stp, const char *path,
		       const struct dspemu_cfg *cfg, bool room);
void dspemu_state_close(struct dspemu_state *st);
/** Tell watchers (control handles poll an inotify watch) that the file
 *  changed: a write(2) of the change counter, which mapped stores do
 *  not produce. */
void dspemu_state_notify(struct dspemu_state *st);
/** Unplug (present false) or replug: a replug resets the controls to
 *  their defaults and ends every handle opened before, as a real
 *  hot-plug does. */
void dspemu_state_plug(struct dspemu_state *st, bool present);
/** Whether a handle opened at plug generation gen still has its card. */
bool dspemu_state_alive(const struct dspemu_state *st, uint32_t gen);
uint32_t dspemu_state_gen(const struct dspemu_state *st);

int32_t dspemu_ctl_get(const struct dspemu_state *st, enum dspemu_ctl_id id);
/** @return 1 when the value changed, 0 when not. */
int  dspemu_ctl_set(struct dspemu_state *st, enum dspemu_ctl_id id,
		    int32_t v);
float dspemu_room_get(const struct dspemu_state *st, enum dspemu_room_id id);

/** The fault tool's keys: every control, room value and counter by
 *  name. set returns EINVAL for an unknown key or a value out of
 *  range, EPERM for a read-only one. */
int  dspemu_state_set_key(struct dspemu_state *st, const char *key,
			  const char *value);
int  dspemu_state_get_key(const struct dspemu_state *st, const char *key,
			  char *buf, size_t sz);
void dspemu_state_print(const struct dspemu_state *st, FILE *f);

/* ---- the loudspeaker ring ----------------------------------------------- */

/** Clear the ring and give it a rate and channel count. */
void dspemu_ring_reset(struct dspemu_state *st, uint32_t rate,
		       uint32_t ch);
/** Store n frames (ring_ch interleaved) played at device frame d. */
void dspemu_ring_write(struct dspemu_state *st, int64_t d,
		       const int16_t *v, size_t n);
/** Read n frames at device frame d; what was never played is 0. */
void dspemu_ring_read(const struct dspemu_state *st, int64_t d,
		      int16_t *v, size_t n);
/** Forget what was queued from frame d on (a stopped playback). */
void dspemu_ring_erase(struct dspemu_state *st, int64_t d, size_t n);

/* ---- small helpers ------------------------------------------------------ */

static inline float dspemu_vol_db(int32_t index)
{
	return (float)(index + DSPEMU_VOL_MIN_DB);
}

#endif
