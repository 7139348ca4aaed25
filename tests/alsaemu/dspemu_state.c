/**
 * @file dspemu_state.c  The emulated card's configuration keys and its
 * shared state file (see dspemu.h).
 *
 * Threads: none of its own. A state file may be mapped by several
 * processes at once; words are read and written with relaxed atomics,
 * and the only lock (flock) is around creating and configuring the
 * file, so that two plugins opening the same card at once do not both
 * initialise it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "dspemu.h"

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* the _n builtins take integers and pointers only */
static float load_f(const float *p)
{
	float v;

	__atomic_load(p, &v, __ATOMIC_ACQUIRE);
	return v;
}

static void store_f(float *p, float v)
{
	__atomic_store(p, &v, __ATOMIC_RELEASE);
}

struct room_key {
	const char *name;
	float min, max, def;
};

/* Defaults: a small meeting room with a speakerphone. The echo comes
 * back 10 dB below what is played, 10 ms late, with a 0.2 s tail; a
 * talker at -26 dBFS over -60 dBFS noise. */
static const struct room_key room_keys[DSPEMU_ROOM_N] = {
	[DSPEMU_NEAR_DB]       = {"near_db",       -200.0f,     0.0f, -26.0f},
	[DSPEMU_NOISE_DB]      = {"noise_db",      -200.0f,     0.0f, -60.0f},
	[DSPEMU_ECHO_DB]       = {"echo_db",       -200.0f,    20.0f, -10.0f},
	[DSPEMU_ECHO_DELAY_MS] = {"echo_delay_ms",    0.0f,   500.0f,  10.0f},
	[DSPEMU_RT60]          = {"rt60",             0.0f,     2.0f,   0.2f},
	[DSPEMU_LATENCY_MS]    = {"latency_ms",       0.0f,   500.0f,  12.0f},
	[DSPEMU_PPM]           = {"ppm",         -10000.0f, 10000.0f,   0.0f},
	[DSPEMU_PINK]          = {"pink",             0.0f,     1.0f,   1.0f},
};

struct ctl_key {
	const char *name;
	int32_t min, max, def;
};

static const struct ctl_key ctl_keys[DSPEMU_CTL_N] = {
	[DSPEMU_AEC]        = {"aec", 0, 1, 0},
	[DSPEMU_NS]         = {"ns", 0, 1, 0},
	[DSPEMU_AGC]        = {"agc", 0, 1, 0},
	[DSPEMU_AGC_TARGET] = {"agc_target", DSPEMU_TARGET_MIN,
			       DSPEMU_TARGET_MAX, 20},
	[DSPEMU_CAP_VOL]    = {"capture_volume", 0, DSPEMU_VOL_MAX,
			       DSPEMU_VOL_0DB},
	[DSPEMU_PLAY_VOL]   = {"playback_volume", 0, DSPEMU_VOL_MAX,
			       DSPEMU_VOL_0DB},
};

static const char *const profile_names[] = {
	"dsp", "plain", "hidden", "uac",
};

/* ---- configuration ------------------------------------------------------ */

void dspemu_cfg_default(struct dspemu_cfg *cfg)
{
	unsigned i;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->state, sizeof(cfg->state), "/tmp/dspemu.state");
	cfg->dsp = true;
	for (i = 0; i < DSPEMU_ROOM_N; i++)
		cfg->room[i] = room_keys[i].def;
	cfg->aec_tail_ms = 250.0f;
	for (i = 0; i < DSPEMU_CTL_N; i++)
		cfg->ctl_default[i] = ctl_keys[i].def;
	snprintf(cfg->card_id, sizeof(cfg->card_id), "DSPEmu");
	snprintf(cfg->driver, sizeof(cfg->driver), "dspemu");
	snprintf(cfg->card_name, sizeof(cfg->card_name), "DSP Emulator");
	snprintf(cfg->longname, sizeof(cfg->longname),
		 "lowbridge emulated DSP sound card");
	snprintf(cfg->mixername, sizeof(cfg->mixername), "DSPEmu Mixer");
}

