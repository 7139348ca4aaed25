/**
 * @file ctl_dspemu.c  ALSA control plugin (snd_ctl_ext) of the emulated
 * DSP card: libasound_module_ctl_dspemu.so.
 *
 * The controls a device shows follow its profile (dspemu.h):
 *   dsp     "Echo Cancel Switch", "Noise Suppression Switch",
 *           "AGC Switch" (BOOLEAN), "AGC Target Level" (INTEGER, N
 *           means -N dBFS), "Capture Volume", "Playback Volume"
 *   plain   the two volumes
 *   hidden  the two volumes (its AEC and NS are always on, unseen)
 *   uac     "Mic Capture Auto Gain Control" (BOOLEAN) only
 * Volumes are 0..60 with a dB scale TLV, -40 dB to +20 dB in 1 dB steps
 * (snd_ctl_ext allows one TLV for the whole card, which fits: only the
 * volumes have one). Values live in the shared state file, so the PCM
 * plugin and other processes see them at once.
 *
 * Events: the poll descriptor is an inotify watch on the state file,
 * which every control change and plug event touches with a write(2)
 * (dspemu_state_notify); read_event reports each control whose value
 * differs from what this handle last reported. Nothing pending: the
 * descriptor is drained, so an event loop sleeps.
 *
 * Unplugged (dspemu-fault unplug): open fails with -ENODEV, reads and
 * writes of an open handle return -ENODEV, poll reports POLLERR|POLLHUP.
 * A replug does not revive old handles (as with a real card); a new
 * open sees the controls at their power-on values.
 *
 * Threads: none of its own; the application's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

#include <alsa/asoundlib.h>
#include <alsa/control_external.h>

#include "dspemu.h"

struct elem {
	enum dspemu_ctl_id id;
	const char *name;
	int type;
	long min, max;
	bool tlv;
};

static const struct elem elems_dsp[] = {
	{DSPEMU_AEC, "Echo Cancel Switch", SND_CTL_ELEM_TYPE_BOOLEAN,
	 0, 1, false},
	{DSPEMU_NS, "Noise Suppression Switch", SND_CTL_ELEM_TYPE_BOOLEAN,
	 0, 1, false},
	{DSPEMU_AGC, "AGC Switch", SND_CTL_ELEM_TYPE_BOOLEAN, 0, 1, false},
	{DSPEMU_AGC_TARGET, "AGC Target Level", SND_CTL_ELEM_TYPE_INTEGER,
	 DSPEMU_TARGET_MIN, DSPEMU_TARGET_MAX, false},
	{DSPEMU_CAP_VOL, "Capture Volume", SND_CTL_ELEM_TYPE_INTEGER,
	 0, DSPEMU_VOL_MAX, true},
	{DSPEMU_PLAY_VOL, "Playback Volume", SND_CTL_ELEM_TYPE_INTEGER,
	 0, DSPEMU_VOL_MAX, true},
};

static const struct elem elems_plain[] = {
	{DSPEMU_CAP_VOL, "Capture Volume", SND_CTL_ELEM_TYPE_INTEGER,
	 0, DSPEMU_VOL_MAX, true},
	{DSPEMU_PLAY_VOL, "Playback Volume", SND_CTL_ELEM_TYPE_INTEGER,
	 0, DSPEMU_VOL_MAX, true},
};

static const struct elem elems_uac[] = {
	{DSPEMU_AGC, "Mic Capture Auto Gain Control",
	 SND_CTL_ELEM_TYPE_BOOLEAN, 0, 1, false},
};

/* one dB scale for the volumes: min -40.00 dB, 1.00 dB steps, no mute */
static const unsigned int vol_tlv[] = {
	SND_CTL_TLVT_DB_SCALE, 2 * sizeof(unsigned int),
	(unsigned int)(DSPEMU_VOL_MIN_DB * 100), 100,
};

struct dspemu_ctl {
	snd_ctl_ext_t ext;
	struct dspemu_cfg cfg;
	struct dspemu_state *st;
	uint32_t gen;
	bool dead;
	const struct elem *elems;
	unsigned nelems;
	int32_t seen[DSPEMU_CTL_N];    /* last value reported per control */
	int poll_fd;
	bool inotify;
};

static void become_dead(struct dspemu_ctl *c)
{
	int fds[2];

	c->dead = true;
	/* poll() on the same descriptor number now returns POLLHUP */
	if (c->poll_fd < 0 || pipe2(fds, O_CLOEXEC) < 0)
		return;
	close(fds[1]);
	dup2(fds[0], c->poll_fd);
	close(fds[0]);
	c->inotify = false;
}

static bool alive(struct dspemu_ctl *c)
{
	if (c->dead)
		return false;
	if (!dspemu_state_alive(c->st, c->gen)) {
		become_dead(c);
		return false;
	}
	return true;
}

