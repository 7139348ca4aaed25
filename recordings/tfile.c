/**
 * @file tfile.c  One file of a track: Ogg Opus through oggopus.c, FLAC and
 * WAV through libsndfile.
 *
 * FLAC and WAV: silence is written as zeros (FLAC codes a constant block
 * in a few bytes and almost no time). WAV headers are rewritten after
 * every write (SFC_SET_UPDATE_HEADER_AUTO) so that a killed process
 * leaves a WAV whose header tells its length; FLAC decoders read a file
 * whose STREAMINFO was never finalised to its end.
 *
 * Threads: the recorder's.
 */
#include <re.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sndfile.h>
#include "recint.h"

struct tfile {
	enum rec_format fmt;
	char path[REC_PATH_MAX];
	int fd;
	struct oggopus *op;
	SNDFILE *sf;
	uint64_t bytes;
};

static void destructor(void *arg)
{
	struct tfile *tf = arg;

	if (tf->op)
		(void)oggopus_close(tf->op);
	if (tf->sf)
		sf_close(tf->sf);
	else if (tf->fd >= 0)
		close(tf->fd);
}

/* libsndfile reports errors as its own codes; the system error that
 * caused a failed write is still in errno. */
static int sf_errno(SNDFILE *sf)
{
	int e = errno;

	if (sf_error(sf) == SF_ERR_NO_ERROR)
		return EIO;
	return e == ENOSPC || e == EFBIG || e == EDQUOT ? e : EIO;
}

int tfile_open(struct tfile **tfp, const char *path, enum rec_format fmt,
	       uint32_t bitrate_bps)
{
	struct tfile *tf;
	SF_INFO info;
	int err = 0;

	if (!tfp || !path)
		return EINVAL;
	tf = mem_zalloc(sizeof(*tf), destructor);
	if (!tf)
		return ENOMEM;
	tf->fmt = fmt;
	tf->fd = -1;
	str_ncpy(tf->path, path, sizeof(tf->path));
	tf->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (tf->fd < 0) {
		err = errno;
		goto out;
	}
	if (fmt == REC_OPUS) {
		err = oggopus_open(&tf->op, tf->fd, bitrate_bps);
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.samplerate = REC_SRATE;
	info.channels = 1;
	info.format = (fmt == REC_FLAC ? SF_FORMAT_FLAC : SF_FORMAT_WAV) |
		SF_FORMAT_PCM_16;
	tf->sf = sf_open_fd(tf->fd, SFM_WRITE, &info, true);
	if (!tf->sf) {
		err = EIO;
		goto out;
	}
	if (fmt == REC_WAV)
		(void)sf_command(tf->sf, SFC_SET_UPDATE_HEADER_AUTO, NULL,
				 SF_TRUE);
 out:
	if (err)
		mem_deref(tf);
	else
		*tfp = tf;
	return err;
}

int tfile_frame(struct tfile *tf, const int16_t *pcm, bool audio)
{
	static const int16_t zeros[REC_FRAME];

	if (!tf)
		return EINVAL;
	if (tf->op)
		return oggopus_frame(tf->op, pcm, audio);
	if (sf_writef_short(tf->sf, audio && pcm ? pcm : zeros, REC_FRAME) !=
	    REC_FRAME)
		return sf_errno(tf->sf);
	return 0;
}

int tfile_sync(struct tfile *tf)
{
	struct stat st;

	if (!tf)
		return EINVAL;
	if (tf->op) {
		int err = oggopus_sync(tf->op);

		tf->bytes = oggopus_bytes(tf->op);
		return err;
	}
	sf_write_sync(tf->sf);
	if (!fstat(tf->fd, &st))
		tf->bytes = (uint64_t)st.st_size;
	return 0;
}

int tfile_close(struct tfile *tf)
{
	int err = 0;

	if (!tf)
		return EINVAL;
	if (tf->op) {
		err = oggopus_close(tf->op);
		tf->op = NULL;
	}
	else if (tf->sf) {
		if (sf_close(tf->sf))
			err = EIO;
		tf->sf = NULL;
		tf->fd = -1;   /* closed by libsndfile (close_desc) */
	}
	if (tf->fd >= 0 && close(tf->fd) && !err)
		err = errno;
	tf->fd = -1;
	mem_deref(tf);
	return err;
}

uint64_t tfile_bytes(const struct tfile *tf)
{
	return tf ? tf->bytes : 0;
}
