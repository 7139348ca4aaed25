/**
 * @file alsa_enum.c  What audio devices there are and what each can do:
 * every PCM alsa-lib knows by name (its hints, which include the
 * plugin devices of an asoundrc) and every card (hw:N), each with its
 * card's identity and controls, matched against the profile table.
 *
 * Plugin devices have no card index: the control interface is opened
 * by the PCM's own name first (an asoundrc that defines pcm.X usually
 * defines ctl.X too), then by the card the name points at (CARD=...,
 * hw:N). Opening can block on a busy device: never call these on a
 * real-time thread.
 *
 * Threads: any but the mixer's and a device thread's loop.
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hw.h"
#include "hwint.h"

static void alsa_silent(const char *file, int line, const char *function,
			int err, const char *fmt, ...)
{
	(void)file;
	(void)line;
	(void)function;
	(void)err;
	(void)fmt;
}

void hw_quiet_alsa(void)
{
	/* a host with no sound card makes alsa-lib print a page of
	 * "cannot find card" for every default device it tries */
	(void)snd_lib_error_set_handler(alsa_silent);
}

static void read_usb_id(struct hw_devinfo *d, int card)
{
	char path[64];
	FILE *f;

	if (card < 0)
		return;
	snprintf(path, sizeof(path), "/proc/asound/card%d/usbid", card);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fscanf(f, "%15s", d->usb_id) != 1)
		d->usb_id[0] = '\0';
	fclose(f);
}

/* The control interface for a PCM name; "" when there is none. */
static int open_ctl(snd_ctl_t **ctlp, struct hw_devinfo *d)
{
	const char *card;
	char buf[HW_NAME_MAX];
	int n;

	if (!snd_ctl_open(ctlp, d->name, 0)) {
		snprintf(d->ctl_name, sizeof(d->ctl_name), "%s", d->name);
		return 0;
	}
	card = strstr(d->name, "CARD=");
	if (card) {
		size_t l = strcspn(card + 5, ",");

		snprintf(buf, sizeof(buf), "hw:CARD=%.*s", (int)l, card + 5);
	}
	else if (sscanf(d->name, "%*[a-z]:%d", &n) == 1 ||
		 sscanf(d->name, "hw:%d", &n) == 1) {
		snprintf(buf, sizeof(buf), "hw:%d", n);
	}
	else {
		return ENOENT;
	}
	if (snd_ctl_open(ctlp, buf, 0))
		return ENOENT;
	snprintf(d->ctl_name, sizeof(d->ctl_name), "%s", buf);
	return 0;
}

static int read_controls(snd_ctl_t *ctl, struct hw_devinfo *d)
{
	snd_ctl_elem_list_t *list;
	unsigned i, n;
	int err;

	err = snd_ctl_elem_list_malloc(&list);
	if (err)
		return -err;
	err = snd_ctl_elem_list(ctl, list);
	if (err < 0)
		goto out;
	n = snd_ctl_elem_list_get_count(list);
	err = snd_ctl_elem_list_alloc_space(list, n);
	if (err < 0)
		goto out;
	err = snd_ctl_elem_list(ctl, list);
	if (err < 0)
		goto out;
	n = snd_ctl_elem_list_get_used(list);
	d->ctlv = calloc(n ? n : 1, sizeof(*d->ctlv));
	if (!d->ctlv) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *name = snd_ctl_elem_list_get_name(list, i);

		d->ctlv[d->ctlc] = strdup(name ? name : "");
		if (d->ctlv[d->ctlc])
			++d->ctlc;
	}
	err = 0;
 out:
	snd_ctl_elem_list_free_space(list);
	snd_ctl_elem_list_free(list);
	return -err;
}

static void probe_dirs(struct hw_devinfo *d)
{
	snd_pcm_t *pcm;

	/* non-blocking: a device in use must not stall discovery */
	if (!snd_pcm_open(&pcm, d->name, SND_PCM_STREAM_PLAYBACK,
			  SND_PCM_NONBLOCK)) {
		d->playback = true;
		snd_pcm_close(pcm);
	}
	if (!snd_pcm_open(&pcm, d->name, SND_PCM_STREAM_CAPTURE,
			  SND_PCM_NONBLOCK)) {
		d->capture = true;
		if (d->pool) {
			snd_pcm_hw_params_t *hp;
			unsigned ch = 0;

			snd_pcm_hw_params_alloca(&hp);
			/* _any() may return a positive "refined" */
			if (snd_pcm_hw_params_any(pcm, hp) >= 0 &&
			    !snd_pcm_hw_params_get_channels_max(hp, &ch))
				d->pool = ch;
		}
		snd_pcm_close(pcm);
	}
}

