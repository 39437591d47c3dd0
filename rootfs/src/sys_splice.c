/*
 * sys_splice: splice between pipes, files (in the scratch directory argv[1])
 * and sockets, with and without offsets; tee; vmsplice both ways; blocking,
 * nonblocking and end-of-file behaviour, SIGPIPE, and the error cases.
 * Prints results, data and errno names only.
 */
#include "sys_report.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static int pending(int fd)
{
	int n = -1;
	ioctl(fd, FIONREAD, &n);
	return n;
}

/* Reads what is there (nonblocking) and prints it. */
static void show(const char *label, int fd)
{
	char buf[256];
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	long n = read(fd, buf, sizeof buf - 1);
	fcntl(fd, F_SETFL, fl);
	if (n < 0) {
		report(label, n);
		return;
	}
	buf[n] = 0;
	printf("%s: \"%s\"\n", label, buf);
}

static void show_file(const char *label, const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	long n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = 0;
	printf("%s: \"%s\"\n", label, buf);
}

static long splice_(int in, loff_t *oi, int out, loff_t *oo, size_t len, unsigned flags)
{
	return syscall(SYS_splice, in, oi, out, oo, len, flags);
}

static void test_splice(const char *work)
{
	char src[512], dst[512];
	int p[2], q[2], sv[2];
	loff_t off;
	printf("-- splice\n");
	snprintf(src, sizeof src, "%s/src", work);
	snprintf(dst, sizeof dst, "%s/dst", work);
	int in = open(src, O_CREAT | O_RDWR | O_TRUNC, 0644);
	write(in, "0123456789abcdefghijklmnopqrstuvwxyz", 36);
	lseek(in, 0, SEEK_SET);
	int out = open(dst, O_CREAT | O_RDWR | O_TRUNC, 0644);
	pipe(p);
	pipe(q);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);

	off = 10;
	R("file to pipe at offset 10, 8 bytes", splice_(in, &off, p[1], NULL, 8, 0));
	printf("  offset now %lld, file position %ld\n", (long long)off, (long)lseek(in, 0, SEEK_CUR));
	show("  pipe holds", p[0]);
	R("file to pipe at the file position, 5 bytes", splice_(in, NULL, p[1], NULL, 5, 0));
	printf("  file position %ld\n", (long)lseek(in, 0, SEEK_CUR));
	R("pipe to file at offset 4", splice_(p[0], NULL, out, (off = 4, &off), 100, 0));
	printf("  offset now %lld, file position %ld\n", (long long)off, (long)lseek(out, 0, SEEK_CUR));
	write(p[1], "tail", 4);
	R("pipe to file at the file position", splice_(p[0], NULL, out, NULL, 100, 0));
	printf("  file position %ld\n", (long)lseek(out, 0, SEEK_CUR));
	show_file("  file", dst);
	write(p[1], "0123456789", 10);
	R("pipe to pipe, 4 of 10 bytes", splice_(p[0], NULL, q[1], NULL, 4, 0));
	printf("  left in the input %d, in the output %d\n", pending(p[0]), pending(q[0]));
	R("pipe to pipe, the rest", splice_(p[0], NULL, q[1], NULL, 100, 0));
	show("  output pipe holds", q[0]);
	write(p[1], "to a socket", 11);
	R("pipe to socket", splice_(p[0], NULL, sv[0], NULL, 100, 0));
	show("  socket received", sv[1]);
	write(sv[1], "from a socket", 13);
	R("socket to pipe", splice_(sv[0], NULL, p[1], NULL, 100, 0));
	show("  pipe holds", p[0]);
	lseek(in, 0, SEEK_END);
	R("file at its end to pipe", splice_(in, NULL, p[1], NULL, 100, 0));

	char big[512];
	snprintf(big, sizeof big, "%s/big", work);
	int bfd = open(big, O_CREAT | O_RDWR | O_TRUNC, 0644);
	static char chunk[200000];
	memset(chunk, 'b', sizeof chunk);
	write(bfd, chunk, sizeof chunk);
	R("200000-byte file to an empty pipe", splice_(bfd, (off = 0, &off), p[1], NULL, sizeof chunk, 0));
	R("again, into the full pipe, nonblocking", splice_(bfd, &off, p[1], NULL, sizeof chunk, SPLICE_F_NONBLOCK));
	R("pipe to pipe from the full pipe", splice_(p[0], NULL, q[1], NULL, sizeof chunk, 0));
	R("pipe to pipe into the full pipe, nonblocking", (write(p[1], "x", 1), splice_(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK)));
	int qfl = fcntl(q[1], F_GETFL);
	fcntl(q[1], F_SETFL, qfl | O_NONBLOCK);
	R("pipe to pipe into the full O_NONBLOCK pipe", splice_(p[0], NULL, q[1], NULL, 10, 0));
	fcntl(q[1], F_SETFL, qfl);
	char sink[65536];
	read(q[0], sink, sizeof sink);
	read(p[0], sink, sizeof sink);
	close(bfd);

	R("length 0 with bad fds", splice_(999, NULL, 998, NULL, 0, 0));
	R("unknown flag", splice_(p[0], NULL, out, NULL, 10, 0x10));
	R("bad input fd", splice_(999, NULL, p[1], NULL, 10, 0));
	R("bad output fd", splice_(p[0], NULL, 999, NULL, 10, 0));
	R("file to file", splice_(in, NULL, out, NULL, 10, 0));
	R("socket to file", splice_(sv[0], NULL, out, NULL, 10, 0));
	R("a pipe to itself", splice_(p[0], NULL, p[1], NULL, 10, 0));
	R("offset on the input pipe", splice_(p[0], (off = 0, &off), out, NULL, 10, 0));
	R("offset on the output pipe", splice_(in, NULL, p[1], (off = 0, &off), 10, 0));
	R("offset on the write end as input", splice_(p[1], (off = 0, &off), out, NULL, 10, 0));
	R("the write end as input", splice_(p[1], NULL, out, NULL, 10, 0));
	R("the read end as output", splice_(in, NULL, p[0], NULL, 10, 0));
	R("a bad input offset pointer", splice_(in, (loff_t *)8, p[1], NULL, 10, 0));
	R("a bad output offset pointer", splice_(p[0], NULL, out, (loff_t *)8, 10, 0));
	R("a negative input offset", splice_(in, (off = -1, &off), p[1], NULL, 10, 0));
	R("an offset on a socket", splice_(sv[0], (off = 0, &off), p[1], NULL, 10, 0));
	int wronly = open(src, O_WRONLY);
	R("a write-only file as input", splice_(wronly, NULL, p[1], NULL, 10, 0));
	close(wronly);
	int app = open(dst, O_WRONLY | O_APPEND);
	write(p[1], "x", 1);
	R("an O_APPEND file as output", splice_(p[0], NULL, app, NULL, 10, 0));
	close(app);
	read(p[0], sink, 1);
	int opath = open(src, O_PATH);
	R("an O_PATH fd as input", splice_(opath, NULL, p[1], NULL, 10, 0));
	close(opath);
	R("from an empty pipe, SPLICE_F_NONBLOCK", splice_(p[0], NULL, out, NULL, 10, SPLICE_F_NONBLOCK));
	int fl = fcntl(p[0], F_GETFL);
	fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
	R("from an empty O_NONBLOCK pipe", splice_(p[0], NULL, out, NULL, 10, 0));
	fcntl(p[0], F_SETFL, fl);

	pid_t child = fork();
	if (child == 0) {
		usleep(100000);
		write(p[1], "late", 4);
		_exit(0);
	}
	R("from an empty pipe, blocking until a writer comes", splice_(p[0], NULL, sv[0], NULL, 10, 0));
	waitpid(child, NULL, 0);
	show("  socket received", sv[1]);
	close(p[1]);
	R("from an empty pipe without writers", splice_(p[0], NULL, out, NULL, 10, 0));
	close(q[0]);
	signal(SIGPIPE, on_sigpipe);
	R("into a pipe without readers", splice_(in, (off = 0, &off), q[1], NULL, 10, 0));
	printf("  SIGPIPEs: %d\n", sigpipes);
	close(p[0]);
	close(q[1]);
	close(in);
	close(out);
	close(sv[0]);
	close(sv[1]);
}

