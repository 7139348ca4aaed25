/**
 * @file aec.c  Bridge-side echo control for one site.
 *
 * The site plays what the bridge sends it and its microphone picks it up
 * again, late by the network, two jitter buffers, the devices and the
 * room (20-600 ms), at the site's own clock, with a delay that jumps by
 * a packet when the site's jitter buffer resizes. SpeexDSP's MDF
 * canceller handles a fixed echo path inside its tail (256 ms) and
 * nothing else: a bulk delay beyond the tail, 10 ppm of clock drift or a
 * 20 ms step each cost it most of its cancellation. So this module
 * brings the echo path to it:
 *
 *  1. Reference history. Every 10 ms frame sent to the site goes into a
 *     ring long enough for max_delay_ms.
 *  2. Delay search: GCC-PHAT at 2 kHz, spread over frames. Reference
 *     and microphone are low-passed to 900 Hz and decimated to 2 kHz (a
 *     64-tap FIR computed only at the kept samples). Every 100 ms the
 *     last 100 ms of microphone is cross-correlated with the reference
 *     over every lag 0..max_delay_ms through one 2048-point FFT (both
 *     real blocks packed into one complex transform); the cross-spectra
 *     are averaged with forgetting (time constant 0.5 s), whitened
 *     (phase transform, 100-850 Hz) and transformed back. The phase
 *     transform is what makes this work on speech: a plain correlation
 *     of voiced speech has side peaks one pitch period either side of
 *     the true delay that are nearly as high as the true one, and they
 *     win as often as not; whitening leaves one narrow peak whose height
 *     (0..1) is the share of the band that is coherent with the
 *     reference. Cost: one FFT on one frame, the spectrum and the
 *     inverse FFT on the next, the peak search on the third, nothing on
 *     the other seven; blocks where the reference was silent over the
 *     whole lag range are skipped (they carry no information).
 *  3. Lock. A peak that stands out of all other lags (peak over RMS) and
 *     is high enough, at the same lag in two blocks running, is the bulk
 *     delay. The reference is then read MARGIN (8 ms) before that delay,
 *     so that the direct path sits near the start of the adaptive
 *     filter, and the MDF canceller starts. Until then the canceller
 *     does not run: a site that returns no echo costs only the search.
 *  4. Steps. While locked the same correlation is watched for a second
 *     peak: when one elsewhere overtakes the tracked one in two blocks
 *     running, the delay has stepped. The step is measured as the
 *     distance between the two peaks in the same correlation, snapped to
 *     a whole multiple of 5 ms when within 0.75 ms of one (jitter buffers
 *     resize by whole packets), and the read position moves by exactly
 *     that. The adaptive filter then still matches the path and keeps
 *     its cancellation; only the part of its memory that spans the step
 *     is wrong, for one tail length.
 *  5. Drift, from the adaptive filter. Every 200 ms the position of the
 *     largest tap of the MDF filter (parabolic interpolation at 16 kHz)
 *     plus the read delay is a fine measurement of the echo delay. A
 *     linear regression of it over time with forgetting (8 s) gives the
 *     drift; the reference is read at a fractional position advancing by
 *     (1 + drift) per sample, through a 32-tap Kaiser-windowed sinc (256
 *     phases, pass band to 7.4 kHz). The regression's level is not
 *     chased (the adaptive filter absorbs a constant offset); only when
 *     the peak wanders more than 2 ms from its place does the read
 *     position slew back, at 2 samples/s.
 *  6. Figures for talker selection, from energies at hand: the echo
 *     estimate (mic - output), the output, a noise floor by minimum
 *     tracking, ERL and ERLE smoothed over the frames where the echo
 *     stands 10 dB above the noise, and double talk when the output
 *     holds much more than the residual that ERLE predicts.
 *
 * Residual echo suppression is SpeexDSP's preprocessor, created by the
 * caller and attached to dsp_aec_speex_state().
 *
 * Threads: alloc/free on the control thread; the rest on the mixer
 * thread, RT-safe (no allocation, no locks, bounded time).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <speex/speex_echo.h>
#include "dsp.h"

#define SRATE 16000
#define FR DSP_AEC_FRAME

/* decimator */
#define DEC 8                    /* 16 kHz -> 2 kHz */
#define DRATE (SRATE / DEC)
#define DFR (FR / DEC)           /* decimated samples per frame: 20 */
#define DEC_TAPS 64
#define DEC_CUT_HZ 900.0

/* GCC-PHAT search */
#define BLOCK_FRAMES 10          /* one block per 100 ms */
#define BLK (BLOCK_FRAMES * DFR)
#define SEARCH_TAU_S 0.25
#define BAND_LO_HZ 100.0
#define BAND_HI_HZ 850.0
#define LOCK_PEAK 0.12f          /* PHAT peak height to lock */
#define LOCK_PFR 10.0f           /* peak over RMS of all lags */
#define KEEP_PEAK 0.06f          /* still a confident echo */
#define KEEP_PFR 6.0f
#define LOCK_BLOCKS 3
#define HINT_TOL_MS 25.0         /* a lag this close to the hint (the
				    probe's path includes the codecs'
				    delay, the reference does not) */
#define CONFIRM_FRAMES 600       /* 6 s to show cancellation */
#define CONFIRM_ERLE 2.0f        /* 3 dB */
#define STEP_BLOCKS 2
#define STEP_DT_MAX_LAGS 300     /* in double talk: 150 ms at most */
#define STEP_MIN_LAGS 8          /* 4 ms: closer is the same peak */
#define STEP_RATIO 1.4f          /* the new peak must be this higher */
#define STEP_ERLE 4.0f           /* and the filter no longer cancel */
#define LOSS_BLOCKS 80           /* 8 s of far-end talk with no echo */
#define REF_ACTIVE 1e4f          /* decimated energy: about -50 dBFS */