static int cb_elem_count(snd_ctl_ext_t *ext)
{
	struct dspemu_ctl *c = ext->private_data;

	return (int)c->nelems;
}

static int cb_elem_list(snd_ctl_ext_t *ext, unsigned int offset,
			snd_ctl_elem_id_t *id)
{
	struct dspemu_ctl *c = ext->private_data;

	if (offset >= c->nelems)
		return -EINVAL;
	snd_ctl_elem_id_set_interface(id, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_id_set_name(id, c->elems[offset].name);
	return 0;
}

static snd_ctl_ext_key_t cb_find_elem(snd_ctl_ext_t *ext,
				      const snd_ctl_elem_id_t *id)
{
	struct dspemu_ctl *c = ext->private_data;
	unsigned int numid = snd_ctl_elem_id_get_numid(id);
	const char *name;
	unsigned k;

	if (numid > 0 && numid <= c->nelems)
		return numid - 1;
	if (snd_ctl_elem_id_get_interface(id) != SND_CTL_ELEM_IFACE_MIXER ||
	    snd_ctl_elem_id_get_index(id) != 0)
		return SND_CTL_EXT_KEY_NOT_FOUND;
	name = snd_ctl_elem_id_get_name(id);
	for (k = 0; k < c->nelems; k++) {
		if (strcmp(name, c->elems[k].name))
			continue;
		/* A kernel card's info fills the whole id, numid too;
		 * snd_ctl_ext leaves it 0, and then a TLV read by name
		 * fails (snd_ctl_tlv_do needs the numid). Every id that
		 * snd_ctl_ext passes here is a caller's writable one. */
		snd_ctl_elem_id_set_numid((snd_ctl_elem_id_t *)(uintptr_t)id,
					  k + 1);
		return k;
	}
	return SND_CTL_EXT_KEY_NOT_FOUND;
}

static int cb_get_attribute(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key,
			    int *type, unsigned int *acc,
			    unsigned int *count)
{
	struct dspemu_ctl *c = ext->private_data;

	if (key >= c->nelems)
		return -EINVAL;
	*type = c->elems[key].type;
	*acc = SND_CTL_EXT_ACCESS_READWRITE;
	if (c->elems[key].tlv)
		*acc |= SND_CTL_EXT_ACCESS_TLV_READ;
	*count = 1;
	return 0;
}

static int cb_get_integer_info(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key,
			       long *imin, long *imax, long *istep)
{
	struct dspemu_ctl *c = ext->private_data;

	if (key >= c->nelems)
		return -EINVAL;
	*imin = c->elems[key].min;
	*imax = c->elems[key].max;
	*istep = 1;
	return 0;
}

static int cb_read_integer(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key,
			   long *value)
{
	struct dspemu_ctl *c = ext->private_data;

	if (key >= c->nelems)
		return -EINVAL;
	if (!alive(c))
		return -ENODEV;
	*value = dspemu_ctl_get(c->st, c->elems[key].id);
	return 0;
}

static int cb_write_integer(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key,
			    long *value)
{
	struct dspemu_ctl *c = ext->private_data;
	const struct elem *e;

	if (key >= c->nelems)
		return -EINVAL;
	if (!alive(c))
		return -ENODEV;
	e = &c->elems[key];
	if (*value < e->min || *value > e->max)
		return -EINVAL;
	return dspemu_ctl_set(c->st, e->id, (int32_t)*value);
}

static void snapshot(struct dspemu_ctl *c)
{
	unsigned k;

	for (k = 0; k < c->nelems; k++)
		c->seen[k] = dspemu_ctl_get(c->st, c->elems[k].id);
}

static void cb_subscribe_events(snd_ctl_ext_t *ext, int subscribe)
{
	struct dspemu_ctl *c = ext->private_data;

	if (subscribe)
		snapshot(c);
}

static void drain(struct dspemu_ctl *c)
{
	char buf[4096];

	if (!c->inotify)
		return;
	while (read(c->poll_fd, buf, sizeof(buf)) > 0)
		;
}

/* the first control whose value this handle has not reported */
static int pending(const struct dspemu_ctl *c)
{
	unsigned k;

	if (!c->ext.subscribed)
		return -1;
	for (k = 0; k < c->nelems; k++) {
		if (c->seen[k] != dspemu_ctl_get(c->st, c->elems[k].id))
			return (int)k;
	}
	return -1;
}

static int cb_read_event(snd_ctl_ext_t *ext, snd_ctl_elem_id_t *id,
			 unsigned int *event_mask)
{
	struct dspemu_ctl *c = ext->private_data;
	int k;

	if (!alive(c))
		return -ENODEV;
	drain(c);
	k = pending(c);
	if (k < 0)
		return -EAGAIN;
	c->seen[k] = dspemu_ctl_get(c->st, c->elems[k].id);
	snd_ctl_elem_id_clear(id);
	cb_elem_list(ext, (unsigned)k, id);
	snd_ctl_elem_id_set_numid(id, (unsigned)k + 1);
	*event_mask = SND_CTL_EVENT_MASK_VALUE;
	return 1;
}

static int cb_poll_revents(snd_ctl_ext_t *ext, struct pollfd *pfd,
			   unsigned int nfds, unsigned short *revents)
{
	struct dspemu_ctl *c = ext->private_data;

	(void)pfd;
	if (nfds != 1)
		return -EINVAL;
	if (!alive(c)) {
		*revents = POLLERR | POLLHUP;
		return 0;
	}
	if (pending(c) >= 0) {
		*revents = POLLIN;
		return 0;
	}
	drain(c);
	*revents = 0;
	return 0;
}

static void cb_close(snd_ctl_ext_t *ext)
{
	struct dspemu_ctl *c = ext->private_data;

	if (c->poll_fd >= 0)
		close(c->poll_fd);
	dspemu_state_close(c->st);
	free(c);
}

static const snd_ctl_ext_callback_t dspemu_ctl_callback = {
	.close = cb_close,
	.elem_count = cb_elem_count,
	.elem_list = cb_elem_list,
	.find_elem = cb_find_elem,
	.get_attribute = cb_get_attribute,
	.get_integer_info = cb_get_integer_info,
	.read_integer = cb_read_integer,
	.write_integer = cb_write_integer,
	.subscribe_events = cb_subscribe_events,
	.read_event = cb_read_event,
	.poll_revents = cb_poll_revents,
};

static void profile_elems(struct dspemu_ctl *c)
{
	switch (dspemu_cfg_profile(&c->cfg)) {
	case DSPEMU_PROFILE_DSP:
		c->elems = elems_dsp;
		c->nelems = sizeof(elems_dsp) / sizeof(elems_dsp[0]);
		break;
	case DSPEMU_PROFILE_UAC:
		c->elems = elems_uac;
		c->nelems = sizeof(elems_uac) / sizeof(elems_uac[0]);
		break;
	case DSPEMU_PROFILE_PLAIN:
	case DSPEMU_PROFILE_HIDDEN:
		c->elems = elems_plain;
		c->nelems = sizeof(elems_plain) / sizeof(elems_plain[0]);
		break;
	}
}

int SND_CTL_PLUGIN_ENTRY(dspemu)(snd_ctl_t **handlep, const char *name,
				 snd_config_t *root, snd_config_t *conf,
				 int mode);

SND_CTL_PLUGIN_DEFINE_FUNC(dspemu)
{
	struct dspemu_ctl *c;
	int err;

	(void)root;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->poll_fd = -1;
	dspemu_cfg_default(&c->cfg);
	err = dspemu_cfg_parse(&c->cfg, conf);
	if (err)
		goto out;
	err = dspemu_state_open(&c->st, c->cfg.state, &c->cfg, false);
	if (err) {
		SNDERR("dspemu: state %s: %s", c->cfg.state, strerror(err));
		goto out;
	}
	c->gen = dspemu_state_gen(c->st);
	if (!dspemu_state_alive(c->st, c->gen)) {
		err = ENODEV;
		goto out;
	}
	profile_elems(c);
	snapshot(c);
	c->poll_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (c->poll_fd >= 0 &&
	    inotify_add_watch(c->poll_fd, c->cfg.state, IN_MODIFY) >= 0) {
		c->inotify = true;
	}
	else {
		/* no inotify: a descriptor that never wakes (no events) */
		if (c->poll_fd >= 0)
			close(c->poll_fd);
		c->poll_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (c->poll_fd < 0) {
			err = errno;
			goto out;
		}
	}
	c->ext.version = SND_CTL_EXT_VERSION;
	c->ext.card_idx = -1;  /* no kernel card behind it */
	snprintf(c->ext.id, sizeof(c->ext.id), "%s", c->cfg.card_id);
	snprintf(c->ext.driver, sizeof(c->ext.driver), "%s", c->cfg.driver);
	snprintf(c->ext.name, sizeof(c->ext.name), "%s", c->cfg.card_name);
	snprintf(c->ext.longname, sizeof(c->ext.longname), "%s",
		 c->cfg.longname);
	snprintf(c->ext.mixername, sizeof(c->ext.mixername), "%s",
		 c->cfg.mixername);
	c->ext.poll_fd = c->poll_fd;
	c->ext.callback = &dspemu_ctl_callback;
	c->ext.private_data = c;
	c->ext.tlv.p = vol_tlv;
	err = -snd_ctl_ext_create(&c->ext, name, mode);
	if (err)
		goto out;
	*handlep = c->ext.handle;
	return 0;
 out:
	if (c->poll_fd >= 0)
		close(c->poll_fd);
	dspemu_state_close(c->st);
	free(c);
	return -err;
}

SND_CTL_PLUGIN_SYMBOL(dspemu);
