/*
 * mqueue: POSIX message queues: names and their errors, creation limits and
 * permissions, priority order, full and empty queues (EAGAIN, ETIMEDOUT,
 * blocking calls another process ends), message sizes, poll and epoll,
 * notification by signal (once, one process, SI_MESGQ), attributes, the
 * status text a read shows, unlink while open, RLIMIT_MSGQUEUE.
 */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>

static struct mq_attr small = {.mq_maxmsg = 4, .mq_msgsize = 64};

/* A number from /proc/sys/fs/mqueue, -1 if unreadable. */
static long proc_long(const char *name)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", name);
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void names(void)
{
	mq_unlink("/mq-test");
	CHECK_ERR("missing queue is ENOENT", mq_open("/mq-test", O_RDWR), ENOENT);
	CHECK_ERR("a name without / is EINVAL", mq_open("mq-test", O_RDWR | O_CREAT, 0600, NULL), EINVAL);
	CHECK_ERR("a / inside is EACCES", mq_open("/a/b", O_RDWR | O_CREAT, 0600, NULL), EACCES);
	char longname[300];
	longname[0] = '/';
	memset(longname + 1, 'n', 256);
	longname[257] = 0;
	CHECK_ERR("256 bytes is ENAMETOOLONG", mq_open(longname, O_RDWR | O_CREAT, 0600, NULL), ENAMETOOLONG);
	CHECK_ERR("unlink of a missing queue is ENOENT", mq_unlink("/mq-test"), ENOENT);
	struct mq_attr bad = {.mq_maxmsg = 0, .mq_msgsize = 8};
	CHECK_ERR("mq_maxmsg 0 is EINVAL", mq_open("/mq-test", O_RDWR | O_CREAT, 0600, &bad), EINVAL);
	bad = (struct mq_attr){.mq_maxmsg = 4, .mq_msgsize = -1};
	CHECK_ERR("negative mq_msgsize is EINVAL", mq_open("/mq-test", O_RDWR | O_CREAT, 0600, &bad), EINVAL);
	mqd_t q = mq_open("/mq-default", O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
	struct mq_attr a;
	CHECK("defaults: /proc/sys/fs/mqueue's msg_default and msgsize_default",
	      q >= 0 && mq_getattr(q, &a) == 0 && a.mq_maxmsg == proc_long("msg_default") &&
		      a.mq_msgsize == proc_long("msgsize_default") && a.mq_curmsgs == 0);
	CHECK_ERR("O_EXCL on an existing queue is EEXIST",
		  mq_open("/mq-default", O_RDWR | O_CREAT | O_EXCL, 0600, NULL), EEXIST);
	int fl = fcntl(q, F_GETFD);
	CHECK("descriptors are close-on-exec", fl >= 0 && (fl & FD_CLOEXEC));
	struct stat st;
	CHECK("fstat: a regular file with the mode", fstat(q, &st) == 0 && S_ISREG(st.st_mode) &&
						     (st.st_mode & 0777) == 0600);
	mq_close(q);
	CHECK("unlink", mq_unlink("/mq-default") == 0);
}

static void order_and_sizes(void)
{
	mqd_t q = mq_open("/mq-test", O_RDWR | O_CREAT | O_EXCL, 0600, &small);
	CHECK("create with attributes", q >= 0);
	const char *msgs[] = {"a1", "b5", "c1", "d5"};
	unsigned prios[] = {1, 5, 1, 5};
	for (int i = 0; i < 4; i++)
		mq_send(q, msgs[i], 2, prios[i]);
	struct mq_attr a;
	CHECK("four queued", mq_getattr(q, &a) == 0 && a.mq_curmsgs == 4);
	CHECK_ERR("a full queue, nonblocking: EAGAIN", ({
			  struct mq_attr nb = {.mq_flags = O_NONBLOCK};
			  mq_setattr(q, &nb, NULL);
			  long r = mq_send(q, "x", 1, 0);
			  nb.mq_flags = 0;
			  mq_setattr(q, &nb, NULL);
			  r;
		  }),
		  EAGAIN);
	struct timespec soon = deadline_in_ms(CLOCK_REALTIME, 50);
	CHECK_ERR("full, with a timeout: ETIMEDOUT", mq_timedsend(q, "x", 1, 0, &soon), ETIMEDOUT);
	struct timespec bad = {.tv_sec = 0, .tv_nsec = 2000000000};
	CHECK_ERR("a malformed timeout is EINVAL", mq_timedsend(q, "x", 1, 0, &bad), EINVAL);
	char buf[64];
	CHECK_ERR("a buffer below mq_msgsize is EMSGSIZE", mq_receive(q, buf, 63, NULL), EMSGSIZE);
	char got[16] = {0};
	for (int i = 0; i < 4; i++) {
		unsigned p = 99;
		ssize_t n = mq_receive(q, buf, sizeof buf, &p);
		if (n == 2) {
			got[i * 3] = buf[0];
			got[i * 3 + 1] = (char)('0' + p);
			got[i * 3 + 2] = ' ';
		}
	}
	printf("received in order: %s\n", got);
	CHECK("highest priority first, FIFO within one", strcmp(got, "b5 d5 a1 c1 ") == 0);
	char big[65] = {0};
	CHECK_ERR("a message over mq_msgsize is EMSGSIZE", mq_send(q, big, 65, 0), EMSGSIZE);
	CHECK("exactly mq_msgsize is fine", mq_send(q, big, 64, 0) == 0 && mq_receive(q, buf, 64, NULL) == 64);
	CHECK("an empty message", mq_send(q, "", 0, 3) == 0 && mq_receive(q, buf, 64, NULL) == 0);
	CHECK_ERR("priority 32768 is EINVAL", mq_send(q, "x", 1, 32768), EINVAL);
	CHECK("priority 32767 is fine", mq_send(q, "x", 1, 32767) == 0 && mq_receive(q, buf, 64, NULL) == 1);
	soon = deadline_in_ms(CLOCK_REALTIME, 50);
	CHECK_ERR("empty, with a timeout: ETIMEDOUT", mq_timedreceive(q, buf, 64, NULL, &soon), ETIMEDOUT);
	CHECK_ERR("a bad message pointer is EFAULT", mq_send(q, (char *)8, 4, 0), EFAULT);
	mqd_t r = mq_open("/mq-test", O_RDONLY);
	CHECK_ERR("send on a read-only descriptor is EBADF", mq_send(r, "x", 1, 0), EBADF);
	mqd_t w = mq_open("/mq-test", O_WRONLY | O_NONBLOCK);
	CHECK_ERR("receive on a write-only descriptor is EBADF", mq_receive(w, buf, 64, NULL), EBADF);
	struct mq_attr nb = {.mq_flags = O_NONBLOCK};
	mq_setattr(r, &nb, NULL);
	CHECK_ERR("empty, nonblocking: EAGAIN", mq_receive(r, buf, 64, NULL), EAGAIN);
	struct mq_attr old;
	CHECK("mq_setattr reports the old flags", ({
		      struct mq_attr none = {0};
		      mq_setattr(r, &none, &old) == 0 && old.mq_flags == O_NONBLOCK;
	      }));
	struct mq_attr weird = {.mq_flags = O_APPEND};
	CHECK_ERR("flags other than O_NONBLOCK are EINVAL", mq_setattr(r, &weird, NULL), EINVAL);
	int pipefd[2];
	if (pipe(pipefd) != 0)
		exit(2);
	CHECK_ERR("mq_send on a pipe is EBADF", mq_send(pipefd[1], "x", 1, 0), EBADF);
	close(pipefd[0]);
	close(pipefd[1]);
	mq_close(r);
	mq_close(w);
	mq_close(q);
}

static void blocking_and_polling(void)
{
	mqd_t q = mq_open("/mq-test", O_RDWR);
	struct pollfd p = {q, POLLIN | POLLOUT, 0};
	CHECK("empty: writable only", poll(&p, 1, 0) == 1 && p.revents == POLLOUT);
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(100);
		_exit(mq_send(q, "late", 4, 2) == 0 ? 0 : 1);
	}
	char buf[64];
	unsigned prio = 0;
	CHECK("a blocking receive waits for another process's send",
	      mq_receive(q, buf, 64, &prio) == 4 && memcmp(buf, "late", 4) == 0 && prio == 2);
	CHECK("the sender", child_status(pid) == 0);
	for (int i = 0; i < 4; i++)
		mq_send(q, "f", 1, 0);
	p.revents = 0;
	CHECK("full: readable only", poll(&p, 1, 0) == 1 && p.revents == POLLIN);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = q}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev);
	CHECK("epoll: readable", epoll_wait(ep, &out, 1, 0) == 1 && out.events == EPOLLIN);
	pid = xfork();
	if (pid == 0) {
		sleep_ms(100);
		char b[64];
		_exit(mq_receive(q, b, 64, NULL) == 1 ? 0 : 1);
	}
	CHECK("a blocking send waits for another process's receive", mq_send(q, "g", 1, 0) == 0);
	CHECK("the receiver", child_status(pid) == 0);
	for (int i = 0; i < 4; i++)
		mq_receive(q, buf, 64, NULL);
	CHECK("epoll: writable again", epoll_wait(ep, &out, 1, 0) == 1 && out.events == EPOLLOUT);
	close(ep);
	mq_close(q);
}

