/*
 * proc_vfork: self-checking guest for vfork and posix_spawn, run with the
 * rootfs directory as argv[1] (it execs `<rootfs>/bin/true`,
 * `<rootfs>/bin/busybox` and `<rootfs>/bin/sh`) and a file path in a scratch
 * directory as argv[2] (written by a spawned child).
 *
 * vfork: the child borrows the parent's memory, and the parent does not run
 * until the child has called _exit or execve. Each child sleeps before it
 * stores to a variable the parent reads the moment vfork returns: the parent
 * must see the store (it was suspended all along), and the exit status must
 * be the child's. Also: a child that execs (the parent resumes at the exec,
 * while the program still runs), a child whose exec fails (it reports errno
 * through shared memory, then _exits 127), and an exec'd child writing into a
 * pipe the parent reads.
 *
 * posix_spawn: a program with arguments and its exit status, file actions
 * (dup2 onto a pipe, open of a file), posix_spawnp of `false` through PATH,
 * five concurrent children with their own statuses, and the
 * error for a missing program (glibc reports it from the child, through
 * CLONE_VFORK|CLONE_VM).
 *
 * Prints `NAME: ok` per check and a summary; output holds no pids.
 * Exit status 0 only if all passed.
 */
#define _GNU_SOURCE
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile int shared_var;
static volatile int child_errno;
static char path_true[PATH_MAX], path_busybox[PATH_MAX], path_sh[PATH_MAX];

static void test_vfork_exit(void)
{
	shared_var = 0;
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		/* If the parent ran concurrently it would see 0 or 1 here. */
		shared_var = 1;
		sleep_ms(100);
		shared_var = 2;
		_exit(7);
	}
	int seen = shared_var;
	CHECK("vfork returned a pid", pid > 0);
	CHECK("parent waited for the child's _exit", seen == 2);
	CHECK("vfork child exit status", child_status(pid) == 7);

	/* Stack variables of the parent are shared too (same memory). */
	volatile int local = 0;
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		local = 5;
		_exit(0);
	}
	CHECK("child store to the parent's stack is visible", local == 5);
	child_status(pid);
}

static void test_vfork_exec(void)
{
	shared_var = 0;
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		sleep_ms(100);
		shared_var = 3;
		char *argv[] = {"true", NULL};
		execve(path_true, argv, environ);
		_exit(127);
	}
	int seen = shared_var;
	CHECK("parent waited for the child's exec", seen == 3);
	CHECK("exec'd true exits 0", child_status(pid) == 0);

	/* The parent resumes at the exec, not at the program's exit. */
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		char *argv[] = {"sh", "-c", "sleep 1; echo slept", NULL};
		execve(path_sh, argv, environ);
		_exit(127);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		  (t1.tv_nsec - t0.tv_nsec) / 1000000;
	close(p[1]);
	CHECK("parent resumed before the exec'd program finished", ms < 900);
	char buf[32] = {0};
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	close(p[0]);
	CHECK("exec'd program's output through the pipe",
	      n == 6 && strcmp(buf, "slept\n") == 0);
	CHECK("exec'd sh exit status", child_status(pid) == 0);

	/* A failed exec returns to the child, which still shares memory. */
	child_errno = 0;
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		char *argv[] = {"missing", NULL};
		execve("/nonexistent/program", argv, environ);
		child_errno = errno;
		_exit(127);
	}
	printf("failed exec in vfork child: %s\n", errname(child_errno));
	CHECK("failed exec reports ENOENT", child_errno == ENOENT);
	CHECK("failed exec child exits 127", child_status(pid) == 127);

	/* Exit status of an exec'd program that fails. */
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		char *argv[] = {"sh", "-c", "exit 42", NULL};
		execve(path_sh, argv, environ);
		_exit(127);
	}
	CHECK("exec'd sh -c 'exit 42' status", child_status(pid) == 42);
}

static void test_posix_spawn(const char *scratch_file)
{
	pid_t pid;
	char *argv1[] = {"sh", "-c", "exit 3", NULL};
	int rc = posix_spawn(&pid, path_sh, NULL, NULL, argv1, environ);
	CHECK("posix_spawn sh", rc == 0);
	CHECK("posix_spawn exit status", rc == 0 && child_status(pid) == 3);

	/* File actions: the child's stdout is the pipe's write end. */
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	posix_spawn_file_actions_addclose(&fa, p[1]);
	char *argv2[] = {"echo", "spawned", "with", "args", NULL};
	rc = posix_spawn(&pid, path_busybox, &fa, NULL, argv2, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	char buf[64] = {0};
	ssize_t total = 0, n;
	while ((n = read(p[0], buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	close(p[0]);
	CHECK("posix_spawn with dup2 file action", rc == 0);
	CHECK("spawned echo output", strcmp(buf, "spawned with args\n") == 0);
	CHECK("spawned echo status", rc == 0 && child_status(pid) == 0);

	/* An open file action: the child writes a file. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, scratch_file,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *argv3[] = {"echo", "into a file", NULL};
	rc = posix_spawn(&pid, path_busybox, &fa, NULL, argv3, environ);
	posix_spawn_file_actions_destroy(&fa);
	CHECK("posix_spawn with open file action",
	      rc == 0 && child_status(pid) == 0);
	int fd = open(scratch_file, O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("file written by the spawned program",
	      fd >= 0 && read(fd, buf, sizeof buf) == 12 &&
		      strcmp(buf, "into a file\n") == 0);
	close(fd);

	/* posix_spawnp searches PATH (set by the caller to the rootfs). */
	char *argv4[] = {"false", NULL};
	rc = posix_spawnp(&pid, "false", NULL, NULL, argv4, environ);
	CHECK("posix_spawnp false via PATH", rc == 0 && child_status(pid) == 1);

	/* A missing program: the error comes back from the spawn call. */
	char *argv5[] = {"missing", NULL};
	rc = posix_spawn(&pid, "/nonexistent/program", NULL, NULL, argv5,
			 environ);
	printf("posix_spawn of a missing program: %s\n", errname(rc));
	CHECK("posix_spawn missing program is ENOENT", rc == ENOENT);

	/* Several spawned children, reaped in order of their pids. */
	pid_t kids[5];
	int all = 1;
	for (int i = 0; i < 5; i++) {
		char code[16];
		snprintf(code, sizeof code, "exit %d", 10 + i);
		char *argv6[] = {"sh", "-c", code, NULL};
		if (posix_spawn(&kids[i], path_sh, NULL, NULL, argv6, environ))
			all = 0;
	}
	for (int i = 0; i < 5; i++)
		if (all && child_status(kids[i]) != 10 + i)
			all = 0;
	CHECK("five spawned children with their own statuses", all);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s ROOTFS SCRATCH_FILE\n", argv[0]);
		return 2;
	}
	snprintf(path_true, sizeof path_true, "%s/bin/true", argv[1]);
	snprintf(path_busybox, sizeof path_busybox, "%s/bin/busybox", argv[1]);
	snprintf(path_sh, sizeof path_sh, "%s/bin/sh", argv[1]);
	test_vfork_exit();
	test_vfork_exec();
	test_posix_spawn(argv[2]);
	return summary();
}