int hw_probe(struct hw_devinfo *d, const char *name,
	     const struct hw_profiles *p)
{
	snd_ctl_t *ctl = NULL;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	if (!open_ctl(&ctl, d)) {
		snd_ctl_card_info_t *ci;

		snd_ctl_card_info_alloca(&ci);
		if (!snd_ctl_card_info(ctl, ci)) {
			snprintf(d->card_id, sizeof(d->card_id), "%s",
				 snd_ctl_card_info_get_id(ci));
			snprintf(d->driver, sizeof(d->driver), "%s",
				 snd_ctl_card_info_get_driver(ci));
			snprintf(d->card_name, sizeof(d->card_name), "%s",
				 snd_ctl_card_info_get_name(ci));
			read_usb_id(d, snd_ctl_card_info_get_card(ci));
		}
		(void)read_controls(ctl, d);
		snd_ctl_close(ctl);
	}
	hw_profiles_apply(p, d);
	probe_dirs(d);
	return 0;
}

void hw_devinfo_free_fields(struct hw_devinfo *d)
{
	size_t k;

	for (k = 0; k < d->ctlc; k++)
		free(d->ctlv[k]);
	free(d->ctlv);
	d->ctlv = NULL;
	d->ctlc = 0;
}

void hw_devinfo_free(struct hw_devinfo *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		hw_devinfo_free_fields(&v[i]);
	free(v);
}

static int add(struct hw_devinfo **vp, size_t *np, size_t *cap,
	       const char *name, const char *desc,
	       const struct hw_profiles *p)
{
	struct hw_devinfo *d;
	size_t i;

	for (i = 0; i < *np; i++) {
		if (!strcmp((*vp)[i].name, name))
			return 0;
	}
	if (*np == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct hw_devinfo *nv = realloc(*vp, nc * sizeof(*nv));

		if (!nv)
			return ENOMEM;
		*vp = nv;
		*cap = nc;
	}
	d = &(*vp)[*np];
	hw_probe(d, name, p);
	if (desc) {
		/* hints put the description on two lines */
		size_t k;

		snprintf(d->desc, sizeof(d->desc), "%s", desc);
		for (k = 0; d->desc[k]; k++) {
			if (d->desc[k] == '\n')
				d->desc[k] = ' ';
		}
	}
	/* the PCM rules also look at the description */
	if (desc)
		hw_profiles_apply(p, d);
	++*np;
	return 0;
}

static bool wanted(const char *name)
{
	/* the null and default-routing plugins are not devices */
	return strcmp(name, "null") && strcmp(name, "default") &&
		strncmp(name, "surround", 8) && strncmp(name, "iec958", 6) &&
		strncmp(name, "front:", 6) && strcmp(name, "sysdefault") &&
		strcmp(name, "pulse") && strcmp(name, "jack") &&
		strcmp(name, "oss") && strcmp(name, "speex") &&
		strcmp(name, "upmix") && strcmp(name, "vdownmix") &&
		strcmp(name, "lavrate") && strcmp(name, "samplerate") &&
		strncmp(name, "speexrate", 9) && strcmp(name, "pipewire") &&
		strcmp(name, "a52") && strcmp(name, "usbstream");
}

