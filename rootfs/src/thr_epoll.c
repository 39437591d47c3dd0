/*
 * thr_epoll: an epoll loop over two pipes, an eventfd and a timerfd, fed by
 * a forked writer and a thread; then poll() and select() over the same
 * kinds of files.
 *
 * The writer child obeys one-byte commands on a control pipe and
 * acknowledges each on another pipe, so the parent knows exactly what has
 * been written before it looks: every step's set of ready events is fixed.
 * Events are printed sorted by source (A: level-triggered pipe, B:
 * edge-triggered pipe, E: eventfd with EPOLLONESHOT, T: timerfd), one line
 * per epoll_wait, as "label: A:IN B:IN|HUP" or "label: none".
 *
 * Covered: level-triggered readiness that persists until drained,
 * edge-triggered readiness that fires once per new write, EPOLLONESHOT
 * disarming and EPOLL_CTL_MOD re-arming, a one-shot timerfd expiring, a
 * blocking epoll_wait woken by the child and by a thread, EPOLLHUP when the
 * writer goes away (once for the edge-triggered pipe), EPOLL_CTL_DEL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SRC_A = 1, SRC_B, SRC_E, SRC_T };

static int ep, pa[2], pb[2], efd, tfd, ctl[2], ack[2];

static void sleep_ms(long ms)
{
	struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
}

/* The writer child: executes commands until 'q'. */
static void writer(void)
{
	unsigned char cmd[2];
	char buf[256];
	memset(buf, 'w', sizeof(buf));
	while (read(ctl[0], cmd, 2) == 2) {
		switch (cmd[0]) {
		case 'a':
			(void)!write(pa[1], buf, cmd[1]);
			break;
		case 'b':
			(void)!write(pb[1], buf, cmd[1]);
			break;
		case 'e': {
			uint64_t v = cmd[1];
			(void)!write(efd, &v, sizeof(v));
			break;
		}
		case 'd':
			sleep_ms(cmd[1]);
			(void)!write(pa[1], buf, 1);
			break;
		case 'A':
			close(pa[1]);
			break;
		case 'q':
			_exit(0);
		}
		(void)!write(ack[1], "k", 1);
	}
	_exit(1);
}

/* Sends a command and, unless `wait_ack` is 0, waits for it to be done. */
static void command(char c, int arg, int wait_ack)
{
	unsigned char cmd[2] = {(unsigned char)c, (unsigned char)arg};
	(void)!write(ctl[1], cmd, 2);
	if (wait_ack) {
		char k;
		(void)!read(ack[0], &k, 1);
	}
}

static void flags(char *out, uint32_t ev)
{
	out[0] = 0;
	const struct {
		uint32_t bit;
		const char *name;
	} names[] = {{EPOLLIN, "IN"}, {EPOLLOUT, "OUT"}, {EPOLLERR, "ERR"}, {EPOLLHUP, "HUP"},
		     {EPOLLRDHUP, "RDHUP"}, {EPOLLPRI, "PRI"}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ev & names[i].bit) {
			if (out[0])
				strcat(out, "|");
			strcat(out, names[i].name);
		}
}

static int by_source(const void *a, const void *b)
{
	const struct epoll_event *x = a, *y = b;
	return (int)x->data.u32 - (int)y->data.u32;
}

static void wait_and_print(const char *label, int timeout_ms)
{
	struct epoll_event evs[8];
	int n = epoll_wait(ep, evs, 8, timeout_ms);
	printf("%s:", label);
	if (n < 0) {
		printf(" error %s\n", strerror(errno));
		return;
	}
	if (n == 0)
		printf(" none");
	qsort(evs, (size_t)n, sizeof(evs[0]), by_source);
	for (int i = 0; i < n; i++) {
		char f[64];
		flags(f, evs[i].events);
		printf(" %c:%s", " ABET"[evs[i].data.u32], f);
	}
	printf("\n");
}

static void add(int fd, uint32_t events, uint32_t src)
{
	struct epoll_event ev = {.events = events, .data.u32 = src};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		printf("epoll_ctl ADD %d: %s\n", src, strerror(errno));
}

static void rearm_eventfd(void)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = SRC_E};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev) != 0)
		printf("epoll_ctl MOD: %s\n", strerror(errno));
}

static long drain(int fd, long max)
{
	char buf[256];
	long r = read(fd, buf, (size_t)max);
	return r;
}

static uint64_t read_counter(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return (uint64_t)-1;
	return v;
}

static void *thread_writer(void *arg)
{
	sleep_ms(50);
	uint64_t v = 9;
	(void)!write(efd, &v, sizeof(v));
	return NULL;
}

