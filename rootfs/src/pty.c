/*
 * pty: pseudo-terminals through /dev/ptmx and /dev/pts: posix_openpt, grantpt,
 * unlockpt, ptsname; the replica's lock, names and nodes; the default termios and
 * window size; canonical editing with its echo as the master reads it; ICRNL,
 * ECHONL, OPOST; raw mode with VMIN/VTIME; FIONREAD, TCFLSH, poll and O_NONBLOCK;
 * closing either end; and a child session leader taking the replica as its
 * controlling terminal (TIOCSCTTY, /dev/tty) and running a small shell-like loop
 * that gets SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, EOF and finally the hangup.
 * Everything printed is what Linux shows, without pty numbers or pids.
 */
#define _GNU_SOURCE
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>

/* Prints bytes with C escapes, so that echoes show exactly. */
static void show(const char *name, const char *buf, long n)
{
	printf("%s: \"", name);
	for (long i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c == '\n')
			printf("\\n");
		else if (c == '\r')
			printf("\\r");
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\" (%ld)\n", n);
	fflush(stdout);
}

/* Reads what the master has within a short while. */
static long drain(int m, char *buf, long size)
{
	long n = 0;
	struct pollfd p = {m, POLLIN, 0};
	while (n < size && poll(&p, 1, 200) == 1 && (p.revents & POLLIN)) {
		long r = read(m, buf + n, size - n);
		if (r <= 0)
			break;
		n += r;
	}
	return n;
}