static int cfg_str(snd_config_t *n, const char *id, char *dst, size_t sz)
{
	const char *s;

	if (snd_config_get_string(n, &s) < 0 || strlen(s) >= sz) {
		SNDERR("dspemu: %s: a string of under %zu bytes expected",
		       id, sz);
		return EINVAL;
	}
	snprintf(dst, sz, "%s", s);
	return 0;
}

static int cfg_bool(snd_config_t *n, const char *id, bool *dst)
{
	int v = snd_config_get_bool(n);

	if (v < 0) {
		SNDERR("dspemu: %s: a boolean expected", id);
		return EINVAL;
	}
	*dst = v != 0;
	return 0;
}

static int cfg_num(snd_config_t *n, const char *id, double min, double max,
		   double *dst)
{
	double v;
	const char *s;
	char *end;

	/* numbers may come quoted from a shell-generated file */
	if (snd_config_get_ireal(n, &v) < 0) {
		if (snd_config_get_string(n, &s) < 0)
			goto bad;
		v = strtod(s, &end);
		if (end == s || *end)
			goto bad;
	}
	if (!(v >= min && v <= max))
		goto bad;
	*dst = v;
	return 0;
 bad:
	SNDERR("dspemu: %s: a number in [%g, %g] expected", id, min, max);
	return EINVAL;
}

int dspemu_cfg_parse(struct dspemu_cfg *cfg, snd_config_t *conf)
{
	snd_config_iterator_t i, next;
	char word[16];
	double v;
	bool b;
	unsigned k;
	int err = 0;

	snd_config_for_each(i, next, conf) {
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;

		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") ||
		    !strcmp(id, "hint"))
			continue;
		for (k = 0; k < DSPEMU_ROOM_N; k++) {
			if (strcmp(id, room_keys[k].name))
				continue;
			err = cfg_num(n, id, room_keys[k].min,
				      room_keys[k].max, &v);
			if (!err)
				cfg->room[k] = (float)v;
			break;
		}
		if (k < DSPEMU_ROOM_N)
			goto next;
		for (k = 0; k < DSPEMU_AGC_TARGET; k++) {
			if (strcmp(id, ctl_keys[k].name))
				continue;
			err = cfg_bool(n, id, &b);
			if (!err)
				cfg->ctl_default[k] = b;
			break;
		}
		if (k < DSPEMU_AGC_TARGET)
			goto next;
		if (!strcmp(id, "agc_target")) {
			err = cfg_num(n, id, DSPEMU_TARGET_MIN,
				      DSPEMU_TARGET_MAX, &v);
			cfg->ctl_default[DSPEMU_AGC_TARGET] = (int32_t)v;
		}
		else if (!strcmp(id, "state"))
			err = cfg_str(n, id, cfg->state, sizeof(cfg->state));
		else if (!strcmp(id, "near"))
			err = cfg_str(n, id, cfg->near, sizeof(cfg->near));
		else if (!strcmp(id, "dsp"))
			err = cfg_bool(n, id, &cfg->dsp);
		else if (!strcmp(id, "hidden"))
			err = cfg_bool(n, id, &cfg->hidden);
		else if (!strcmp(id, "realtime"))
			err = cfg_bool(n, id, &cfg->realtime);
		else if (!strcmp(id, "names")) {
			err = cfg_str(n, id, word, sizeof(word));
			if (!err && !strcmp(word, "uac"))
				cfg->uac_names = true;
			else if (!err && !strcmp(word, "dsp"))
				cfg->uac_names = false;
			else if (!err) {
				SNDERR("dspemu: names: dsp or uac expected");
				err = EINVAL;
			}
		}
		else if (!strcmp(id, "noise")) {
			err = cfg_str(n, id, word, sizeof(word));
			if (!err && !strcmp(word, "pink"))
				cfg->room[DSPEMU_PINK] = 1.0f;
			else if (!err && !strcmp(word, "white"))
				cfg->room[DSPEMU_PINK] = 0.0f;
			else if (!err) {
				SNDERR("dspemu: noise: pink or white "
				       "expected");
				err = EINVAL;
			}
		}
		else if (!strcmp(id, "pool")) {
			err = cfg_num(n, id, 0, DSPEMU_POOL_MAX, &v);
			cfg->pool = (uint32_t)v;
		}
		else if (!strcmp(id, "aec_tail_ms")) {
			err = cfg_num(n, id, 20, 1000, &v);
			cfg->aec_tail_ms = (float)v;
		}
		else if (!strcmp(id, "card_id"))
			err = cfg_str(n, id, cfg->card_id,
				      sizeof(cfg->card_id));
		else if (!strcmp(id, "driver"))
			err = cfg_str(n, id, cfg->driver, sizeof(cfg->driver));
		else if (!strcmp(id, "card_name"))
			err = cfg_str(n, id, cfg->card_name,
				      sizeof(cfg->card_name));
		else if (!strcmp(id, "longname"))
			err = cfg_str(n, id, cfg->longname,
				      sizeof(cfg->longname));
		else if (!strcmp(id, "mixername"))
			err = cfg_str(n, id, cfg->mixername,
				      sizeof(cfg->mixername));
		else {
			SNDERR("dspemu: unknown key %s", id);
			err = EINVAL;
		}
	next:
		if (err)
			return err;
	}
	return 0;
}