/* pre-training */
#define TRAIN_S 1                /* seconds of history replayed at lock */
#define TRAIN_PER_CALL 3         /* frames replayed per 10 ms frame */

/* alignment */
#define MARGIN 128               /* samples before the direct path */
#define SNAP 80                  /* steps snap to 5 ms multiples */
#define SNAP_TOL 12.0            /* when within 0.75 ms of one */
#define IR_FRAMES 20             /* filter peak read every 200 ms */
#define IR_PFR 30.0f             /* peak^2 over mean square of taps */
#define IR_OUTLIER 6.0           /* samples off the line: ignored */
#define DRIFT_TAU_S 8.0
#define DRIFT_MIN_SPAN_S 1.5     /* rms time spread before it is used */
#define DRIFT_MAX 300e-6
#define SLEW_START 32.0          /* 2 ms off the place */
#define SLEW_STOP 4.0
#define SLEW_RATE (2.0 / SRATE)  /* samples per sample */

/* fractional-delay interpolator */
#define TAPS 32
#define HALF_TAPS (TAPS / 2)
#define PHASES 256
#define KAISER_BETA 8.0
#define INTERP_CUT 0.93

/* figures */
#define FS2 (32767.0f * 32767.0f)
#define STAT_TAU_S 1.0f
#define NOISE_RISE 1.0023f       /* per frame: about 1 dB/s */
#define DT_HANG 10               /* frames */
#define DT_RATIO 8.0f            /* output over expected residual */
#define SHORT_TAU_S 0.05f

enum aec_state {
	AEC_SEARCH,
	AEC_LOCKED,
};

struct dsp_aec {
	struct dsp_aec_prm prm;
	SpeexEchoState *echo;
	int32_t *ir;             /* filter taps, read for drift */
	uint32_t ir_n;

	/* 16 kHz reference history */
	float *ring;
	uint32_t ring_mask;
	uint64_t wpos;           /* reference samples written */
	uint64_t cpos;           /* mic samples captured, same time base */
	uint64_t frames;         /* captured frames */

	/* interpolator, PHASES x TAPS */
	float *interp;

	/* decimators: DEC_TAPS - 1 older input samples, then a frame */
	float dec_h[DEC_TAPS];
	float rhist[DEC_TAPS - 1 + FR];
	float mhist[DEC_TAPS - 1 + FR];

	/* search at 2 kHz */
	uint32_t lags;           /* lag range 0..lags-1 */
	uint32_t dmask;          /* decimated ring size - 1 */
	float *dref, *dmic;      /* decimated rings */
	uint64_t dpos;           /* decimated reference samples written */
	uint64_t dsrc;           /* ring samples decimated: dpos * DEC */
	uint64_t mpos;           /* decimated mic samples written */
	uint32_t ref_quiet;      /* decimated samples since far-end talk */
	uint32_t nfft;
	struct dsp_fft *fft;     /* nfft points */
	float *fre, *fim;        /* transform work */
	float *gre, *gim;        /* averaged cross-spectrum, nfft/2+1 */
	float *xc;               /* PHAT correlation, lags */
	uint32_t band_lo, band_hi;
	float alpha;             /* forgetting per block */
	bool blk_ok;             /* the block in flight is usable */

	/* lock state */
	enum aec_state state;
	uint32_t cand_lag, cand_n;   /* lock candidate */
	float hint_ms;               /* delay measured otherwise, < 0: none */
	uint32_t track_lag;          /* tracked peak, lag at 2 kHz */
	uint32_t step_lag, step_n;   /* step candidate */
	uint32_t quiet_blocks;       /* active far end, no confident peak */
	float peak, pfr;             /* of the last search */
	uint32_t locked_frames;
	bool confirmed;              /* the filter did cancel something */

	/* alignment: reference read at t - adelay for mic sample t */
	double adelay;           /* samples, fractional */
	double drift;            /* d adelay / dt, samples per sample */
	double slew;             /* added to it while slewing */
	double step_sum;         /* steps taken since lock, samples */
	uint32_t steps;
	bool slewing;

	/* drift regression: time (s) -> delay (samples), forgetting */
	double rw, rt, rtt, ry, rty, t0;

	/* figures */
	float noise;             /* output noise floor, energy/sample */
	float s_mic, s_out, s_ref, s_echo;   /* smoothed, echo frames */
	float echo_e, resid_e;   /* last frame, energy/sample */
	float f_mic, f_out, f_echo;  /* short-term (50 ms) energies */
	uint32_t dt_hang;
	bool dt;
	bool ran;                /* the canceller ran on the last frame */

	/* pre-training: at lock, a second canceller runs over the last
	 * second of microphone and reference, a few frames per call, and
	 * takes over once it has caught up with the present */
	SpeexEchoState *shadow;
	int16_t *mring;          /* microphone history, by cpos */
	uint64_t mring_mask;
	uint64_t hist_start;     /* mring holds cpos >= this */
	uint64_t train_pos;
	bool training;

	/* frame scratch */
	int16_t ref_al[FR];
	int16_t ref_tr[FR];
};

static const double pi_d = 3.14159265358979323846;

static double sinc(double x)
{
	return fabs(x) < 1e-9 ? 1.0 : sin(pi_d * x) / (pi_d * x);
}

/* Zeroth-order modified Bessel function, for the Kaiser window. */
static double bessel_i0(double x)
{
	double s = 1.0, t = 1.0;
	int k;

	for (k = 1; k < 40; k++) {
		t *= (x / (2.0 * k)) * (x / (2.0 * k));
		s += t;
	}
	return s;
}