/* Reads from the master until `marker` shows up (5 s at most). */
static long read_until(int m, char *buf, long size, const char *marker)
{
	long n = 0;
	buf[0] = 0;
	struct pollfd p = {m, POLLIN, 0};
	while (n < size - 1 && !strstr(buf, marker) && poll(&p, 1, 5000) == 1) {
		long r = read(m, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += r;
		buf[n] = 0;
	}
	return n;
}

static int open_pair(int *m, char *name)
{
	*m = posix_openpt(O_RDWR | O_NOCTTY);
	if (*m < 0 || grantpt(*m) || unlockpt(*m))
		return -1;
	strcpy(name, ptsname(*m));
	return open(name, O_RDWR | O_NOCTTY);
}

static void set_lflag(int s, tcflag_t on, tcflag_t off)
{
	struct termios t;
	tcgetattr(s, &t);
	t.c_lflag = (t.c_lflag | on) & ~off;
	tcsetattr(s, TCSANOW, &t);
}

/* Writes `in` to the master; shows what the replica reads and the echo. */
static void typed(int m, int s, const char *label, const char *in)
{
	char buf[256], name[64];
	write(m, in, strlen(in));
	long n = read(s, buf, sizeof buf);
	snprintf(name, sizeof name, "%s read", label);
	show(name, buf, n);
	n = drain(m, buf, sizeof buf);
	snprintf(name, sizeof name, "%s echo", label);
	show(name, buf, n);
}

static void basics(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK("posix_openpt", m >= 0);
	CHECK("grantpt", grantpt(m) == 0);
	char name[64];
	strcpy(name, ptsname(m));
	CHECK("ptsname is under /dev/pts", strncmp(name, "/dev/pts/", 9) == 0);
	int lock = -1;
	CHECK("TIOCGPTLCK locked", ioctl(m, TIOCGPTLCK, &lock) == 0 && lock == 1);
	CHECK_ERR("locked replica open: EIO", open(name, O_RDWR | O_NOCTTY), EIO);
	CHECK("master write before a replica is kept", write(m, "x\n", 2) == 2);
	CHECK("unlockpt", unlockpt(m) == 0);
	CHECK("TIOCGPTLCK unlocked", ioctl(m, TIOCGPTLCK, &lock) == 0 && lock == 0);
	int s = open(name, O_RDWR | O_NOCTTY);
	CHECK("replica opens", s >= 0);
	unsigned n = 0;
	CHECK("TIOCGPTN matches", ioctl(m, TIOCGPTN, &n) == 0 && atoi(name + 9) == (int)n);
	CHECK_ERR("TIOCGPTN on the replica: ENOTTY", ioctl(s, TIOCGPTN, &n), ENOTTY);
	CHECK("isatty replica", isatty(s));
	CHECK("isatty master", isatty(m));
	int p[2];
	pipe(p);
	CHECK("a pipe is no tty", !isatty(p[0]) && errno == ENOTTY);
	char *tn = ttyname(s);
	CHECK("ttyname of the replica", tn && strcmp(tn, name) == 0);
	char path[64], link[64] = {0};
	snprintf(path, sizeof path, "/proc/self/fd/%d", s);
	CHECK("fd link names the replica",
	      readlink(path, link, sizeof link - 1) > 0 && strcmp(link, name) == 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", m);
	memset(link, 0, sizeof link);
	readlink(path, link, sizeof link - 1);
	printf("master fd link: %s\n", link);
	struct stat a, b;
	CHECK("replica node", stat(name, &a) == 0 && S_ISCHR(a.st_mode) && major(a.st_rdev) == 136 &&
				       minor(a.st_rdev) == n);
	CHECK("fstat matches the node",
	      fstat(s, &b) == 0 && a.st_rdev == b.st_rdev && a.st_ino == b.st_ino);
	CHECK("/dev/ptmx node", stat("/dev/ptmx", &a) == 0 && S_ISCHR(a.st_mode) &&
					  a.st_rdev == makedev(5, 2));
	int found_n = 0, found_ptmx = 0;
	DIR *d = opendir("/dev/pts");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, name + 9) == 0)
			found_n = 1;
		if (strcmp(e->d_name, "ptmx") == 0)
			found_ptmx = 1;
	}
	closedir(d);
	CHECK("/dev/pts lists the replica and ptmx", found_n && found_ptmx);

	struct termios t;
	CHECK("tcgetattr", tcgetattr(s, &t) == 0);
	printf("termios: iflag %o oflag %o cflag %o lflag %o speed %u/%u\n", t.c_iflag, t.c_oflag,
	       t.c_cflag, t.c_lflag, cfgetispeed(&t), cfgetospeed(&t));
	printf("cc:");
	for (int i = 0; i < 17; i++)
		printf(" %d", t.c_cc[i]);
	printf("\n");
	struct termios tm;
	CHECK("master shares the settings", tcgetattr(m, &tm) == 0 && tm.c_lflag == t.c_lflag);
	struct winsize w = {1, 1, 1, 1};
	CHECK("default window size", ioctl(s, TIOCGWINSZ, &w) == 0 && w.ws_row == 0 &&
					     w.ws_col == 0 && w.ws_xpixel == 0);
	w = (struct winsize){24, 80, 0, 0};
	struct winsize w2;
	CHECK("window size set on the master",
	      ioctl(m, TIOCSWINSZ, &w) == 0 && ioctl(s, TIOCGWINSZ, &w2) == 0 && w2.ws_row == 24 &&
		      w2.ws_col == 80);
	pid_t pg;
	CHECK_ERR("TIOCGPGRP of a terminal not ours: ENOTTY", ioctl(s, TIOCGPGRP, &pg), ENOTTY);
	CHECK("TIOCGPGRP on the master without session", ioctl(m, TIOCGPGRP, &pg) == 0 && pg == 0);
	CHECK_ERR("TIOCGSID on the master without session: ENOTTY", ioctl(m, TIOCGSID, &pg),
		  ENOTTY);
	CHECK_ERR("TIOCSPGRP not ours: ENOTTY", tcsetpgrp(s, getpgrp()), ENOTTY);
	CHECK_ERR("TIOCNOTTY not ours: ENOTTY", ioctl(s, TIOCNOTTY), ENOTTY);
	int q;
	CHECK("TIOCOUTQ", ioctl(s, TIOCOUTQ, &q) == 0 && q == 0);

	int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	CHECK("TIOCGPTPEER", peer >= 0 && isatty(peer));
	tn = ttyname(peer);
	CHECK("ttyname of the peer", tn && strcmp(tn, name) == 0);
	CHECK_ERR("TIOCGPTPEER on the replica: EIO", ioctl(s, TIOCGPTPEER, O_RDWR), EIO);
	long got = read(s, link, sizeof link);
	show("read what came before the replica", link, got);
	close(peer);
	close(s);
	close(m);
	close(p[0]);
	close(p[1]);
}