enum dspemu_profile dspemu_cfg_profile(const struct dspemu_cfg *cfg)
{
	if (cfg->hidden)
		return DSPEMU_PROFILE_HIDDEN;
	if (cfg->uac_names)
		return DSPEMU_PROFILE_UAC;
	if (cfg->dsp || cfg->pool)
		return DSPEMU_PROFILE_DSP;
	return DSPEMU_PROFILE_PLAIN;
}

/* ---- state file --------------------------------------------------------- */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t map_bytes(void)
{
	return DSPEMU_HDR_BYTES +
		DSPEMU_RING_SAMPLES / DSPEMU_RING_BLOCK * sizeof(int64_t) +
		DSPEMU_RING_SAMPLES * sizeof(int16_t);
}

static uint32_t ring_frames_for(uint32_t ch)
{
	uint32_t f = DSPEMU_RING_SAMPLES;

	while (f * ch > DSPEMU_RING_SAMPLES)
		f /= 2;
	return f;
}

static void state_init(struct dspemu_state *st)
{
	struct dspemu_shm *s = st->shm;
	unsigned i;

	memset(s, 0, DSPEMU_HDR_BYTES);
	memset(st->stamp, 0, DSPEMU_RING_SAMPLES / DSPEMU_RING_BLOCK *
	       sizeof(int64_t));
	s->version = DSPEMU_VERSION;
	s->size_bytes = st->map_bytes;
	s->present = 1;
	s->plug_gen = 1;
	for (i = 0; i < DSPEMU_CTL_N; i++) {
		s->ctl_default[i] = ctl_keys[i].def;
		s->ctl[i] = ctl_keys[i].def;
	}
	for (i = 0; i < DSPEMU_ROOM_N; i++)
		s->room[i] = room_keys[i].def;
	s->epoch_ns = mono_ns();
	s->capture_dbfs = -200.0f;
	s->ring_ch = 1;
	s->ring_frames = ring_frames_for(1);
	STORE(&s->magic, DSPEMU_MAGIC);
}

static void state_configure(struct dspemu_state *st,
			    const struct dspemu_cfg *cfg, bool fresh,
			    bool room)
{
	struct dspemu_shm *s = st->shm;
	unsigned i;

	s->profile = dspemu_cfg_profile(cfg);
	s->pool = cfg->pool;
	for (i = 0; i < DSPEMU_CTL_N; i++) {
		s->ctl_default[i] = cfg->ctl_default[i];
		if (fresh)
			s->ctl[i] = cfg->ctl_default[i];
	}
	for (i = 0; i < DSPEMU_ROOM_N && (room || fresh); i++) {
		if (!(s->room_set & (1u << i)))
			store_f(&s->room[i], cfg->room[i]);
	}
}

