/*
 * aio: Linux native AIO through the raw syscalls, as libaio makes them:
 * io_setup's ring (Linux's struct aio_ring in our memory, which libaio reads
 * without a syscall), reads, writes, vectored I/O and fsync completing with
 * their results, eventfd notification, io_getevents' min_nr, timeouts and
 * signals, io_cancel of a finished request, io_destroy, and the argument
 * checks.
 */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>

struct ring {
	unsigned id, nr, head, tail, magic, compat, incompat, header_length;
	struct io_event events[];
};

static long setup(unsigned nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long submit(aio_context_t ctx, long nr, struct iocb **list)
{
	return syscall(SYS_io_submit, ctx, nr, list);
}

static long getevents(aio_context_t ctx, long min, long nr, struct io_event *ev, struct timespec *ts)
{
	return syscall(SYS_io_getevents, ctx, min, nr, ev, ts);
}

static struct iocb cb(int op, int fd, void *buf, size_t n, off_t off, uint64_t data)
{
	return (struct iocb){.aio_data = data,
			     .aio_lio_opcode = op,
			     .aio_fildes = fd,
			     .aio_buf = (uintptr_t)buf,
			     .aio_nbytes = n,
			     .aio_offset = off};
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	char path[512];
	snprintf(path, sizeof path, "%s/aio", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	aio_context_t ctx = 0;
	CHECK("io_setup", setup(8, &ctx) == 0 && ctx != 0);
	struct ring *r = (struct ring *)ctx;
	CHECK("the ring is Linux's", r->magic == 0xa10a10a1 && r->head == 0 && r->tail == 0 &&
					    r->header_length == sizeof(struct ring) && r->nr >= 16);
	aio_context_t again = ctx;
	CHECK_ERR("a context id that is not 0: EINVAL", setup(8, &again), EINVAL);
	aio_context_t zero = 0;
	CHECK_ERR("0 events: EINVAL", setup(0, &zero), EINVAL);
	CHECK_ERR("a bad pointer: EFAULT", setup(8, (aio_context_t *)8), EFAULT);

	char out[64] = "hello, asynchronous world";
	struct iocb w = cb(IOCB_CMD_PWRITE, fd, out, 25, 100, 1);
	struct iocb *list[4] = {&w};
	CHECK("io_submit a write", submit(ctx, 1, list) == 1);
	CHECK("the completion is on the ring", r->tail == 1 && r->head == 0);
	struct io_event ev[8];
	CHECK("io_getevents reaps it", getevents(ctx, 1, 8, ev, NULL) == 1 && ev[0].data == 1 &&
					       ev[0].obj == (uintptr_t)&w && ev[0].res == 25 && ev[0].res2 == 0);
	CHECK("and moves the head", r->head == r->tail);

	char in[64] = {0}, a[8] = {0}, b[32] = {0};
	struct iocb rd = cb(IOCB_CMD_PREAD, fd, in, 64, 100, 2);
	struct iovec iov[2] = {{a, 7}, {b, 18}};
	struct iocb rv = cb(IOCB_CMD_PREADV, fd, iov, 2, 100, 3);
	struct iocb sync = cb(IOCB_CMD_FSYNC, fd, NULL, 0, 0, 4);
	struct iocb past = cb(IOCB_CMD_PREAD, fd, in, 64, 4096, 5);
	struct iocb *batch[4] = {&rd, &rv, &sync, &past};
	CHECK("a batch of four", submit(ctx, 4, batch) == 4);
	long n = getevents(ctx, 4, 8, ev, NULL);
	CHECK("four completions", n == 4);
	long res[6] = {0};
	for (long i = 0; i < n; i++)
		if (ev[i].data < 6)
			res[ev[i].data] = ev[i].res;
	printf("results: read %ld, readv %ld, fsync %ld, read past the end %ld\n", res[2], res[3], res[4], res[5]);
	CHECK("the read's bytes", memcmp(in, "hello, asynchronous world", 25) == 0);
	CHECK("the vectored read's", memcmp(a, "hello, ", 7) == 0 && memcmp(b, "asynchronous world", 18) == 0);

	struct iocb bad_buf = cb(IOCB_CMD_PREAD, fd, (void *)8, 16, 100, 6);
	struct iocb *one[1] = {&bad_buf};
	CHECK("a bad buffer is submitted", submit(ctx, 1, one) == 1);
	CHECK("and completes with -EFAULT", getevents(ctx, 1, 1, ev, NULL) == 1 && ev[0].res == -EFAULT);

	struct iocb bad_op = cb(99, fd, in, 1, 0, 7);
	one[0] = &bad_op;
	CHECK_ERR("an unknown opcode: EINVAL", submit(ctx, 1, one), EINVAL);
	struct iocb bad_fd = cb(IOCB_CMD_PREAD, 999, in, 1, 0, 8);
	one[0] = &bad_fd;
	CHECK_ERR("a bad fd: EBADF", submit(ctx, 1, one), EBADF);
	int ro = open(path, O_RDONLY);
	struct iocb wro = cb(IOCB_CMD_PWRITE, ro, out, 1, 0, 9);
	one[0] = &wro;
	CHECK_ERR("a write to a read-only fd: EBADF", submit(ctx, 1, one), EBADF);
	struct iocb bad_sync = cb(IOCB_CMD_FSYNC, fd, in, 1, 0, 10);
	one[0] = &bad_sync;
	CHECK_ERR("fsync with a buffer: EINVAL", submit(ctx, 1, one), EINVAL);
	struct iocb good = cb(IOCB_CMD_PREAD, fd, in, 4, 100, 11);
	struct iocb *mixed[2] = {&good, &bad_op};
	CHECK("a batch whose second fails submits the first", submit(ctx, 2, mixed) == 1);
	CHECK("reaped", getevents(ctx, 1, 8, ev, NULL) == 1 && ev[0].data == 11);
	CHECK_ERR("a bad list: EFAULT", submit(ctx, 1, (struct iocb **)8), EFAULT);
	CHECK_ERR("a negative count: EINVAL", submit(ctx, -1, list), EINVAL);
	CHECK("a count of 0", submit(ctx, 0, list) == 0);
	CHECK_ERR("an unknown context: EINVAL", submit(12345, 1, list), EINVAL);

	int efd = eventfd(0, 0);
	struct iocb note = cb(IOCB_CMD_PREAD, fd, in, 4, 100, 12);
	note.aio_flags = IOCB_FLAG_RESFD;
	note.aio_resfd = efd;
	one[0] = &note;
	uint64_t count = 0;
	CHECK("IOCB_FLAG_RESFD signals the eventfd",
	      submit(ctx, 1, one) == 1 && read(efd, &count, 8) == 8 && count == 1);
	getevents(ctx, 1, 1, ev, NULL);
	note.aio_resfd = fd;
	CHECK_ERR("a resfd that is no eventfd: EINVAL", submit(ctx, 1, one), EINVAL);

	struct timespec ts = {0, 50000000};
	CHECK("nothing within the timeout: 0", getevents(ctx, 1, 1, ev, &ts) == 0);
	CHECK("min_nr 0 returns at once", getevents(ctx, 0, 1, ev, NULL) == 0);
	CHECK_ERR("min_nr above nr: EINVAL", getevents(ctx, 2, 1, ev, NULL), EINVAL);
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	CHECK_ERR("a signal: EINTR", getevents(ctx, 1, 1, ev, NULL), EINTR);

	struct io_event res_ev;
	struct iocb done = cb(IOCB_CMD_PREAD, fd, in, 4, 100, 13);
	one[0] = &done;
	submit(ctx, 1, one);
	CHECK_ERR("io_cancel of a finished request: EINVAL", syscall(SYS_io_cancel, ctx, &done, &res_ev), EINVAL);
	getevents(ctx, 1, 1, ev, NULL);

	int p[2];
	if (pipe(p) != 0)
		return 2;
	write(p[1], "pipe", 4);
	struct iocb pr = cb(IOCB_CMD_PREAD, p[0], in, 64, 0, 14);
	one[0] = &pr;
	CHECK("a read from a pipe", submit(ctx, 1, one) == 1 && getevents(ctx, 1, 1, ev, NULL) == 1 &&
					    ev[0].res == 4 && memcmp(in, "pipe", 4) == 0);

	CHECK("io_destroy", syscall(SYS_io_destroy, ctx) == 0);
	CHECK_ERR("then the context is gone", submit(ctx, 1, list), EINVAL);
	CHECK_ERR("destroying it again: EINVAL", syscall(SYS_io_destroy, ctx), EINVAL);
	close(fd);
	unlink(path);
	return summary();
}