static volatile sig_atomic_t notified, code, value, sender;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	notified++;
	code = si->si_code;
	value = si->si_value.sival_int;
	sender = si->si_pid;
}

static void notification(void)
{
	struct sigaction sa = {.sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(SIGUSR1, &sa, NULL);
	mqd_t q = mq_open("/mq-test", O_RDWR);
	struct sigevent se = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
	se.sigev_value.sival_int = 4242;
	CHECK("mq_notify", mq_notify(q, &se) == 0);
	CHECK_ERR("a second registration is EBUSY", mq_notify(q, &se), EBUSY);
	char buf[128];
	memset(buf, 0, sizeof buf);
	ssize_t n = read(q, buf, sizeof buf - 1);
	CHECK("read shows the status line", n > 0 && strncmp(buf, "QSIZE:0 ", 8) == 0 &&
						   strstr(buf, "NOTIFY:0 ") && strstr(buf, "SIGNO:10 "));
	pid_t pid = xfork();
	if (pid == 0) {
		struct sigevent other = {.sigev_notify = SIGEV_NONE};
		int busy = mq_notify(q, &other) == -1 && errno == EBUSY;
		_exit(busy && mq_send(q, "n", 1, 0) == 0 ? 0 : 1);
	}
	CHECK("another process is refused (EBUSY) and sends", child_status(pid) == 0);
	for (int i = 0; i < 100 && !notified; i++)
		sleep_ms(10);
	CHECK("the signal came with SI_MESGQ, the value and the sender",
	      notified == 1 && code == SI_MESGQ && value == 4242 && sender == pid);
	char m[64];
	mq_receive(q, m, 64, NULL);
	mq_send(q, "again", 5, 0);
	sleep_ms(50);
	CHECK("only once", notified == 1);
	mq_receive(q, m, 64, NULL);
	CHECK("registering again", mq_notify(q, &se) == 0);
	CHECK("and removing it", mq_notify(q, NULL) == 0);
	mq_send(q, "none", 4, 0);
	sleep_ms(50);
	CHECK("no signal after removal", notified == 1);
	mq_receive(q, m, 64, NULL);
	struct sigevent bad = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = 65};
	CHECK_ERR("signal 65 is EINVAL", mq_notify(q, &bad), EINVAL);
	bad.sigev_notify = 7;
	CHECK_ERR("an unknown sigev_notify is EINVAL", mq_notify(q, &bad), EINVAL);
	mq_send(q, "xyz", 3, 0);
	memset(buf, 0, sizeof buf);
	lseek(q, 0, SEEK_SET);
	mqd_t again = mq_open("/mq-test", O_RDONLY);
	n = read(again, buf, sizeof buf - 1);
	printf("status: %s", buf);
	CHECK("drained", mq_receive(q, m, 64, NULL) == 3);
	mq_close(again);
	mq_close(q);
}