int dspemu_state_open(struct dspemu_state **stp, const char *path,
		      const struct dspemu_cfg *cfg, bool room)
{
	struct dspemu_state *st;
	struct stat sb;
	uint8_t *base;
	bool fresh = false;
	int err = 0;

	if (!stp || !path || !*path)
		return EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return ENOMEM;
	st->fd = -1;
	st->map_bytes = map_bytes();
	snprintf(st->path, sizeof(st->path), "%s", path);
	st->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (st->fd < 0) {
		err = errno;
		goto out;
	}
	if (flock(st->fd, LOCK_EX) < 0 || fstat(st->fd, &sb) < 0) {
		err = errno;
		goto out;
	}
	if ((size_t)sb.st_size != st->map_bytes) {
		/* new, or of another layout: start afresh (sparse) */
		if (ftruncate(st->fd, 0) < 0 ||
		    ftruncate(st->fd, (off_t)st->map_bytes) < 0) {
			err = errno;
			goto out;
		}
	}
	base = mmap(NULL, st->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		    st->fd, 0);
	if (base == MAP_FAILED) {
		err = errno;
		goto out;
	}
	st->shm = (struct dspemu_shm *)base;
	st->stamp = (int64_t *)(base + DSPEMU_HDR_BYTES);
	st->ring = (int16_t *)(base + DSPEMU_HDR_BYTES +
			       DSPEMU_RING_SAMPLES / DSPEMU_RING_BLOCK *
			       sizeof(int64_t));
	if (LOAD(&st->shm->magic) != DSPEMU_MAGIC ||
	    st->shm->version != DSPEMU_VERSION ||
	    st->shm->size_bytes != st->map_bytes) {
		state_init(st);
		fresh = true;
	}
	if (cfg)
		state_configure(st, cfg, fresh, room);
	/* monotonic time restarts with the machine */
	if (st->shm->epoch_ns > mono_ns())
		st->shm->epoch_ns = mono_ns();
 out:
	if (st->fd >= 0)
		flock(st->fd, LOCK_UN);
	if (err)
		dspemu_state_close(st);
	else
		*stp = st;
	return err;
}

void dspemu_state_close(struct dspemu_state *st)
{
	if (!st)
		return;
	if (st->shm)
		munmap(st->shm, st->map_bytes);
	if (st->fd >= 0)
		close(st->fd);
	free(st);
}

void dspemu_state_notify(struct dspemu_state *st)
{
	uint32_t gen = LOAD(&st->shm->ctl_gen);
	ssize_t n;

	n = pwrite(st->fd, &gen, sizeof(gen),
		   (off_t)offsetof(struct dspemu_shm, ctl_gen));
	(void)n;  /* only a wake-up: the mapped store is what counts */
}

void dspemu_state_plug(struct dspemu_state *st, bool present)
{
	struct dspemu_shm *s = st->shm;
	unsigned i;

	if (!present) {
		STORE(&s->present, 0u);
	}
	else if (!LOAD(&s->present)) {
		/* a replugged card comes back with its power-on values */
		for (i = 0; i < DSPEMU_CTL_N; i++)
			STORE(&s->ctl[i], s->ctl_default[i]);
		STORE(&s->plug_gen, LOAD(&s->plug_gen) + 1);
		STORE(&s->present, 1u);
	}
	STORE(&s->ctl_gen, LOAD(&s->ctl_gen) + 1);
	dspemu_state_notify(st);
}

bool dspemu_state_alive(const struct dspemu_state *st, uint32_t gen)
{
	return LOAD(&st->shm->present) && LOAD(&st->shm->plug_gen) == gen;
}

uint32_t dspemu_state_gen(const struct dspemu_state *st)
{
	return LOAD(&st->shm->plug_gen);
}

int32_t dspemu_ctl_get(const struct dspemu_state *st, enum dspemu_ctl_id id)
{
	return LOAD(&st->shm->ctl[id]);
}

int dspemu_ctl_set(struct dspemu_state *st, enum dspemu_ctl_id id,
		   int32_t v)
{
	if (LOAD(&st->shm->ctl[id]) == v)
		return 0;
	STORE(&st->shm->ctl[id], v);
	STORE(&st->shm->ctl_gen, LOAD(&st->shm->ctl_gen) + 1);
	dspemu_state_notify(st);
	return 1;
}

float dspemu_room_get(const struct dspemu_state *st, enum dspemu_room_id id)
{
	return load_f(&st->shm->room[id]);
}

/* ---- keys of the fault tool --------------------------------------------- */

