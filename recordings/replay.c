/**
 * @file replay.c  The clerk's terminal player: a session's mix or one
 * site's track, from a position, at 0.5x-2x with the pitch kept, with
 * keys to pause, seek, jump between talk turns, solo a site and set
 * bookmarks.
 *
 *   space  play / pause            n / p   next / previous talk turn
 *   left / right   -5 s / +5 s     down / up  -30 s / +30 s
 *   m  the mix     s  next site    1-9  site N (as `recordings show`)
 *   + / -  speed +-0.25 (0.5x-2x)  b  bookmark here (into the journal)
 *   q  quit
 *
 * Output: PortAudio's default device, or with --to-file FILE a WAV file,
 * written at the pace of real time when the keys come from a terminal
 * (so they act as they would on a loudspeaker; this is how the tests
 * drive it through tmux), as fast as it can otherwise. With --until S
 * it stops at S s of the session. Time-stretching is
 * Rubber Band's real-time stretcher (Debian's librubberband): speed
 * changes the duration, not the pitch; at 1x the samples pass as they
 * are.
 *
 * Threads: one (the command's).
 */
#include <re.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <portaudio.h>
#include <rubberband/rubberband-c.h>
#include <sndfile.h>
#include "recint.h"

#define BLOCK 320                    /* 20 ms at 16 kHz */
#define OUT_MAX 8192