static double kaiser(double x, double half)
{
	double r = x / half;

	if (r <= -1.0 || r >= 1.0)
		return 0.0;
	return bessel_i0(KAISER_BETA * sqrt(1.0 - r * r)) /
		bessel_i0(KAISER_BETA);
}

/* Phase p reads the signal p / PHASES of a sample after tap
 * HALF_TAPS - 1; each phase has unity gain at DC. */
static void interp_init(float *tab)
{
	int p, k;

	for (p = 0; p < PHASES; p++) {
		const double f = (double)p / PHASES;
		double w[TAPS], s = 0.0;

		for (k = 0; k < TAPS; k++) {
			const double x = (double)(k - (HALF_TAPS - 1)) - f;

			w[k] = INTERP_CUT * sinc(INTERP_CUT * x) *
				kaiser(x, HALF_TAPS);
			s += w[k];
		}
		for (k = 0; k < TAPS; k++)
			tab[p * TAPS + k] = (float)(w[k] / s);
	}
}

static void dec_init(float *h)
{
	const double fc = DEC_CUT_HZ / SRATE;  /* cycles per sample */
	double s = 0.0, w[DEC_TAPS];
	int k;

	for (k = 0; k < DEC_TAPS; k++) {
		const double x = (double)k - (DEC_TAPS - 1) / 2.0;

		w[k] = 2.0 * fc * sinc(2.0 * fc * x) *
			kaiser(x, DEC_TAPS / 2.0 + 0.5);
		s += w[k];
	}
	for (k = 0; k < DEC_TAPS; k++)
		h[k] = (float)(w[k] / s);
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/**
 * Allocate one site's echo control. See dsp.h.
 *
 * @param aecp  Where to store it
 * @param prm   Parameters; srate_hz must be 16000; tail_ms 0 means 256
 *              (20..1000), max_delay_ms 0 means 800 (at most 2000)
 *
 * @return 0, EINVAL or ENOMEM
 */
int dsp_aec_alloc(struct dsp_aec **aecp, const struct dsp_aec_prm *prm)
{
	struct dsp_aec *a;
	uint32_t n, tail;
	int err = 0, rate = SRATE, irn = 0;

	if (!aecp || !prm || prm->srate_hz != SRATE ||
	    prm->tail_ms > 1000 || prm->max_delay_ms > 2000)
		return EINVAL;

	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->prm = *prm;
	a->hint_ms = -1.0f;
	if (!a->prm.tail_ms)
		a->prm.tail_ms = 256;
	if (!a->prm.max_delay_ms)
		a->prm.max_delay_ms = 800;
	if (a->prm.tail_ms < 20)
		a->prm.tail_ms = 20;
	tail = a->prm.tail_ms * (SRATE / 1000);

	/* the read position may sit max_delay (plus what drift, steps and
	 * the interpolator add) behind the newest sample */
	n = pow2_at_least(a->prm.max_delay_ms * (SRATE / 1000) + 4 * FR +
			  2048 + TRAIN_S * SRATE);
	a->ring = calloc(n, sizeof(*a->ring));
	a->ring_mask = n - 1;
	a->interp = calloc(PHASES * TAPS, sizeof(*a->interp));

	a->lags = a->prm.max_delay_ms * (DRATE / 1000) + 1;
	n = pow2_at_least(a->lags + BLK + 2 * DFR);
	a->dmask = n - 1;
	a->dref = calloc(n, sizeof(*a->dref));
	a->dmic = calloc(n, sizeof(*a->dmic));
	a->nfft = pow2_at_least(a->lags + BLK);
	err = dsp_fft_alloc(&a->fft, a->nfft);
	a->fre = calloc(a->nfft, sizeof(*a->fre));
	a->fim = calloc(a->nfft, sizeof(*a->fim));
	a->gre = calloc(a->nfft / 2 + 1, sizeof(*a->gre));
	a->gim = calloc(a->nfft / 2 + 1, sizeof(*a->gim));
	a->xc = calloc(a->lags, sizeof(*a->xc));
	a->echo = speex_echo_state_init(FR, (int)tail);
	a->shadow = speex_echo_state_init(FR, (int)tail);
	n = pow2_at_least(TRAIN_S * SRATE + 2 * FR);
	a->mring = calloc(n, sizeof(*a->mring));
	a->mring_mask = n - 1;
	if (err || !a->ring || !a->interp || !a->dref || !a->dmic ||
	    !a->fre || !a->fim || !a->gre || !a->gim || !a->xc ||
	    !a->echo || !a->shadow || !a->mring) {
		err = ENOMEM;
		goto out;
	}
	speex_echo_ctl(a->echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
	speex_echo_ctl(a->shadow, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
	speex_echo_ctl(a->echo, SPEEX_ECHO_GET_IMPULSE_RESPONSE_SIZE, &irn);
	if (irn <= 0) {
		err = ENOMEM;
		goto out;
	}
	a->ir_n = (uint32_t)irn;
	a->ir = calloc(a->ir_n, sizeof(*a->ir));
	if (!a->ir) {
		err = ENOMEM;
		goto out;
	}
	a->band_lo = (uint32_t)ceil(BAND_LO_HZ * a->nfft / DRATE);
	a->band_hi = (uint32_t)floor(BAND_HI_HZ * a->nfft / DRATE);
	a->alpha = (float)exp(-(double)BLK / DRATE / SEARCH_TAU_S);
	interp_init(a->interp);
	dec_init(a->dec_h);
	dsp_aec_reset(a);

 out:
	if (err)
		dsp_aec_free(a);
	else
		*aecp = a;
	return err;
}

/**
 * Free echo control; NULL is ignored.
 *
 * @param aec  Echo control
 */
void dsp_aec_free(struct dsp_aec *aec)
{
	if (!aec)
		return;
	if (aec->echo)
		speex_echo_state_destroy(aec->echo);
	if (aec->shadow)
		speex_echo_state_destroy(aec->shadow);
	free(aec->mring);
	free(aec->ir);
	free(aec->ring);
	free(aec->interp);
	free(aec->dref);
	free(aec->dmic);
	dsp_fft_free(aec->fft);
	free(aec->fre);
	free(aec->fim);
	free(aec->gre);
	free(aec->gim);
	free(aec->xc);
	free(aec);
}

static void regress_clear(struct dsp_aec *a)
{
	a->rw = a->rt = a->rtt = a->ry = a->rty = 0.0;
	a->t0 = (double)a->cpos / SRATE;
}

static void unlock(struct dsp_aec *a)
{
	a->state = AEC_SEARCH;
	a->cand_n = 0;
	a->step_n = 0;
	a->quiet_blocks = 0;
	a->locked_frames = 0;
	a->confirmed = false;
	a->drift = a->slew = 0.0;
	a->step_sum = 0.0;
	a->steps = 0;
	a->slewing = false;
	regress_clear(a);
	a->s_mic = a->s_out = a->s_ref = a->s_echo = 0.0f;
	a->echo_e = a->resid_e = 0.0f;
	a->f_mic = a->f_out = a->f_echo = 0.0f;
	a->dt = false;
	a->dt_hang = 0;
	a->ran = false;
	a->training = false;
	speex_echo_state_reset(a->echo);
}

/**
 * Forget the echo path. See dsp.h. RT-safe.
 *
 * @param aec  Echo control
 */
void dsp_aec_reset(struct dsp_aec *aec)
{
	struct dsp_aec *a = aec;

	if (!a)
		return;
	memset(a->ring, 0, (a->ring_mask + 1) * sizeof(*a->ring));
	memset(a->dref, 0, (a->dmask + 1) * sizeof(*a->dref));
	memset(a->dmic, 0, (a->dmask + 1) * sizeof(*a->dmic));
	memset(a->gre, 0, (a->nfft / 2 + 1) * sizeof(*a->gre));
	memset(a->gim, 0, (a->nfft / 2 + 1) * sizeof(*a->gim));
	memset(a->xc, 0, a->lags * sizeof(*a->xc));
	memset(a->rhist, 0, sizeof(a->rhist));
	memset(a->mhist, 0, sizeof(a->mhist));
	a->wpos = a->cpos = a->frames = 0;
	a->hist_start = 0;
	a->dpos = a->mpos = a->dsrc = 0;
	a->ref_quiet = UINT32_MAX / 2;
	a->blk_ok = false;
	a->noise = 1.0f;
	a->peak = a->pfr = 0.0f;
	unlock(a);
}

void dsp_aec_hint_delay(struct dsp_aec *aec, float delay_ms)
{
	if (aec)
		aec->hint_ms = delay_ms;
}

/* Low-pass and keep every DEC-th sample: hist holds DEC_TAPS - 1 older
 * samples followed by the new frame; out gets DFR samples. */
static void decimate(const float *h, float *hist, float *out)
{
	int i, k;

	for (i = 0; i < DFR; i++) {
		const float *x = hist + i * DEC + DEC;
		float s = 0.0f;

		for (k = 0; k < DEC_TAPS; k++)
			s += h[k] * x[k];
		out[i] = s;
	}
	memmove(hist, hist + FR, (DEC_TAPS - 1) * sizeof(*hist));
}

/* The decimated reference is brought up to the ring only when the
 * search needs it (at capture): a resting canceller, the common case on
 * a big bridge, costs the ring's copy alone. What the search can still
 * reach is at most the decimated ring's length; older pending frames
 * are not worth filtering. */
static void ref_catch_up(struct dsp_aec *a)
{
	const uint64_t dreach = (uint64_t)(a->dmask + 1) * DEC;
	const uint64_t rreach = a->ring_mask + 1 - FR;
	const uint64_t reach = dreach < rreach ? dreach : rreach;
	float d[DFR];
	int i;

	if (a->wpos - a->dsrc > reach) {
		a->dsrc = a->wpos - reach / FR * FR;
		a->dpos = a->dsrc / DEC;
		memset(a->rhist, 0, sizeof(a->rhist));
		a->ref_quiet = UINT32_MAX / 2;
	}
	while (a->dsrc + FR <= a->wpos) {
		bool active = false;

		for (i = 0; i < FR; i++) {
			const uint64_t j = a->dsrc + (uint64_t)i;

			a->rhist[DEC_TAPS - 1 + i] = a->ring[j & a->ring_mask];
		}
		decimate(a->dec_h, a->rhist, d);
		for (i = 0; i < DFR; i++) {
			a->dref[(a->dpos + (uint64_t)i) & a->dmask] = d[i];
			if (d[i] * d[i] > REF_ACTIVE)
				active = true;
		}
		a->dpos += DFR;
		a->dsrc += FR;
		if (active)
			a->ref_quiet = 0;
		else if (a->ref_quiet < UINT32_MAX / 2)
			a->ref_quiet += DFR;
	}
}

/**
 * The frame the bridge sent the site. See dsp.h. RT-safe.
 *
 * @param aec  Echo control
 * @param ref  DSP_AEC_FRAME samples
 */
void dsp_aec_playback(struct dsp_aec *aec, const int16_t *ref)
{
	struct dsp_aec *a = aec;
	uint32_t at, n1, i;

	if (!a || !ref)
		return;
	/* the ring is a power of two and longer than a frame: at most
	 * two runs */
	at = (uint32_t)(a->wpos & a->ring_mask);
	n1 = a->ring_mask + 1 - at;
	n1 = n1 < FR ? n1 : FR;
	for (i = 0; i < n1; i++)
		a->ring[at + i] = (float)ref[i];
	for (; i < FR; i++)
		a->ring[i - n1] = (float)ref[i];
	a->wpos += FR;
}

/* Parabolic interpolation around index k of v: offset -0.5..0.5. */
static double parabolic(double l, double m, double r)
{
	const double den = l - 2.0 * m + r;

	if (den >= 0.0)
		return 0.0;
	return 0.5 * (l - r) / den;
}

/* Position of the correlation peak at lag l, in 16 kHz samples. */
static double peak_pos(const struct dsp_aec *a, uint32_t l)
{
	if (l == 0 || l + 1 >= a->lags)
		return (double)l * DEC;
	return ((double)l + parabolic(a->xc[l - 1], a->xc[l],
				      a->xc[l + 1])) * DEC;
}

/* Add the drift regression point (t seconds, y samples). */
static void regress_add(struct dsp_aec *a, double t, double y,
			double f)
{
	t -= a->t0;
	/* keep the time origin recent so that the sums stay well
	 * conditioned however long the call */
	if (t > 600.0) {
		const double c = t;

		a->rtt += -2.0 * c * a->rt + c * c * a->rw;
		a->rty += -c * a->ry;
		a->rt -= c * a->rw;
		a->t0 += c;
		t = 0.0;
	}
	a->rw = f * a->rw + 1.0;
	a->rt = f * a->rt + t;
	a->rtt = f * a->rtt + t * t;
	a->ry = f * a->ry + y;
	a->rty = f * a->rty + t * y;
}

/* Slope (samples per second) and line value now, if the regression has
 * seen enough time. */
static bool regress_get(const struct dsp_aec *a, double t, double *slope,
			double *val)
{
	const double w = a->rw, mt = w > 0.0 ? a->rt / w : 0.0;
	const double my = w > 0.0 ? a->ry / w : 0.0;
	const double vt = w > 0.0 ? a->rtt / w - mt * mt : 0.0;

	if (w < 4.0 || vt < DRIFT_MIN_SPAN_S * DRIFT_MIN_SPAN_S)
		return false;
	*slope = (a->rty / w - mt * my) / vt;
	*val = my + *slope * (t - a->t0 - mt);
	return true;
}

/* SpeexDSP's MDF gains about 2 dB a second, and the lock comes 1-1.5 s
 * after the echo does: by then the microphone and the reference of the
 * past second already hold the path. A second canceller learns from
 * them, faster than real time, and takes over when it reaches the
 * present, so the site starts with a filter trained for that much
 * longer. */
static void train_start(struct dsp_aec *a)
{
	uint64_t from = a->cpos > (uint64_t)TRAIN_S * SRATE ?
		a->cpos - (uint64_t)TRAIN_S * SRATE : 0;

	if (from < a->hist_start)
		from = a->hist_start;
	/* whole frames back from the present */
	from = a->cpos - (a->cpos - from) / FR * FR;
	a->training = a->cpos - from >= 10 * FR;
	a->train_pos = from;
	speex_echo_state_reset(a->shadow);
}

/* The reference at fractional ring position p (clamped at 0), through
 * the windowed-sinc interpolator, as an int16 sample. */
static int16_t interp_at(const struct dsp_aec *a, double p)
{
	double fl;
	int64_t n0;
	uint32_t ph;
	const float *w;
	float s = 0.0f;
	int k;

	if (p < 0.0)
		p = 0.0;
	fl = floor(p);
	n0 = (int64_t)fl;
	ph = (uint32_t)((p - fl) * PHASES + 0.5);
	if (ph >= PHASES) {
		ph = 0;
		++n0;
	}
	w = a->interp + ph * TAPS;
	for (k = 0; k < TAPS; k++) {
		const uint64_t j = (uint64_t)(n0 + k - (HALF_TAPS - 1));

		s += w[k] * a->ring[j & a->ring_mask];
	}
	s = s > 32767.0f ? 32767.0f : s < -32768.0f ? -32768.0f : s;
	return (int16_t)lrintf(s);
}

/* The reference for microphone sample position pos, at the present
 * alignment (drift is zero this early after a lock). */
static void read_at(const struct dsp_aec *a, uint64_t pos, int16_t *dst)
{
	int i;

	for (i = 0; i < FR; i++)
		dst[i] = interp_at(a, (double)(pos + (uint64_t)i) - a->adelay);
}

/* A few frames of catching up; true when the shadow reached the
 * present and took over. */
static bool train_run(struct dsp_aec *a)
{
	int16_t m[FR], o[FR];
	SpeexEchoState *t;
	uint32_t n, i;

	for (n = 0; n < TRAIN_PER_CALL && a->train_pos < a->cpos; n++) {
		for (i = 0; i < FR; i++)
			m[i] = a->mring[(a->train_pos + i) & a->mring_mask];
		read_at(a, a->train_pos, a->ref_tr);
		speex_echo_cancellation(a->shadow, m, a->ref_tr, o);
		a->train_pos += FR;
	}
	if (a->train_pos < a->cpos)
		return false;
	t = a->echo;
	a->echo = a->shadow;
	a->shadow = t;
	a->training = false;
	return true;
}

static void lock_at(struct dsp_aec *a, uint32_t l)
{
	a->state = AEC_LOCKED;
	a->track_lag = l;
	a->step_n = 0;
	a->quiet_blocks = 0;
	a->locked_frames = 0;
	a->confirmed = false;
	a->adelay = peak_pos(a, l) - MARGIN;
	a->drift = a->slew = 0.0;
	a->step_sum = 0.0;
	a->steps = 0;
	a->slewing = false;
	regress_clear(a);
	speex_echo_state_reset(a->echo);
	train_start(a);
}

/* Move the alignment by the step from the tracked peak to the one at
 * lag l, both measured in the same correlation. */
static void take_step(struct dsp_aec *a, uint32_t l)
{
	double d = peak_pos(a, l) - peak_pos(a, a->track_lag);
	const double q = SNAP * floor(d / SNAP + 0.5);

	if (fabs(d - q) <= SNAP_TOL)
		d = q;
	a->adelay += d;
	a->step_sum += d;
	++a->steps;
	a->track_lag = l;
	a->step_n = 0;
}

static uint32_t lag_dist(uint32_t x, uint32_t y)
{
	return x > y ? x - y : y - x;
}

/* Block stage 0: the last BLK mic samples against the reference over
 * every lag, packed as x + j y into one forward transform. */
static void block_fft(struct dsp_aec *a)
{
	const uint32_t L = a->lags, n = a->nfft;
	const uint64_t m_end = a->mpos;          /* mic block end */
	const uint64_t r0 = m_end - BLK - (L - 1);
	uint32_t i;
	float em = 0.0f;

	a->blk_ok = a->ref_quiet < L + BLK && m_end >= BLK + L &&
		a->dpos >= m_end;
	if (!a->blk_ok)
		return;
	for (i = 0; i < n; i++) {
		a->fre[i] = i < BLK + L - 1 ?
			a->dref[(r0 + i) & a->dmask] : 0.0f;
		a->fim[i] = 0.0f;
	}
	for (i = 0; i < BLK; i++) {
		const float m = a->dmic[(m_end - BLK + i) & a->dmask];

		a->fim[L - 1 + i] = m;
		em += m * m;
	}
	if (em < 1.0f) {
		a->blk_ok = false;
		return;
	}
	dsp_fft_run(a->fft, a->fre, a->fim, false);
}

/* Block stage 1: separate the two spectra, average the cross-spectrum,
 * whiten it and transform back. */
static void block_phat(struct dsp_aec *a)
{
	const uint32_t n = a->nfft, h = n / 2;
	uint32_t k, used = 0;
	float norm;

	if (!a->blk_ok)
		return;
	for (k = 0; k <= h; k++) {
		const uint32_t nk = (n - k) & (n - 1);
		const float zr = a->fre[k], zi = a->fim[k];
		const float cr = a->fre[nk], ci = -a->fim[nk];
		/* X = (Z + conj Z(-k)) / 2, Y = (Z - conj Z(-k)) / 2j */
		const float xr = 0.5f * (zr + cr), xi = 0.5f * (zi + ci);
		const float yr = 0.5f * (zi - ci), yi = -0.5f * (zr - cr);

		/* Y conj(X): mic against reference */
		a->gre[k] = a->alpha * a->gre[k] + (yr * xr + yi * xi);
		a->gim[k] = a->alpha * a->gim[k] + (yi * xr - yr * xi);
	}
	for (k = 0; k < n; k++)
		a->fre[k] = a->fim[k] = 0.0f;
	for (k = a->band_lo; k <= a->band_hi && k < h; k++) {
		const float g = sqrtf(a->gre[k] * a->gre[k] +
				      a->gim[k] * a->gim[k]);

		if (g <= 0.0f)
			continue;
		a->fre[k] = a->gre[k] / g;
		a->fim[k] = a->gim[k] / g;
		a->fre[n - k] = a->fre[k];
		a->fim[n - k] = -a->fim[k];
		++used;
	}
	dsp_fft_run(a->fft, a->fre, a->fim, true);
	norm = used ? 1.0f / (2.0f * (float)used) : 0.0f;
	for (k = 0; k < a->lags; k++)
		a->xc[k] = a->fre[k] * norm;
}

/* Block stage 2: find the peak and act on it. */
static void block_decide(struct dsp_aec *a)
{
	const uint32_t L = a->lags;
	float best = -1.0f, ms = 0.0f, tv;
	uint32_t k, l = 0, tl, j;
	bool confident;

	if (!a->blk_ok)
		return;
	for (k = 0; k < L; k++) {
		const float v = a->xc[k];

		ms += v * v;
		if (v > best) {
			best = v;
			l = k;
		}
	}
	ms /= (float)L;
	a->peak = best;
	a->pfr = ms > 0.0f ? best / sqrtf(ms) : 0.0f;

	if (a->state == AEC_SEARCH) {
		if (best >= LOCK_PEAK && a->pfr >= LOCK_PFR) {
			if (a->cand_n && lag_dist(l, a->cand_lag) <= 1)
				++a->cand_n;
			else
				a->cand_n = 1;
			a->cand_lag = l;
			/* a peak where a probe found the echo needs no
			 * more blocks to be believed */
			if (a->cand_n >= LOCK_BLOCKS ||
			    (a->hint_ms >= 0.0f &&
			     fabs(peak_pos(a, l) * 1000.0 / SRATE -
				  a->hint_ms) <= HINT_TOL_MS))
				lock_at(a, l);
		}
		else {
			a->cand_n = 0;
		}
		return;
	}

	/* locked: follow the tracked peak as it drifts */
	tl = a->track_lag;
	tv = a->xc[tl];
	for (j = tl > 2 ? tl - 2 : 0; j <= tl + 2 && j < L; j++) {
		if (a->xc[j] > tv) {
			tv = a->xc[j];
			a->track_lag = j;
		}
	}
	tl = a->track_lag;
	confident = best >= KEEP_PEAK && a->pfr >= KEEP_PFR;

	/* a step also shows as the filter's cancellation collapsing;
	 * a converged filter that still cancels has seen no step, whatever
	 * a noisy correlation says. Near-end speech collapses it too (and
	 * a step looks like near-end speech to the double-talk detector),
	 * and brings peaks of its own that can hold a lag for seconds: a
	 * site talking over the meeting while its packets changed size
	 * (t_profile_move) followed one to 40-80 ms from its 280 ms path,
	 * and its canceller had not recovered 3 s later. A jitter buffer
	 * resizes by a packet or two (test_steps: 20 ms); in double talk
	 * a longer step waits for single talk. */
	if (confident && lag_dist(l, tl) >= STEP_MIN_LAGS &&
	    (!a->dt || lag_dist(l, tl) <= STEP_DT_MAX_LAGS) &&
	    best >= STEP_RATIO * tv &&
	    (a->f_mic < STEP_ERLE * a->f_out ||
	     a->s_mic < STEP_ERLE * a->s_out)) {
		if (a->step_n && lag_dist(l, a->step_lag) <= 1)
			++a->step_n;
		else
			a->step_n = 1;
		a->step_lag = l;
		if (a->step_n >= STEP_BLOCKS)
			take_step(a, l);
	}
	else {
		a->step_n = 0;
	}

	if (confident)
		a->quiet_blocks = 0;
	else if (++a->quiet_blocks > LOSS_BLOCKS)
		unlock(a);

	/* two unrelated talkers can line up by chance for a few blocks;
	 * a real echo path is one the filter manages to cancel, so a lock
	 * is only believed (echo_present) once it has, and dropped if it
	 * has not within CONFIRM_FRAMES */
	if (a->state == AEC_LOCKED && !a->confirmed) {
		if (a->s_out > 0.0f && a->s_mic >= CONFIRM_ERLE * a->s_out)
			a->confirmed = true;
		else if (a->locked_frames > CONFIRM_FRAMES)
			unlock(a);
	}
}

/* The largest tap of the adaptive filter, where the echo's direct path
 * sits in aligned time: a fine delay measurement for the drift. */
static void filter_peak(struct dsp_aec *a)
{
	const double t = (double)a->cpos / SRATE;
	double e = 0.0, best = 0.0, pos, slope, val;
	uint32_t k, bk = 0;

	/* near-end speech pulls the filter away from the path for as
	 * long as it lasts; its points, each within IR_OUTLIER of the
	 * last, bent the line by 400 ppm over 5 s of double talk in
	 * t_profile_move (the delay crept 7 ms, the cancellation went) */
	if (a->dt)
		return;
	speex_echo_ctl(a->echo, SPEEX_ECHO_GET_IMPULSE_RESPONSE, a->ir);
	for (k = 0; k < a->ir_n; k++) {
		const double v = (double)a->ir[k] * a->ir[k];

		e += v;
		if (v > best) {
			best = v;
			bk = k;
		}
	}
	if (e <= 0.0 || best * a->ir_n < IR_PFR * e || bk == 0 ||
	    bk + 1 >= a->ir_n)
		return;
	pos = (double)bk + parabolic(fabs((double)a->ir[bk - 1]),
				     fabs((double)a->ir[bk]),
				     fabs((double)a->ir[bk + 1]));
	pos += a->adelay - a->step_sum;
	/* a filter disturbed by double talk or a step points elsewhere
	 * for a while: keep such points out of the line */
	if (regress_get(a, t, &slope, &val) &&
	    fabs(pos - val) > IR_OUTLIER)
		return;
	regress_add(a, t, pos,
		    exp(-(double)IR_FRAMES * FR / SRATE / DRIFT_TAU_S));
}

/* Update drift and the slew from the regression, once per frame. */
static void align_update(struct dsp_aec *a)
{
	const double t = (double)a->cpos / SRATE;
	double slope, val, off;

	if (!regress_get(a, t, &slope, &val))
		return;
	slope /= SRATE;
	if (slope > DRIFT_MAX)
		slope = DRIFT_MAX;
	if (slope < -DRIFT_MAX)
		slope = -DRIFT_MAX;
	a->drift = slope;

	/* the line is the delay of the filter's peak, steps removed: the
	 * read position wants it less the margin, plus the steps */
	off = (val + a->step_sum - MARGIN) - a->adelay;
	if (fabs(off) > SLEW_START)
		a->slewing = true;
	else if (fabs(off) < SLEW_STOP)
		a->slewing = false;
	a->slew = a->slewing ? (off > 0 ? SLEW_RATE : -SLEW_RATE) : 0.0;
}

/* Build the aligned reference for mic samples cpos..cpos+FR-1. */
static void read_aligned(struct dsp_aec *a)
{
	const double newest = (double)(a->wpos - 1 - HALF_TAPS);
	const double step = a->drift + a->slew;
	int i;

	for (i = 0; i < FR; i++) {
		double p = (double)(a->cpos + (uint64_t)i) - a->adelay;

		a->ref_al[i] = interp_at(a, p > newest ? newest : p);
		a->adelay += step;
	}
}

static float energy(const int16_t *v, int n)
{
	float s = 0.0f;
	int i;

	for (i = 0; i < n; i++)
		s += (float)v[i] * (float)v[i];
	return s / (float)n;
}

static void figures(struct dsp_aec *a, const int16_t *mic,
		    const int16_t *out)
{
	const float c = 1.0f - expf(-(float)FR / SRATE / STAT_TAU_S);
	const float cf = 1.0f - expf(-(float)FR / SRATE / SHORT_TAU_S);
	float em, eo, ee = 0.0f, er, erle;
	int i;

	em = energy(mic, FR);
	eo = energy(out, FR);
	er = energy(a->ref_al, FR);
	for (i = 0; i < FR; i++) {
		const float y = (float)mic[i] - (float)out[i];

		ee += y * y;
	}
	ee /= FR;

	/* the output floor: follows any fall at once, rises slowly */
	a->noise = eo < a->noise ? eo : a->noise * NOISE_RISE;
	if (a->noise < 1.0f)
		a->noise = 1.0f;

	a->f_mic += cf * (em - a->f_mic);
	a->f_out += cf * (eo - a->f_out);
	a->f_echo += cf * (ee - a->f_echo);
	erle = a->s_out > 0.0f ? a->s_mic / a->s_out : 1.0f;
	if (erle < 1.0f)
		erle = 1.0f;
	a->echo_e = ee;
	a->resid_e = ee / erle;

	/* near-end speech: the output holds far more than the residual
	 * that the long-term ERLE predicts from the echo estimate */
	if (a->f_out > DT_RATIO * (a->f_echo / erle + a->noise))
		a->dt_hang = DT_HANG;
	else if (a->dt_hang)
		--a->dt_hang;
	a->dt = a->dt_hang > 0;

	if (ee > 10.0f * a->noise && !a->dt) {
		a->s_mic += c * (em - a->s_mic);
		a->s_out += c * (eo - a->s_out);
		a->s_ref += c * (er - a->s_ref);
		a->s_echo += c * (ee - a->s_echo);
	}
}

/**
 * Cancel the echo in one frame from the site. See dsp.h. RT-safe.
 *
 * @param aec  Echo control
 * @param mic  DSP_AEC_FRAME samples from the site
 * @param out  DSP_AEC_FRAME samples out (may be mic)
 */
void dsp_aec_capture(struct dsp_aec *aec, const int16_t *mic, int16_t *out)
{
	struct dsp_aec *a = aec;
	int16_t in[FR];
	float d[DFR];
	uint32_t phase;
	int i;

	if (!a || !mic || !out)
		return;

	/* the mic time base follows the reference frame for frame;
	 * resynchronise if the caller skipped one side */
	if (a->cpos + FR > a->wpos + 4 * FR || a->cpos + 4 * FR < a->wpos) {
		a->cpos = a->wpos >= FR ? a->wpos - FR : 0;
		a->mpos = a->cpos / DEC;
		a->hist_start = a->cpos;
		a->training = false;
	}
	for (i = 0; i < FR; i++) {
		a->mring[(a->cpos + (uint64_t)i) & a->mring_mask] = mic[i];
		a->mhist[DEC_TAPS - 1 + i] = (float)mic[i];
	}
	ref_catch_up(a);
	decimate(a->dec_h, a->mhist, d);
	for (i = 0; i < DFR; i++)
		a->dmic[(a->mpos + (uint64_t)i) & a->dmask] = d[i];
	a->mpos += DFR;

	/* spread the search so that no frame pays for more than one
	 * transform */
	phase = (uint32_t)(a->frames % BLOCK_FRAMES);
	if (phase == 0)
		block_fft(a);
	else if (phase == 1)
		block_phat(a);
	else if (phase == 2)
		block_decide(a);

	if (a->state == AEC_LOCKED) {
		++a->locked_frames;
		if (phase == 5 && a->locked_frames > 100 &&
		    (a->frames / BLOCK_FRAMES) % (IR_FRAMES /
						  BLOCK_FRAMES) == 0 &&
		    !a->dt)
			filter_peak(a);
		/* a step or a slew moved the alignment the shadow learnt */
		if (a->training && (a->slewing || a->steps))
			a->training = false;
		if (a->training)
			(void)train_run(a);
		align_update(a);
		read_aligned(a);
		memcpy(in, mic, sizeof(in));
		speex_echo_cancellation(a->echo, in, a->ref_al, out);
		a->ran = true;
		figures(a, in, out);
	}
	else {
		if (out != mic)
			memcpy(out, mic, FR * sizeof(*out));
		a->ran = false;
	}
	a->cpos += FR;
	++a->frames;
}

/**
 * The SpeexEchoState for the preprocessor. See dsp.h.
 *
 * @param aec  Echo control
 *
 * @return SpeexEchoState *, NULL if aec is NULL
 */
void *dsp_aec_speex_state(struct dsp_aec *aec)
{
	return aec ? aec->echo : NULL;
}

static float dbfs(float e)
{
	return e > 0.0f ? 10.0f * log10f(e / FS2) : DSP_SILENCE_DBFS;
}

/**
 * Current figures. See dsp.h. RT-safe.
 *
 * @param aec  Echo control
 * @param st   Filled in
 */
void dsp_aec_get_stats(const struct dsp_aec *aec, struct dsp_aec_stats *st)
{
	const struct dsp_aec *a = aec;

	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	st->delay_ms = -1.0f;
	st->echo_dbfs = st->residual_dbfs = DSP_SILENCE_DBFS;
	if (!a)
		return;
	st->search_corr = a->peak > 0.0f ? a->peak : 0.0f;
	if (a->state != AEC_LOCKED)
		return;
	st->delay_ms = (float)((a->adelay + MARGIN) * 1000.0 / SRATE);
	st->drift_ppm = (float)(-a->drift * 1e6);
	st->erl_db = a->s_echo > 0.0f && a->s_ref > 0.0f ?
		10.0f * log10f(a->s_ref / a->s_echo) : 0.0f;
	st->erle_db = a->s_out > 0.0f && a->s_mic > a->s_out ?
		10.0f * log10f(a->s_mic / a->s_out) : 0.0f;
	st->echo_dbfs = a->ran ? dbfs(a->echo_e) : DSP_SILENCE_DBFS;
	st->residual_dbfs = a->ran ? dbfs(a->resid_e) : DSP_SILENCE_DBFS;
	st->echo_present = a->confirmed;
	st->double_talk = a->dt;
	st->steps = a->steps;
}
