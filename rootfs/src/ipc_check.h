/*
 * Shared by the ipc_* guests, on top of check.h's checks and children:
 * cleanup of every System V object a test created, even when it fails, so that
 * native runs leave nothing behind in the host's IPC namespace; waiting for a
 * condition or a child without blocking; dropping privileges; signal handlers
 * that let System V waits fail with EINTR.
 */
#ifndef IPC_CHECK_H
#define IPC_CHECK_H

#define _GNU_SOURCE
#include "check.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Whether pid has exited (and reaps it), without waiting. */
static inline int child_done(pid_t pid, int *status)
{
	int st;
	if (waitpid(pid, &st, WNOHANG) != pid)
		return 0;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 1;
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

#endif