struct player {
	const struct rec_replay_prm *prm;
	struct rmodel m;
	char dir[REC_PATH_MAX];
	const struct rsite *src;         /* what plays */
	struct rreader rd;
	double pos;                      /* session s of the next input */
	double speed;
	bool playing;
	bool quit;
	bool pace;                       /* --to-file at real time */
	RubberBandState rb;
	PaStream *pa;
	SNDFILE *to;
	uint64_t out_samples;
	int64_t t0_ns;                   /* pacing of --to */
	struct termios tio;
	bool tio_set;
	char status[256];
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *src_name(const struct player *p)
{
	return p->src == &p->m.mix ? "the mix" :
		p->src->name[0] ? p->src->name : p->src->id;
}

static void say(struct player *p, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(p->prm->out_fd, line, (size_t)n);
}

static void draw(struct player *p)
{
	const int s = (int)p->pos, d = (int)p->m.duration_s;
	const struct le *le;
	unsigned turn = 0, nt = list_count(&p->m.turnl);

	LIST_FOREACH(&p->m.turnl, le) {
		const struct rturn *t = le->data;

		if (t->start_s <= p->pos + 0.05)
			++turn;
	}
	say(p, "\r%s %02d:%02d:%02d / %02d:%02d:%02d  %.2fx  %s  turn %u/%u"
	    "   \033[K", p->playing ? "playing" : "paused ", s / 3600,
	    s / 60 % 60, s % 60, d / 3600, d / 60 % 60, d % 60, p->speed,
	    src_name(p), turn, nt);
}

static void seek(struct player *p, double to)
{
	if (to < 0)
		to = 0;
	if (to > p->m.duration_s)
		to = p->m.duration_s;
	p->pos = to;
	if (p->rb)
		rubberband_reset(p->rb);
}

/* The next (dir 1) or previous (-1) turn of what plays (any site for
 * the mix). */
static void jump_turn(struct player *p, int dir)
{
	const struct rturn *best = NULL;
	const struct le *le;

	LIST_FOREACH(&p->m.turnl, le) {
		const struct rturn *t = le->data;

		if (p->src != &p->m.mix && str_cmp(t->site, p->src->id))
			continue;
		if (dir > 0 && t->start_s > p->pos + 0.1 &&
		    (!best || t->start_s < best->start_s))
			best = t;
		if (dir < 0 && t->start_s < p->pos - 1.0 &&
		    (!best || t->start_s > best->start_s))
			best = t;
	}
	if (best) {
		seek(p, best->start_s);
		say(p, "\r\033[Kturn: %s at %.1f s\n",
		    best->site[0] ? best->site : "?", best->start_s);
	}
}

static void solo(struct player *p, const struct rsite *s)
{
	p->src = s;
	if (p->rb)
		rubberband_reset(p->rb);
	say(p, "\r\033[Ksolo: %s\n", src_name(p));
}

static void bookmark(struct player *p)
{
	char path[REC_PATH_MAX], line[256], utc[32];
	int fd, n;

	rec_time_iso(p->m.start_unix_ms + (int64_t)(p->pos * 1000), utc,
		     sizeof(utc), NULL, 0);
	n = snprintf(line, sizeof(line), "{\"t\":%.3f,\"utc\":\"%s\","
		     "\"ev\":\"bookmark\",\"site\":\"%s\",\"text\":\"replay\"}"
		     "\n", p->pos, utc, p->src == &p->m.mix ? "" :
		     p->src->id);
	re_snprintf(path, sizeof(path), "%s/journal.jsonl", p->dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || n <= 0 || write(fd, line, (size_t)n) != n) {
		say(p, "\r\033[Kbookmark: %s\n", strerror(errno));
	}
	else {
		struct sqlite3 *db = NULL;

		/* the catalogue follows the journal */
		(void)rmodel_load(&p->m, p->dir);
		if (!cat_open(&db, p->prm->data_dir, false)) {
			(void)cat_put_session(db, &p->m, p->dir,
					      !p->m.closed ? "recording" :
					      p->m.repaired ? "repaired" :
					      "closed");
			cat_close(db);
		}
		say(p, "\r\033[Kbookmark at %.1f s\n", p->pos);
	}
	if (fd >= 0)
		close(fd);
}

static void key(struct player *p, const char *k, size_t n)
{
	const struct le *le;
	unsigned i;

	if (n >= 3 && k[0] == 27 && k[1] == '[') {
		switch (k[2]) {
		case 'C': seek(p, p->pos + 5); break;
		case 'D': seek(p, p->pos - 5); break;
		case 'A': seek(p, p->pos + 30); break;
		case 'B': seek(p, p->pos - 30); break;
		}
		return;
	}
	switch (k[0]) {
	case ' ': p->playing = !p->playing; break;
	case 'q': p->quit = true; break;
	case 'n': jump_turn(p, 1); break;
	case 'p': jump_turn(p, -1); break;
	case 'm': solo(p, &p->m.mix); break;
	case 'b': bookmark(p); break;
	case '+':
	case '=':
		p->speed = fmin(2.0, p->speed + 0.25);
		break;
	case '-':
		p->speed = fmax(0.5, p->speed - 0.25);
		break;
	case 's':
		le = p->src == &p->m.mix ? list_head(&p->m.sitel) :
			p->src->le.next;
		solo(p, le ? le->data : &p->m.mix);
		break;
	default:
		if (k[0] >= '1' && k[0] <= '9') {
			i = (unsigned)(k[0] - '1');
			le = list_head(&p->m.sitel);
			while (le && i--)
				le = le->next;
			if (le)
				solo(p, le->data);
		}
		break;
	}
}

static void read_keys(struct player *p)
{
	struct pollfd pfd = {.fd = p->prm->in_fd, .events = POLLIN};
	char buf[16];
	ssize_t n;

	while (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
		n = read(p->prm->in_fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		key(p, buf, (size_t)n);
	}
}

static int out_write(struct player *p, const float *v, size_t n)
{
	int16_t s[OUT_MAX];
	size_t i;

	if (!n)
		return 0;
	if (p->pa)
		return Pa_WriteStream(p->pa, v, (unsigned long)n) ==
			paNoError ? 0 : EIO;
	for (i = 0; i < n; i++) {
		const float x = v[i] * 32768.0f;

		s[i] = (int16_t)(x > 32767 ? 32767 : x < -32768 ? -32768 : x);
	}
	if (sf_writef_short(p->to, s, (sf_count_t)n) != (sf_count_t)n)
		return EIO;
	p->out_samples += n;
	/* --to-file under a terminal: keep the pace of a loudspeaker */
	if (p->pace) {
		const int64_t due = p->t0_ns + (int64_t)(p->out_samples *
							 1000000000ull /
							 REC_SRATE);
		const int64_t now = now_ns();

		if (due > now) {
			struct timespec ts = {
				.tv_sec = (due - now) / 1000000000,
				.tv_nsec = (due - now) % 1000000000};

			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

/* One block: input at the position, stretched unless at 1x. */
static int play_block(struct player *p)
{
	int16_t in[BLOCK];
	float fin[BLOCK], fout[OUT_MAX];
	float *iv[1] = {fin}, *ov[1] = {fout};
	int avail;
	size_t i;

	(void)rreader_read(&p->rd, p->src, p->dir, p->pos, in, BLOCK);
	p->pos += (double)BLOCK / REC_SRATE;
	for (i = 0; i < BLOCK; i++)
		fin[i] = in[i] / 32768.0f;
	if (fabs(p->speed - 1.0) < 1e-3)
		return out_write(p, fin, BLOCK);
	rubberband_set_time_ratio(p->rb, 1.0 / p->speed);
	rubberband_process(p->rb, (const float *const *)iv, BLOCK, 0);
	while ((avail = rubberband_available(p->rb)) > 0) {
		unsigned got = rubberband_retrieve(p->rb, ov,
			(unsigned)(avail > OUT_MAX ? OUT_MAX : avail));
		int err = out_write(p, fout, got);

		if (err)
			return err;
	}
	return 0;
}

static void idle(struct player *p)
{
	struct timespec ts = {0, 20000000};

	if (p->to)
		p->t0_ns += 20000000;    /* paused time is not played */
	nanosleep(&ts, NULL);
}

static int open_output(struct player *p)
{
	PaStreamParameters op;
	SF_INFO info;
	PaError pe;

	if (p->prm->to_file) {
		memset(&info, 0, sizeof(info));
		info.samplerate = REC_SRATE;
		info.channels = 1;
		info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
		p->to = sf_open(p->prm->to_file, SFM_WRITE, &info);
		if (!p->to) {
			say(p, "replay: %s: %s\n", p->prm->to_file,
			    sf_strerror(NULL));
			return EIO;
		}
		p->t0_ns = now_ns();
		return 0;
	}
	/* ALSA tells stderr about every card it cannot open: quiet */
	{
		int saved = dup(2), nul = open("/dev/null", O_WRONLY);

		if (nul >= 0)
			dup2(nul, 2);
		pe = Pa_Initialize();
		op.device = pe == paNoError ? Pa_GetDefaultOutputDevice() :
			paNoDevice;
		if (saved >= 0) {
			dup2(saved, 2);
			close(saved);
		}
		if (nul >= 0)
			close(nul);
	}
	if (pe != paNoError || op.device == paNoDevice) {
		say(p, "replay: no sound device here%s%s; play into a file "
		    "with --to-file FILE.wav\n", pe != paNoError ? ": " : "",
		    pe != paNoError ? Pa_GetErrorText(pe) : "");
		if (pe == paNoError)
			Pa_Terminate();
		return ENODEV;
	}
	op.channelCount = 1;
	op.sampleFormat = paFloat32;
	op.suggestedLatency =
		Pa_GetDeviceInfo(op.device)->defaultLowOutputLatency;
	op.hostApiSpecificStreamInfo = NULL;
	pe = Pa_OpenStream(&p->pa, NULL, &op, REC_SRATE, BLOCK, paNoFlag,
			   NULL, NULL);
	if (pe == paNoError)
		pe = Pa_StartStream(p->pa);
	if (pe != paNoError) {
		say(p, "replay: sound device: %s; play into a file with "
		    "--to-file FILE.wav\n", Pa_GetErrorText(pe));
		Pa_Terminate();
		p->pa = NULL;
		return ENODEV;
	}
	return 0;
}

int rec_replay(const struct rec_replay_prm *prm)
{
	struct player p;
	int err;

	if (!prm || !prm->session)
		return EINVAL;
	memset(&p, 0, sizeof(p));
	p.prm = prm;
	p.speed = prm->speed >= 0.5 && prm->speed <= 2.0 ? prm->speed : 1.0;
	err = rec_load(&p.m, prm->data_dir, prm->session, p.dir,
		       sizeof(p.dir));
	if (err) {
		say(&p, "replay: session %s: %s\n", prm->session,
		    err == ENOENT ? "not found" : strerror(err));
		return err;
	}
	p.src = &p.m.mix;
	if (prm->solo) {
		const struct le *le;

		LIST_FOREACH(&p.m.sitel, le) {
			const struct rsite *s = le->data;

			if (!str_cmp(s->id, prm->solo) ||
			    !str_casecmp(s->name, prm->solo))
				p.src = s;
		}
	}
	err = open_output(&p);
	if (err)
		goto out;
	p.rb = rubberband_new(REC_SRATE, 1,
			      RubberBandOptionProcessRealTime |
			      RubberBandOptionPitchHighConsistency,
			      1.0 / p.speed, 1.0);
	if (!p.rb) {
		err = ENOMEM;
		goto out;
	}
	if (isatty(prm->in_fd) && !tcgetattr(prm->in_fd, &p.tio)) {
		struct termios raw = p.tio;

		raw.c_lflag &= (tcflag_t)~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		p.tio_set = !tcsetattr(prm->in_fd, TCSANOW, &raw);
	}
	p.pace = p.tio_set;
	seek(&p, prm->start_s);
	p.playing = true;
	say(&p, "%s, %s: %.1f s, %u sites, %u turns. space pause, arrows "
	    "seek, n/p turns, m mix, s/1-9 solo, +/- speed, b bookmark, q "
	    "quit\n", p.m.id, p.m.room_name[0] ? p.m.room_name : p.m.room,
	    p.m.duration_s, list_count(&p.m.sitel),
	    list_count(&p.m.turnl));
	while (!p.quit) {
		if (prm->until_s > 0 && p.pos >= prm->until_s - 1e-6)
			break;
		read_keys(&p);
		if (!p.playing || p.pos >= p.m.duration_s) {
			if (p.pos >= p.m.duration_s && p.playing) {
				p.playing = false;
				say(&p, "\r\033[Kend of the session\n");
				if (!p.tio_set)
					break;    /* nobody to press a key */
			}
			draw(&p);
			idle(&p);
			continue;
		}
		err = play_block(&p);
		if (err) {
			say(&p, "\nreplay: output: %s\n", strerror(err));
			break;
		}
		draw(&p);
	}
	/* what the stretcher still holds */
	if (!err && p.rb && fabs(p.speed - 1.0) >= 1e-3) {
		float z[BLOCK] = {0}, fo[OUT_MAX];
		float *iv[1] = {z}, *ov[1] = {fo};
		int avail;

		rubberband_process(p.rb, (const float *const *)iv, 0, 1);
		while ((avail = rubberband_available(p.rb)) > 0) {
			unsigned got = rubberband_retrieve(p.rb, ov,
				(unsigned)(avail > OUT_MAX ? OUT_MAX : avail));

			if (out_write(&p, fo, got))
				break;
		}
	}
	say(&p, "\n");
 out:
	if (p.tio_set)
		(void)tcsetattr(prm->in_fd, TCSANOW, &p.tio);
	if (p.rb)
		rubberband_delete(p.rb);
	if (p.pa) {
		Pa_StopStream(p.pa);
		Pa_CloseStream(p.pa);
		Pa_Terminate();
	}
	if (p.to)
		sf_close(p.to);
	rreader_close(&p.rd);
	rmodel_reset(&p.m);
	return err;
}
