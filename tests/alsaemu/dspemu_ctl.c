/**
 * @file dspemu_ctl.c  dspemu-fault: fault injection into and inspection
 * of an emulated DSP card from outside the processes using it.
 *
 * Usage: dspemu-fault STATEFILE unplug
 *        dspemu-fault STATEFILE plug
 *        dspemu-fault STATEFILE show
 *        dspemu-fault STATEFILE get KEY
 *        dspemu-fault STATEFILE set KEY VALUE
 *
 * unplug   the card disappears: its open PCMs go DISCONNECTED (-ENODEV
 *          from transfers and prepare, POLLERR|POLLHUP from poll), its
 *          open controls return -ENODEV, new opens fail with -ENODEV
 * plug     it comes back with its controls at their power-on values;
 *          handles opened before stay dead, new opens work
 * show     every key as key=value, one a line
 * get KEY  one value
 * set KEY VALUE
 *          controls: aec ns agc (0/1, on/off), agc_target (1..40: -N
 *          dBFS), capture_volume playback_volume (0..60: index - 40 dB);
 *          room: near_db noise_db echo_db echo_delay_ms rt60 latency_ms
 *          ppm (a value set here wins over the asoundrc from then on;
 *          ppm is taken at the next hw_params); present (0/1)
 *
 * A missing state file is created with the built-in defaults, so a
 * card can be unplugged before anything opened it.
 * Exit status: 0, 1 on an error, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dspemu.h"

static int usage(void)
{
	fprintf(stderr, "usage: dspemu-fault STATEFILE "
		"unplug|plug|show|get KEY|set KEY VALUE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct dspemu_state *st = NULL;
	const char *cmd;
	char buf[64];
	int err, rc = 0;

	if (argc < 3)
		return usage();
	cmd = argv[2];
	if ((!strcmp(cmd, "set") && argc != 5) ||
	    (!strcmp(cmd, "get") && argc != 4) ||
	    (strcmp(cmd, "set") && strcmp(cmd, "get") && argc != 3))
		return usage();
	err = dspemu_state_open(&st, argv[1], NULL, false);
	if (err) {
		fprintf(stderr, "dspemu-fault: %s: %s\n", argv[1],
			strerror(err));
		return 1;
	}
	if (!strcmp(cmd, "unplug")) {
		dspemu_state_plug(st, false);
	}
	else if (!strcmp(cmd, "plug")) {
		dspemu_state_plug(st, true);
	}
	else if (!strcmp(cmd, "show")) {
		dspemu_state_print(st, stdout);
	}
	else if (!strcmp(cmd, "get")) {
		err = dspemu_state_get_key(st, argv[3], buf, sizeof(buf));
		if (err) {
			fprintf(stderr, "dspemu-fault: no key %s\n", argv[3]);
			rc = 1;
		}
		else {
			printf("%s\n", buf);
		}
	}
	else if (!strcmp(cmd, "set")) {
		err = dspemu_state_set_key(st, argv[3], argv[4]);
		if (err) {
			fprintf(stderr, "dspemu-fault: set %s %s: %s\n",
				argv[3], argv[4], err == EPERM ?
				"not a settable key" : "bad value");
			rc = 1;
		}
	}
	else {
		rc = usage();
	}
	dspemu_state_close(st);
	return rc;
}