static void canonical(void)
{
	char name[64], buf[256];
	int m, s = open_pair(&m, name);
	CHECK("pair", s >= 0);
	typed(m, s, "line", "hello\n");
	typed(m, s, "erase", "abx\177c\n");
	typed(m, s, "erase past start", "\177\177a\n");
	typed(m, s, "kill", "junk\025ok\n");
	typed(m, s, "werase", "one two\027three\n");
	typed(m, s, "ctl echo", "\001\t\n");
	typed(m, s, "cr", "cr\r");
	typed(m, s, "eof ends a line", "partial\004");
	typed(m, s, "eof alone", "\004");
	typed(m, s, "lnext", "a\026\025b\n");

	write(m, "two\nlines\n", 10);
	drain(m, buf, sizeof buf);
	long n = read(s, buf, 2);
	show("short read", buf, n);
	n = read(s, buf, sizeof buf);
	show("rest of the line", buf, n);
	int avail = -1;
	CHECK("FIONREAD counts the next line", ioctl(s, FIONREAD, &avail) == 0 && avail == 6);
	n = read(s, buf, sizeof buf);
	show("next line", buf, n);

	write(m, "xyz", 3);
	n = drain(m, buf, sizeof buf);
	show("partial echo", buf, n);
	struct pollfd p = {s, POLLIN, 0};
	CHECK("partial line is not readable", poll(&p, 1, 0) == 0);
	CHECK("FIONREAD of a partial line", ioctl(s, FIONREAD, &avail) == 0 && avail == 0);
	fcntl(s, F_SETFL, O_NONBLOCK);
	CHECK_ERR("nonblocking read: EAGAIN", read(s, buf, sizeof buf), EAGAIN);
	write(m, "\n", 1);
	CHECK("complete line polls readable", poll(&p, 1, 0) == 1 && p.revents == POLLIN);
	n = read(s, buf, sizeof buf);
	show("completed line", buf, n);
	drain(m, buf, sizeof buf);
	fcntl(s, F_SETFL, 0);

	write(m, "flushed\n", 8);
	n = drain(m, buf, sizeof buf);
	show("echo of flushed input", buf, n);
	CHECK("TCFLSH", tcflush(s, TCIFLUSH) == 0);
	CHECK("flushed input", ioctl(s, FIONREAD, &avail) == 0 && avail == 0);
	CHECK("TCFLSH on the master", tcflush(m, TCIOFLUSH) == 0);
	CHECK_ERR("TCFLSH bad queue: EINVAL", ioctl(s, TCFLSH, 7), EINVAL);

	set_lflag(s, 0, ECHO);
	typed(m, s, "no echo", "secret\n");
	set_lflag(s, ECHONL, 0);
	typed(m, s, "echonl", "x\n");
	set_lflag(s, ECHO, ECHONL | ECHOE);
	typed(m, s, "erase without ECHOE", "ab\177\n");
	set_lflag(s, ECHOE, ECHOCTL);
	typed(m, s, "no ECHOCTL", "\001\n");
	set_lflag(s, ECHOCTL, 0);

	write(s, "out\nput\n", 8);
	n = drain(m, buf, sizeof buf);
	show("output with ONLCR", buf, n);
	struct termios t;
	tcgetattr(s, &t);
	t.c_oflag &= ~OPOST;
	tcsetattr(s, TCSANOW, &t);
	write(s, "raw\nout", 7);
	n = drain(m, buf, sizeof buf);
	show("output without OPOST", buf, n);
	t.c_oflag |= OPOST;
	t.c_iflag &= ~ICRNL;
	t.c_iflag |= INLCR;
	tcsetattr(s, TCSANOW, &t);
	write(m, "a\r\nb\r", 5);
	set_lflag(s, 0, ICANON);
	n = read(s, buf, sizeof buf);
	show("INLCR without ICRNL", buf, n);
	drain(m, buf, sizeof buf);
	close(s);
	close(m);
}

static int master_fd;

static void *late_writer(void *arg)
{
	usleep(100000);
	write(master_fd, arg, strlen(arg));
	return NULL;
}