static void test_tee(void)
{
	int p[2], q[2];
	printf("-- tee\n");
	pipe(p);
	pipe(q);
	write(p[1], "abcdef", 6);
	R("tee 4 of 6 bytes", tee(p[0], q[1], 4, 0));
	printf("  input still holds %d\n", pending(p[0]));
	show("  output holds", q[0]);
	R("tee more than there is", tee(p[0], q[1], 100, 0));
	show("  output holds", q[0]);
	show("  input holds", p[0]);
	R("tee from an empty pipe, SPLICE_F_NONBLOCK", tee(p[0], q[1], 10, SPLICE_F_NONBLOCK));
	R("tee length 0", tee(999, 998, 0, 0));
	R("tee unknown flag", tee(p[0], q[1], 10, 0x10));
	R("tee bad fd", tee(999, q[1], 10, 0));
	R("tee a pipe to itself", tee(p[0], p[1], 10, 0));
	R("tee the write end as input", tee(p[1], q[1], 10, 0));
	int fd = open("/dev/null", O_RDWR);
	R("tee to a file", tee(p[0], fd, 10, 0));
	R("tee from a file", tee(fd, q[1], 10, 0));
	close(fd);
	write(p[1], "x", 1);
	char fill[65536];
	memset(fill, 'f', sizeof fill);
	write(q[1], fill, sizeof fill);
	R("tee into a full pipe, SPLICE_F_NONBLOCK", tee(p[0], q[1], 10, SPLICE_F_NONBLOCK));
	close(q[0]);
	sigpipes = 0;
	R("tee into a pipe without readers", tee(p[0], q[1], 10, 0));
	printf("  SIGPIPEs: %d\n", sigpipes);
	close(p[1]);
	char c;
	read(p[0], &c, 1);
	R("tee from an empty pipe without writers", tee(p[0], q[1], 10, 0));
	close(p[0]);
	close(q[1]);
}