int dspemu_state_set_key(struct dspemu_state *st, const char *key,
			 const char *value)
{
	struct dspemu_shm *s = st->shm;
	char *end;
	double v;
	unsigned i;

	if (!key || !value)
		return EINVAL;
	v = strtod(value, &end);
	if (end == value || *end) {
		if (!strcasecmp(value, "on") || !strcasecmp(value, "true"))
			v = 1;
		else if (!strcasecmp(value, "off") ||
			 !strcasecmp(value, "false"))
			v = 0;
		else
			return EINVAL;
	}
	for (i = 0; i < DSPEMU_CTL_N; i++) {
		if (strcmp(key, ctl_keys[i].name))
			continue;
		if (v != floor(v) || v < ctl_keys[i].min ||
		    v > ctl_keys[i].max)
			return EINVAL;
		dspemu_ctl_set(st, i, (int32_t)v);
		return 0;
	}
	for (i = 0; i < DSPEMU_ROOM_N; i++) {
		if (strcmp(key, room_keys[i].name))
			continue;
		if (!(v >= room_keys[i].min && v <= room_keys[i].max))
			return EINVAL;
		STORE(&s->room_set, LOAD(&s->room_set) | (1u << i));
		store_f(&s->room[i], (float)v);
		return 0;
	}
	if (!strcmp(key, "present")) {
		dspemu_state_plug(st, v != 0);
		return 0;
	}
	return EPERM;
}

/* everything show prints: name and how to format it */
static int key_value(const struct dspemu_state *st, unsigned idx,
		     const char **name, char *buf, size_t sz)
{
	const struct dspemu_shm *s = st->shm;

	if (idx < DSPEMU_CTL_N) {
		*name = ctl_keys[idx].name;
		snprintf(buf, sz, "%d", (int)LOAD(&s->ctl[idx]));
		return 0;
	}
	idx -= DSPEMU_CTL_N;
	if (idx < DSPEMU_ROOM_N) {
		*name = room_keys[idx].name;
		snprintf(buf, sz, "%g", (double)load_f(&s->room[idx]));
		return 0;
	}
	idx -= DSPEMU_ROOM_N;
	switch (idx) {
	case 0:
		*name = "present";
		snprintf(buf, sz, "%u", LOAD(&s->present));
		return 0;
	case 1:
		*name = "plug_gen";
		snprintf(buf, sz, "%u", LOAD(&s->plug_gen));
		return 0;
	case 2:
		*name = "profile";
		snprintf(buf, sz, "%s", s->profile < 4 ?
			 profile_names[s->profile] : "?");
		return 0;
	case 3:
		*name = "pool";
		snprintf(buf, sz, "%u", s->pool);
		return 0;
	case 4:
		*name = "frames_played";
		snprintf(buf, sz, "%llu",
			 (unsigned long long)LOAD(&s->frames_played));
		return 0;
	case 5:
		*name = "frames_captured";
		snprintf(buf, sz, "%llu",
			 (unsigned long long)LOAD(&s->frames_captured));
		return 0;
	case 6:
		*name = "xruns_play";
		snprintf(buf, sz, "%u", LOAD(&s->xruns_play));
		return 0;
	case 7:
		*name = "xruns_capture";
		snprintf(buf, sz, "%u", LOAD(&s->xruns_capture));
		return 0;
	case 8:
		*name = "capture_dbfs";
		snprintf(buf, sz, "%.2f", (double)load_f(&s->capture_dbfs));
		return 0;
	case 9:
		*name = "opens";
		snprintf(buf, sz, "%u", LOAD(&s->opens));
		return 0;
	case 10:
		*name = "ring_rate";
		snprintf(buf, sz, "%u", LOAD(&s->ring_rate));
		return 0;
	case 11:
		*name = "ctl_gen";
		snprintf(buf, sz, "%u", LOAD(&s->ctl_gen));
		return 0;
	default:
		return ENOENT;
	}
}

int dspemu_state_get_key(const struct dspemu_state *st, const char *key,
			 char *buf, size_t sz)
{
	const char *name;
	unsigned i;

	for (i = 0; !key_value(st, i, &name, buf, sz); i++) {
		if (!strcmp(name, key))
			return 0;
	}
	return ENOENT;
}