static void epoll_part(void)
{
	pipe(pa);
	pipe(pb);
	pipe(ctl);
	pipe(ack);
	efd = eventfd(0, EFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	pid_t child = fork();
	if (child == 0) {
		close(pa[0]);
		close(pb[0]);
		writer();
	}
	/* Only the child holds the write ends: its exit is a hang-up. */
	close(pa[1]);
	close(pb[1]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	add(pa[0], EPOLLIN, SRC_A);
	add(pb[0], EPOLLIN | EPOLLET, SRC_B);
	add(efd, EPOLLIN | EPOLLONESHOT, SRC_E);
	add(tfd, EPOLLIN, SRC_T);

	wait_and_print("nothing written", 0);

	command('a', 10, 1);
	wait_and_print("A: 10 bytes written", 0);
	wait_and_print("A: level-triggered, again", 0);
	printf("  read %ld\n", drain(pa[0], 4));
	wait_and_print("A: 6 bytes left", 0);
	printf("  read %ld\n", drain(pa[0], 100));
	wait_and_print("A: drained", 0);

	command('b', 10, 1);
	wait_and_print("B: 10 bytes written", 0);
	wait_and_print("B: edge-triggered, no new data", 0);
	command('b', 5, 1);
	wait_and_print("B: 5 more bytes", 0);
	wait_and_print("B: again", 0);
	printf("  read %ld\n", drain(pb[0], 100));
	wait_and_print("B: drained", 0);

	command('e', 3, 1);
	wait_and_print("E: eventfd += 3", 0);
	wait_and_print("E: one-shot, disarmed", 0);
	rearm_eventfd();
	wait_and_print("E: re-armed with MOD", 0);
	printf("  eventfd read %llu\n", (unsigned long long)read_counter(efd));
	command('e', 2, 1);
	wait_and_print("E: eventfd += 2 while disarmed", 0);
	rearm_eventfd();
	wait_and_print("E: re-armed", 0);
	printf("  eventfd read %llu\n", (unsigned long long)read_counter(efd));

	struct itimerspec its = {{0, 0}, {0, 200 * 1000 * 1000}};
	timerfd_settime(tfd, 0, &its, NULL);
	wait_and_print("T: armed for 200 ms", 0);
	wait_and_print("T: blocking wait", 5000);
	printf("  timerfd read %llu\n", (unsigned long long)read_counter(tfd));
	wait_and_print("T: read", 0);

	command('d', 50, 0);
	wait_and_print("A: blocking wait, child writes in 50 ms", 5000);
	printf("  read %ld\n", drain(pa[0], 100));
	char k;
	(void)!read(ack[0], &k, 1);

	rearm_eventfd();
	pthread_t thread;
	pthread_create(&thread, NULL, thread_writer, NULL);
	wait_and_print("E: blocking wait, thread writes in 50 ms", 5000);
	pthread_join(thread, NULL);
	printf("  eventfd read %llu\n", (unsigned long long)read_counter(efd));

	command('A', 0, 1);
	wait_and_print("A: writer closed", 0);
	command('q', 0, 0);
	int status;
	waitpid(child, &status, 0);
	wait_and_print("child exited", 0);
	wait_and_print("child exited, again", 0);
	epoll_ctl(ep, EPOLL_CTL_DEL, pa[0], NULL);
	wait_and_print("A deleted", 0);
	errno = 0;
	int r = epoll_ctl(ep, EPOLL_CTL_DEL, pa[0], NULL);
	printf("  delete again: %d %s\n", r, errno == ENOENT ? "ENOENT" : "?");
	close(ep);
	close(pa[0]);
	close(pb[0]);
	close(efd);
	close(tfd);
	close(ctl[0]);
	close(ctl[1]);
	close(ack[0]);
	close(ack[1]);
}

static void revents(char *out, short ev)
{
	out[0] = 0;
	const struct {
		short bit;
		const char *name;
	} names[] = {{POLLIN, "IN"}, {POLLOUT, "OUT"}, {POLLERR, "ERR"}, {POLLHUP, "HUP"},
		     {POLLNVAL, "NVAL"}, {POLLPRI, "PRI"}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ev & names[i].bit) {
			if (out[0])
				strcat(out, "|");
			strcat(out, names[i].name);
		}
	if (!out[0])
		strcpy(out, "-");
}

static void poll_select_part(void)
{
	int empty[2], full[2];
	pipe(empty);
	pipe(full);
	(void)!write(full[1], "x", 1);
	int ev = eventfd(5, 0);
	int idle_ev = eventfd(0, 0);
	int tf = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = {{0, 0}, {0, 1000 * 1000}};
	timerfd_settime(tf, 0, &its, NULL);
	sleep_ms(20);
	const char *names[] = {"empty pipe", "pipe with data", "pipe write end", "eventfd 5",
			       "eventfd 0", "expired timerfd", "closed fd"};
	int fds[] = {empty[0], full[0], empty[1], ev, idle_ev, tf, 1000};
	int n = sizeof(fds) / sizeof(fds[0]);

	struct pollfd pfds[8];
	for (int i = 0; i < n; i++)
		pfds[i] = (struct pollfd){fds[i], POLLIN | POLLOUT, 0};
	pfds[2].events = POLLOUT;
	int r = poll(pfds, (nfds_t)n, 0);
	printf("poll: %d ready\n", r);
	for (int i = 0; i < n; i++) {
		char f[64];
		revents(f, pfds[i].revents);
		printf("  %s: %s\n", names[i], f);
	}

	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	int maxfd = 0;
	for (int i = 0; i < n - 1; i++) {
		if (i != 2)
			FD_SET(fds[i], &rd);
		FD_SET(fds[i], &wr);
		if (fds[i] > maxfd)
			maxfd = fds[i];
	}
	struct timeval tv = {0, 0};
	r = select(maxfd + 1, &rd, &wr, NULL, &tv);
	printf("select: %d bits set\n", r);
	for (int i = 0; i < n - 1; i++)
		printf("  %s: %s%s\n", names[i], FD_ISSET(fds[i], &rd) ? "read " : "",
		       FD_ISSET(fds[i], &wr) ? "write" : "");

	/* A closed fd inside the fd table (Linux ignores fds beyond the table's
	 * current size, so a small number is used). */
	int closed = dup(0);
	close(closed);
	FD_ZERO(&rd);
	FD_SET(closed, &rd);
	tv = (struct timeval){0, 0};
	errno = 0;
	r = select(closed + 1, &rd, NULL, NULL, &tv);
	printf("select on a closed fd: %d %s\n", r, errno == EBADF ? "EBADF" : "?");

	/* Only unready files, a 50 ms timeout. */
	struct timespec t0, t1;
	FD_ZERO(&rd);
	FD_SET(empty[0], &rd);
	FD_SET(idle_ev, &rd);
	tv = (struct timeval){0, 50 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = select((empty[0] > idle_ev ? empty[0] : idle_ev) + 1, &rd, NULL, NULL, &tv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("select timeout 50 ms: %d, waited at least 45 ms: %s\n", r,
	       waited >= 0.045 ? "yes" : "no");
	struct pollfd one = {empty[0], POLLIN, 0};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = poll(&one, 1, 50);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("poll timeout 50 ms: %d, waited at least 45 ms: %s\n", r,
	       waited >= 0.045 ? "yes" : "no");

	/* A blocking poll and a blocking select woken by a forked writer. */
	for (int use_select = 0; use_select <= 1; use_select++) {
		pid_t child = fork();
		if (child == 0) {
			sleep_ms(50);
			uint64_t v = 1;
			_exit(write(idle_ev, &v, sizeof(v)) == sizeof(v) ? 0 : 1);
		}
		if (use_select) {
			FD_ZERO(&rd);
			FD_SET(empty[0], &rd);
			FD_SET(idle_ev, &rd);
			r = select((empty[0] > idle_ev ? empty[0] : idle_ev) + 1, &rd, NULL, NULL,
				   NULL);
			printf("blocking select woken by a child: %d, eventfd %s, pipe %s\n", r,
			       FD_ISSET(idle_ev, &rd) ? "ready" : "-",
			       FD_ISSET(empty[0], &rd) ? "ready" : "-");
		} else {
			struct pollfd two[2] = {{empty[0], POLLIN, 0}, {idle_ev, POLLIN, 0}};
			r = poll(two, 2, -1);
			char f0[64], f1[64];
			revents(f0, two[0].revents);
			revents(f1, two[1].revents);
			printf("blocking poll woken by a child: %d, pipe %s, eventfd %s\n", r, f0, f1);
		}
		waitpid(child, NULL, 0);
		read_counter(idle_ev);
	}

	close(empty[1]);
	struct pollfd hup = {empty[0], POLLIN, 0};
	r = poll(&hup, 1, 0);
	char f[64];
	revents(f, hup.revents);
	printf("poll on a pipe whose writer is closed: %d %s\n", r, f);
	close(empty[0]);
	close(full[0]);
	close(full[1]);
	close(ev);
	close(idle_ev);
	close(tf);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	epoll_part();
	poll_select_part();
	return 0;
}