static void test_vmsplice(void)
{
	int p[2];
	char a[8], b[16];
	printf("-- vmsplice\n");
	pipe(p);
	struct iovec in[2] = { { "hel", 3 }, { "lo!", 3 } };
	R("vmsplice into the pipe", vmsplice(p[1], in, 2, 0));
	show("  pipe holds", p[0]);
	write(p[1], "vmsplice out", 12);
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	struct iovec out[2] = { { a, 3 }, { b, sizeof b - 1 } };
	R("vmsplice out of the pipe", vmsplice(p[0], out, 2, 0));
	printf("  \"%s\" \"%s\"\n", a, b);
	R("vmsplice out of an empty pipe, SPLICE_F_NONBLOCK", vmsplice(p[0], out, 2, SPLICE_F_NONBLOCK));
	R("vmsplice of nothing", vmsplice(p[0], out, 0, 0));
	int fd = open("/dev/null", O_RDWR);
	R("vmsplice of nothing to a file", vmsplice(fd, out, 0, 0));
	R("vmsplice to a file", vmsplice(fd, in, 2, 0));
	close(fd);
	R("vmsplice unknown flag", vmsplice(p[1], in, 2, 0x10));
	R("vmsplice bad fd", vmsplice(999, in, 2, 0));
	R("vmsplice bad iovec array", vmsplice(p[1], (struct iovec *)8, 2, 0));
	R("vmsplice 1025 iovecs", vmsplice(p[1], in, 1025, 0));
	struct iovec bad[1] = { { (void *)8, 10 } };
	R("vmsplice from a bad buffer", vmsplice(p[1], bad, 1, 0));
	write(p[1], "xy", 2);
	R("vmsplice to a bad buffer", vmsplice(p[0], bad, 1, 0));
	printf("  pipe still holds %d\n", pending(p[0]));
	char fill[65536];
	memset(fill, 'f', sizeof fill);
	read(p[0], fill, sizeof fill);
	write(p[1], fill, sizeof fill);
	R("vmsplice into a full pipe, SPLICE_F_NONBLOCK", vmsplice(p[1], in, 2, SPLICE_F_NONBLOCK));
	read(p[0], fill, sizeof fill);
	close(p[1]);
	R("vmsplice out of a pipe without writers", vmsplice(p[0], out, 2, 0));
	int q[2];
	pipe(q);
	close(q[0]);
	sigpipes = 0;
	R("vmsplice into a pipe without readers", vmsplice(q[1], in, 2, 0));
	printf("  SIGPIPEs: %d\n", sigpipes);
	close(q[1]);
	close(p[0]);
}

int main(int argc, char **argv)
{
	report_start();
	if (argc < 2) {
		fprintf(stderr, "usage: sys_splice WORKDIR\n");
		return 2;
	}
	test_splice(argv[1]);
	test_tee();
	test_vmsplice();
	return 0;
}