static void unlink_and_permissions(void)
{
	mqd_t q = mq_open("/mq-test", O_RDWR);
	CHECK("unlink while open", mq_unlink("/mq-test") == 0);
	CHECK_ERR("then the name is gone", mq_open("/mq-test", O_RDWR), ENOENT);
	char buf[64];
	CHECK("the open queue still works", mq_send(q, "k", 1, 0) == 0 && mq_receive(q, buf, 64, NULL) == 1);
	mq_close(q);
	q = mq_open("/mq-root", O_RDWR | O_CREAT, 0600, &small);
	mqd_t shared = mq_open("/mq-shared", O_RDWR | O_CREAT, 0666, &small);
	pid_t pid = xfork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		int ok = 1;
		ok &= mq_open("/mq-root", O_RDONLY) == -1 && errno == EACCES;
		mqd_t s = mq_open("/mq-shared", O_WRONLY);
		ok &= s >= 0 && mq_send(s, "u", 1, 0) == 0;
		ok &= mq_unlink("/mq-root") == -1 && errno == EACCES;
		struct mq_attr big = {.mq_maxmsg = 11, .mq_msgsize = 8};
		ok &= mq_open("/mq-user", O_RDWR | O_CREAT, 0600, &big) == -1 && errno == EINVAL;
		big = (struct mq_attr){.mq_maxmsg = 2, .mq_msgsize = 8193};
		ok &= mq_open("/mq-user", O_RDWR | O_CREAT, 0600, &big) == -1 && errno == EINVAL;
		_exit(ok ? 0 : 1);
	}
	CHECK("nobody: EACCES to open or unlink root's, the user limits", child_status(pid) == 0);
	struct mq_attr a;
	CHECK("nobody's message arrived", mq_getattr(shared, &a) == 0 && a.mq_curmsgs == 1);
	pid = xfork();
	if (pid == 0) {
		struct rlimit rl = {1000, 1000};
		setrlimit(RLIMIT_MSGQUEUE, &rl);
		_exit(mq_open("/mq-rl", O_RDWR | O_CREAT, 0600, NULL) == -1 && errno == EMFILE ? 0 : 1);
	}
	CHECK("RLIMIT_MSGQUEUE: EMFILE", child_status(pid) == 0);
	mq_close(q);
	mq_close(shared);
	mq_unlink("/mq-root");
	mq_unlink("/mq-shared");
}

int main(void)
{
	umask(0);
	names();
	order_and_sizes();
	blocking_and_polling();
	notification();
	unlink_and_permissions();
	return summary();
}