static void raw_mode(void)
{
	char name[64], buf[256];
	int m, s = open_pair(&m, name);
	struct termios t;
	tcgetattr(s, &t);
	cfmakeraw(&t);
	CHECK("cfmakeraw applied", tcsetattr(s, TCSANOW, &t) == 0);
	write(m, "\003q\r", 3);
	long n = read(s, buf, sizeof buf);
	show("raw read", buf, n);
	CHECK("raw mode: no echo", drain(m, buf, sizeof buf) == 0);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &t);
	CHECK("VMIN 0 VTIME 0: read returns 0", read(s, buf, sizeof buf) == 0);
	t.c_cc[VTIME] = 1;
	tcsetattr(s, TCSANOW, &t);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	n = read(s, buf, sizeof buf);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	CHECK("VMIN 0 VTIME 1: 0 after a tenth of a second", n == 0 && ms >= 80 && ms < 2000);
	t.c_cc[VMIN] = 3;
	t.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &t);
	master_fd = m;
	write(m, "ab", 2);
	pthread_t th;
	pthread_create(&th, NULL, late_writer, "cd");
	n = read(s, buf, sizeof buf);
	pthread_join(th, NULL);
	show("VMIN 3 waits for 3", buf, n);
	t.c_cc[VMIN] = 1;
	tcsetattr(s, TCSANOW, &t);
	pthread_create(&th, NULL, late_writer, "z");
	n = read(s, buf, sizeof buf);
	pthread_join(th, NULL);
	show("VMIN 1 blocks for a byte", buf, n);
	fcntl(s, F_SETFL, O_NONBLOCK);
	CHECK_ERR("raw nonblocking: EAGAIN", read(s, buf, sizeof buf), EAGAIN);
	fcntl(s, F_SETFL, 0);
	write(m, "kept", 4);
	struct pollfd p = {s, POLLIN, 0};
	CHECK("raw input polls readable", poll(&p, 1, 5000) == 1);
	set_lflag(s, ICANON | ECHO, 0);
	n = read(s, buf, sizeof buf);
	show("raw input becomes a line", buf, n);
	close(s);
	close(m);
}

static void closing(void)
{
	char name[64], buf[64];
	int m, s = open_pair(&m, name);
	write(s, "bye\n", 4);
	close(s);
	long n = read(m, buf, sizeof buf);
	show("master reads what was left", buf, n);
	struct pollfd p = {m, POLLIN, 0};
	CHECK("master polls hung up", poll(&p, 1, 0) == 1 && (p.revents & POLLHUP));
	CHECK_ERR("master read after the replica closed: EIO", read(m, buf, sizeof buf), EIO);
	CHECK("master write after the replica closed is kept", write(m, "x", 1) == 1);
	s = open(name, O_RDWR | O_NOCTTY);
	CHECK("replica opens again", s >= 0);
	CHECK("master writes again", write(m, "y\n", 2) == 2);
	close(m);
	CHECK("replica read after the master closed: 0", read(s, buf, sizeof buf) == 0);
	CHECK_ERR("replica write after the master closed: EIO", write(s, "x", 1), EIO);
	struct termios t;
	CHECK_ERR("tcgetattr after the master closed: EIO", tcgetattr(s, &t), EIO);
	p.fd = s;
	p.events = POLLIN | POLLOUT;
	CHECK("hung-up replica polls", poll(&p, 1, 0) == 1 &&
					       p.revents == (POLLIN | POLLOUT | POLLHUP | POLLERR));
	close(s);
	CHECK_ERR("replica gone from /dev/pts", open(name, O_RDWR | O_NOCTTY), ENOENT);
}

static volatile sig_atomic_t last_sig;

static void on_sig(int sig)
{
	last_sig = sig;
}