int hw_discover(struct hw_devinfo **vp, size_t *np,
		const struct hw_profiles *p)
{
	void **hints = NULL, **h;
	size_t cap = 0;
	int card = -1, err = 0;

	*vp = NULL;
	*np = 0;
	if (!snd_device_name_hint(-1, "pcm", &hints)) {
		for (h = hints; *h && !err; h++) {
			char *name = snd_device_name_get_hint(*h, "NAME");
			char *desc = snd_device_name_get_hint(*h, "DESC");

			if (name && wanted(name))
				err = add(vp, np, &cap, name, desc, p);
			free(name);
			free(desc);
		}
		snd_device_name_free_hint(hints);
	}
	while (!err && !snd_card_next(&card) && card >= 0) {
		char name[16];

		snprintf(name, sizeof(name), "hw:%d", card);
		err = add(vp, np, &cap, name, NULL, p);
	}
	if (err) {
		hw_devinfo_free(*vp, *np);
		*vp = NULL;
		*np = 0;
	}
	return err;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *cap_name(enum hw_cap c)
{
	return c == HW_CAP_SWITCH ? "switch" : c == HW_CAP_ALWAYS ?
		"always" : "none";
}

int hw_print_devices(FILE *f, const struct hw_devinfo *v, size_t n,
		     bool json)
{
	enum hw_feature ft;
	size_t i, k;

	if (json)
		fputs("{\"devices\":[", f);
	else if (!n)
		fputs("no audio devices\n", f);
	for (i = 0; i < n; i++) {
		const struct hw_devinfo *d = &v[i];
		enum hw_where w[HW_FEATURES];

		hw_decide(d, NULL, w);
		if (!json) {
			fprintf(f, "%s%s%s%s\n", d->name,
				d->desc[0] ? "  (" : "", d->desc,
				d->desc[0] ? ")" : "");
			if (d->card_name[0])
				fprintf(f, "    card: %s, id %s, driver %s%s%s"
					"\n", d->card_name, d->card_id,
					d->driver, d->usb_id[0] ?
					", usb " : "", d->usb_id);
			fprintf(f, "    %s%s%s\n", d->playback ?
				"playback" : "",
				d->playback && d->capture ? ", " : "",
				d->capture ? "capture" :
				d->playback ? "" : "cannot open now");
			for (ft = 0; ft < HW_FEATURES; ft++) {
				const struct hw_feat *x = &d->feat[ft];

				fprintf(f, "    %-3s %-8s -> %s",
					hw_feature_name(ft),
					cap_name(x->cap),
					hw_where_name(w[ft]));
				if (x->cap == HW_CAP_SWITCH)
					fprintf(f, " (control '%s')", x->ctl);
				if (x->cap != HW_CAP_NONE)
					fprintf(f, " [%s]", x->why);
				fputc('\n', f);
			}
			if (d->pool)
				fprintf(f, "    conference DSP unit: %u "
					"channels for remote sites\n",
					d->pool);
			if (d->ctlc)
				fprintf(f, "    %zu controls\n", d->ctlc);
			continue;
		}
		fprintf(f, "%s{\"name\":", i ? "," : "");
		json_str(f, d->name);
		fputs(",\"desc\":", f);
		json_str(f, d->desc);
		fputs(",\"ctl\":", f);
		json_str(f, d->ctl_name);
		fputs(",\"card\":{\"id\":", f);
		json_str(f, d->card_id);
		fputs(",\"driver\":", f);
		json_str(f, d->driver);
		fputs(",\"name\":", f);
		json_str(f, d->card_name);
		fputs(",\"usb\":", f);
		json_str(f, d->usb_id);
		fprintf(f, "},\"playback\":%s,\"capture\":%s,\"pool\":%u,"
			"\"features\":{", d->playback ? "true" : "false",
			d->capture ? "true" : "false", d->pool);
		for (ft = 0; ft < HW_FEATURES; ft++) {
			fprintf(f, "%s\"%s\":{\"cap\":\"%s\",\"auto\":\"%s\","
				"\"control\":", ft ? "," : "",
				hw_feature_name(ft), cap_name(d->feat[ft].cap),
				w[ft] == HW_HW ? "hw" : "sw");
			json_str(f, d->feat[ft].ctl);
			fputs(",\"rule\":", f);
			json_str(f, d->feat[ft].why);
			fputc('}', f);
		}
		fputs("},\"controls\":[", f);
		for (k = 0; k < d->ctlc; k++) {
			if (k)
				fputc(',', f);
			json_str(f, d->ctlv[k]);
		}
		fputs("]}", f);
	}
	if (json)
		fputs("]}\n", f);
	return 0;
}
/* Write the device's switches for what we decided it does, read them
 * back, and fall back to software for any that did not stick. */
void hw_apply_switches(const struct hw_devinfo *info, enum hw_where *where)
{
	snd_ctl_elem_value_t *v;
	snd_ctl_t *ctl;
	enum hw_feature f;

	if (!info->ctl_name[0] || snd_ctl_open(&ctl, info->ctl_name, 0)) {
		for (f = 0; f < HW_FEATURES; f++) {
			if (where[f] == HW_HW &&
			    info->feat[f].cap == HW_CAP_SWITCH)
				where[f] = HW_SW;
		}
		return;
	}
	snd_ctl_elem_value_alloca(&v);
	for (f = 0; f < HW_FEATURES; f++) {
		const struct hw_feat *x = &info->feat[f];
		const bool on = where[f] == HW_HW;

		if (x->cap != HW_CAP_SWITCH)
			continue;
		snd_ctl_elem_value_clear(v);
		snd_ctl_elem_value_set_interface(v, SND_CTL_ELEM_IFACE_MIXER);
		snd_ctl_elem_value_set_name(v, x->ctl);
		snd_ctl_elem_value_set_boolean(v, 0, on);
		if (snd_ctl_elem_write(ctl, v) < 0 ||
		    snd_ctl_elem_read(ctl, v) < 0 ||
		    !snd_ctl_elem_value_get_boolean(v, 0) != !on) {
			/* the device did not take it: software does it (and
			 * if it wanted off and it stays on, the device does
			 * it: never both for echo) */
			if (on)
				where[f] = HW_SW;
			else if (f == HW_AEC)
				where[f] = HW_HW;
		}
	}
	snd_ctl_close(ctl);
}

