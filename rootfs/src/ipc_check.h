/*
 * Shared by the ipc_* guests: one output line per check (`NAME: ok` or
 * `NAME: FAIL (...)`), children that report through their exit status, and
 * cleanup of every System V object a test created, even when it fails, so that
 * native runs leave nothing behind in the host's IPC namespace.
 */
#ifndef IPC_CHECK_H
#define IPC_CHECK_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int checks, failures;

static inline void check(const char *name, int ok, const char *what)
{
	checks++;
	if (ok) {
		printf("%s: ok\n", name);
	} else {
		failures++;
		const char *e = errno ? strerrorname_np(errno) : "0";
		printf("%s: FAIL (%s, errno %s)\n", name, what, e ? e : "?");
	}
	fflush(stdout);
}

#define CHECK(name, cond) check(name, (cond), #cond)
/* A call that must fail with errno E. */
#define CHECK_ERR(name, call, E)                                                \
	do {                                                                    \
		errno = 0;                                                      \
		long r_ = (long)(call);                                         \
		check(name, r_ == -1 && errno == (E), #call " fails with " #E); \
	} while (0)

/* Objects to remove at exit: kind ('m' shm, 's' sem, 'q' msg) and id. */
static struct {
	char kind;
	int id;
} created[64];
static int ncreated;

static inline void remove_created(void)
{
	for (int i = 0; i < ncreated; i++) {
		switch (created[i].kind) {
		case 'm':
			shmctl(created[i].id, IPC_RMID, NULL);
			break;
		case 's':
			semctl(created[i].id, 0, IPC_RMID);
			break;
		case 'q':
			msgctl(created[i].id, IPC_RMID, NULL);
			break;
		}
	}
}

/* Records id (if valid) for removal at exit; returns it. */
static inline int track(char kind, int id)
{
	if (id >= 0 && ncreated < 64) {
		if (ncreated == 0)
			atexit(remove_created);
		created[ncreated].kind = kind;
		created[ncreated].id = id;
		ncreated++;
	}
	return id;
}

static inline pid_t xfork(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	return pid;
}

/* Waits for child pid: its exit code, or 128 + the signal that killed it. */
static inline int child_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Whether pid has exited (and reaps it), without waiting. */
static inline int child_done(pid_t pid, int *status)
{
	int st;
	if (waitpid(pid, &st, WNOHANG) != pid)
		return 0;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 1;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Polls cond (an expression) every millisecond for up to 10 s; its last value. */
#define WAIT_FOR(cond)                                          \
	({                                                      \
		int ok_ = 0;                                    \
		for (int i_ = 0; i_ < 10000 && !(ok_ = (cond)); i_++) \
			sleep_ms(1);                            \
		ok_;                                            \
	})

/* In a child: drops root to nobody (as root the mode bits would not apply). */
static inline void lose_privileges(void)
{
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		_exit(99);
}

static inline void on_signal(int sig)
{
	(void)sig;
}

/* A handler for sig with SA_RESTART: System V waits still fail with EINTR. */
static inline void catch_with_restart(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(sig, &sa, NULL);
}

static inline int summary(void)
{
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}

#endif