/* The child: a session leader on the replica, answering lines. */
static int shell(int s)
{
	setsid();
	int ok_ctty = ioctl(s, TIOCSCTTY, 0) == 0;
	dup2(s, 0);
	dup2(s, 1);
	dup2(s, 2);
	close(s);
	struct sigaction sa = {0};
	sa.sa_handler = on_sig;
	int sigs[] = {SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, SIGHUP, SIGCONT};
	for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
	pid_t pg = -1, sid = -1;
	int fg = tcgetpgrp(0) == getpid();
	int sid_ok = ioctl(0, TIOCGSID, &sid) == 0 && sid == getpid();
	int tty = open("/dev/tty", O_RDWR);
	char *tn = tty >= 0 ? ttyname(tty) : NULL;
	const char *devtty = tn ? tn : "none";
	struct stat st;
	int tty_node = fstat(tty, &st) == 0 && st.st_rdev == makedev(5, 0);
	int setpg = tcsetpgrp(0, getpid()) == 0 && ioctl(tty, TIOCGPGRP, &pg) == 0 && pg == getpid();
	printf("ready ctty=%d fg=%d sid=%d devtty=%s node=%d setpgrp=%d\n", ok_ctty, fg, sid_ok,
	       devtty, tty_node, setpg);
	fflush(stdout);
	char line[128];
	for (;;) {
		last_sig = 0;
		long n = read(0, line, sizeof line - 1);
		if (n < 0 && errno == EINTR) {
			if (last_sig == SIGWINCH) {
				struct winsize w;
				ioctl(0, TIOCGWINSZ, &w);
				printf("winch %dx%d\n", w.ws_row, w.ws_col);
			} else {
				printf("signal %s\n", strsignal(last_sig));
			}
			fflush(stdout);
			continue;
		}
		if (n < 0)
			break;
		if (n == 0) {
			printf("eof\n");
			fflush(stdout);
			continue;
		}
		line[n] = 0;
		if (strcmp(line, "hangup\n") == 0)
			break;
		printf("got [%.*s]\n", (int)n - 1, line);
		fflush(stdout);
	}
	/* Wait for the hangup's SIGHUP, then see the hung-up terminal. */
	for (int i = 0; i < 5000 && last_sig != SIGHUP && last_sig != SIGCONT; i++)
		usleep(1000);
	int got_hup = last_sig == SIGHUP || last_sig == SIGCONT;
	char c;
	int eof = read(0, &c, 1) == 0;
	int eio = write(1, "x", 1) == -1 && errno == EIO;
	int lost = open("/dev/tty", O_RDWR) == -1 && errno == ENXIO;
	return (got_hup ? 1 : 0) | (eof ? 2 : 0) | (eio ? 4 : 0) | (lost ? 8 : 0) | 16;
}

static void session(void)
{
	char name[64], buf[512];
	int m, s = open_pair(&m, name);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(m);
		_exit(shell(s));
	}
	close(s);
	long n = read_until(m, buf, sizeof buf, "\n");
	show("child", buf, n);
	struct {
		const char *label, *in, *until;
	} steps[] = {
		{"line", "hello\n", "got [hello]"},
		{"edited line", "edit\177\177\177\177\177x\n", "got [x]"},
		{"^C", "\003", "signal"},
		{"^\\", "\034", "signal"},
		{"^Z", "\032", "signal"},
		{"^C flushes typed-ahead input", "typed ahead\003", "signal"},
		{"^D", "\004", "eof"},
		{"after", "after\n", "got [after]"},
	};
	for (unsigned i = 0; i < sizeof steps / sizeof *steps; i++) {
		write(m, steps[i].in, strlen(steps[i].in));
		n = read_until(m, buf, sizeof buf, steps[i].until);
		n += drain(m, buf + n, sizeof buf - n);
		show(steps[i].label, buf, n);
	}
	struct winsize w = {30, 100, 0, 0};
	ioctl(m, TIOCSWINSZ, &w);
	n = read_until(m, buf, sizeof buf, "winch");
	n += drain(m, buf + n, sizeof buf - n);
	show("resize", buf, n);
	ioctl(m, TIOCSWINSZ, &w);
	write(m, "same size\n", 10);
	n = read_until(m, buf, sizeof buf, "got [same size]");
	n += drain(m, buf + n, sizeof buf - n);
	show("same size again: no SIGWINCH", buf, n);
	pid_t pg = 0;
	CHECK("master TIOCGPGRP is the child's group", ioctl(m, TIOCGPGRP, &pg) == 0 && pg == pid);
	CHECK("master TIOCGSID is the child's session", ioctl(m, TIOCGSID, &pg) == 0 && pg == pid);
	write(m, "hangup\n", 7);
	drain(m, buf, sizeof buf);
	close(m);
	int status;
	waitpid(pid, &status, 0);
	printf("child: exited %d status %d (sighup, eof, eio, no /dev/tty)\n", WIFEXITED(status),
	       WEXITSTATUS(status));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	basics();
	canonical();
	raw_mode();
	closing();
	session();
	return summary();
}