void dspemu_state_print(const struct dspemu_state *st, FILE *f)
{
	const char *name;
	char buf[64];
	unsigned i;

	for (i = 0; !key_value(st, i, &name, buf, sizeof(buf)); i++)
		fprintf(f, "%s=%s\n", name, buf);
}

/* ---- the loudspeaker ring ----------------------------------------------- */

void dspemu_ring_reset(struct dspemu_state *st, uint32_t rate, uint32_t ch)
{
	struct dspemu_shm *s = st->shm;

	if (!ch || ch > DSPEMU_CH_MAX)
		ch = 1;
	STORE(&s->ring_rate, 0u);
	memset(st->stamp, 0, DSPEMU_RING_SAMPLES / DSPEMU_RING_BLOCK *
	       sizeof(int64_t));
	s->ring_ch = ch;
	s->ring_frames = ring_frames_for(ch);
	s->ring_epoch++;
	STORE(&s->ring_rate, rate);
}

void dspemu_ring_write(struct dspemu_state *st, int64_t d,
		       const int16_t *v, size_t n)
{
	const struct dspemu_shm *s = st->shm;
	const uint32_t ch = s->ring_ch;
	const uint64_t mask = s->ring_frames - 1;
	const uint64_t nblk = s->ring_frames / DSPEMU_RING_BLOCK;

	while (n) {
		int64_t blk, slot;
		size_t in, k;

		if (d < 0) {
			d++;
			v += ch;
			n--;
			continue;
		}
		blk = d / DSPEMU_RING_BLOCK;
		slot = (int64_t)((uint64_t)blk % nblk);
		in = DSPEMU_RING_BLOCK - (size_t)(d % DSPEMU_RING_BLOCK);
		if (in > n)
			in = n;
		if (LOAD(&st->stamp[slot]) != blk + 1) {
			/* first write of this lap: the rest is silence */
			memset(st->ring + (uint64_t)slot * DSPEMU_RING_BLOCK *
			       ch, 0, DSPEMU_RING_BLOCK * ch *
			       sizeof(int16_t));
			STORE(&st->stamp[slot], blk + 1);
		}
		for (k = 0; k < in; k++) {
			memcpy(st->ring + (((uint64_t)d + k) & mask) * ch,
			       v + k * ch, ch * sizeof(int16_t));
		}
		d += (int64_t)in;
		v += in * ch;
		n -= in;
	}
}

void dspemu_ring_read(const struct dspemu_state *st, int64_t d,
		      int16_t *v, size_t n)
{
	const struct dspemu_shm *s = st->shm;
	const uint32_t ch = s->ring_ch;
	const uint64_t mask = s->ring_frames - 1;
	const uint64_t nblk = s->ring_frames / DSPEMU_RING_BLOCK;

	while (n) {
		int64_t blk, slot;
		size_t in, k;

		if (d < 0) {
			memset(v, 0, ch * sizeof(int16_t));
			d++;
			v += ch;
			n--;
			continue;
		}
		blk = d / DSPEMU_RING_BLOCK;
		slot = (int64_t)((uint64_t)blk % nblk);
		in = DSPEMU_RING_BLOCK - (size_t)(d % DSPEMU_RING_BLOCK);
		if (in > n)
			in = n;
		if (LOAD(&st->stamp[slot]) != blk + 1) {
			memset(v, 0, in * ch * sizeof(int16_t));
		}
		else {
			for (k = 0; k < in; k++) {
				memcpy(v + k * ch, st->ring +
				       (((uint64_t)d + k) & mask) * ch,
				       ch * sizeof(int16_t));
			}
		}
		d += (int64_t)in;
		v += in * ch;
		n -= in;
	}
}

void dspemu_ring_erase(struct dspemu_state *st, int64_t d, size_t n)
{
	const struct dspemu_shm *s = st->shm;
	const uint32_t ch = s->ring_ch;
	const uint64_t mask = s->ring_frames - 1;

	if (n > s->ring_frames)
		n = s->ring_frames;
	for (; n; n--, d++) {
		if (d < 0)
			continue;
		memset(st->ring + ((uint64_t)d & mask) * ch, 0,
		       ch * sizeof(int16_t));
	}
}
