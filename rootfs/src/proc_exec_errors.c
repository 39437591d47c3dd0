/*
 * proc_exec_errors: self-checking guest for execve failures, run with an
 * empty scratch directory as argv[1] and an executable that exits 0
 * (`<rootfs>/bin/true`) as argv[2].
 *
 * Each failing execve must return -1 with Linux's errno and leave the caller
 * running with its memory intact: ENOENT (missing file, missing directory in
 * the path, empty path, `#!` naming a missing interpreter), EACCES (a file
 * without the x bit, a directory), ENOEXEC (garbage with
 * the x bit, a truncated ELF header), ENOTDIR (a path through a regular
 * file), ENAMETOOLONG, ELOOP (a symlink loop), E2BIG (one argument longer
 * than MAX_ARG_STRLEN, 128 KiB, and an environment string as long), and
 * EFAULT (bad path, argv and envp pointers). The same execs are then done
 * from a fork child, which reports the errno through its exit status. A
 * final valid execve (of argv[2] from a child) must still work.
 *
 * Prints `NAME: ERRNO` per case and a summary; exit status 0 only if every
 * case gave the expected errno.
 */
#define _GNU_SOURCE
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char dir[PATH_MAX / 2];
static const char *good;

static void make_file(const char *name, const void *data, size_t len,
		      mode_t mode)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	close(fd);
	if (chmod(path, mode) != 0) {
		perror("chmod");
		exit(2);
	}
}

/* A canary the failed exec must leave alone. */
static volatile unsigned long canary = 0x5eed5eed;

/* Raw execve, so glibc cannot check or rewrite anything on the way. */
static long raw_execve(const void *path, const void *argv, const void *envp)
{
	return syscall(SYS_execve, path, argv, envp);
}

struct exec_case {
	const char *name;
	const void *path; /* relative to dir unless absolute or bad */
	int expect;
	int bad_argv;	  /* pass a bad argv pointer */
	int bad_envp;	  /* pass a bad envp pointer */
	int relative;	  /* path is a name in dir */
};

static void expect_errno(const char *name, long rc, int err, int expect)
{
	checks++;
	if (rc == -1 && err == expect && canary == 0x5eed5eed) {
		printf("%s: %s\n", name, errname(err));
	} else {
		failures++;
		printf("%s: FAIL (rc %ld, errno %s, expected %s)\n", name, rc,
		       errname(err), errname(expect));
	}
	fflush(stdout);
}

static void run_case(const struct exec_case *c, char *const argv[])
{
	char path[PATH_MAX * 2];
	const void *p = c->path;
	if (c->relative) {
		snprintf(path, sizeof path, "%s/%s", dir, (const char *)c->path);
		p = path;
	}
	const void *av = c->bad_argv ? (const void *)16 : (const void *)argv;
	const void *ev = c->bad_envp ? (const void *)16 : (const void *)environ;
	errno = 0;
	long rc = raw_execve(p, av, ev);
	expect_errno(c->name, rc, errno, c->expect);

	/* The same exec from a child, which reports errno as its status. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		errno = 0;
		raw_execve(p, av, ev);
		_exit(errno & 0xff);
	}
	int status;
	char name[128];
	snprintf(name, sizeof name, "%s (in a child)", c->name);
	int got = waitpid(pid, &status, 0) == pid && WIFEXITED(status)
			  ? WEXITSTATUS(status)
			  : -1;
	expect_errno(name, -1, got, c->expect);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SCRATCH_DIR TRUE_PROGRAM\n", argv[0]);
		return 2;
	}
	snprintf(dir, sizeof dir, "%s", argv[1]);
	good = argv[2];

	static const char garbage[] = "\x01\x02\x03 this is not a program\n\xff";
	make_file("garbage", garbage, sizeof garbage, 0755);
	static const char half_elf[] = "\x7f" "ELF\x02\x01\x01";
	make_file("half-elf", half_elf, sizeof half_elf - 1, 0755);
	make_file("noexec", "#!/bin/sh\nexit 0\n", 17, 0644);
	make_file("file", "plain\n", 6, 0755);
	make_file("bad-interp", "#!/nonexistent/interp\n", 22, 0755);
	char sub[PATH_MAX];
	snprintf(sub, sizeof sub, "%s/subdir", dir);
	if (mkdir(sub, 0755) != 0) {
		perror("mkdir");
		return 2;
	}
	char loop_a[PATH_MAX], loop_b[PATH_MAX];
	snprintf(loop_a, sizeof loop_a, "%s/loop-a", dir);
	snprintf(loop_b, sizeof loop_b, "%s/loop-b", dir);
	if (symlink("loop-b", loop_a) != 0 || symlink("loop-a", loop_b) != 0) {
		perror("symlink");
		return 2;
	}

	static char long_name[PATH_MAX + 100];
	memset(long_name, 'n', sizeof long_name - 1);
	long_name[0] = '/';

	char *plain_argv[] = {"x", NULL};
	const struct exec_case cases[] = {
		{"missing file", "missing", ENOENT, 0, 0, 1},
		{"missing directory in path", "nodir/prog", ENOENT, 0, 0, 1},
		{"empty path", "", ENOENT, 0, 0, 0},
		{"#! with a missing interpreter", "bad-interp", ENOENT, 0, 0, 1},
		{"file without x bit", "noexec", EACCES, 0, 0, 1},
		{"directory", "subdir", EACCES, 0, 0, 1},
		{"garbage with x bit", "garbage", ENOEXEC, 0, 0, 1},
		{"truncated ELF header", "half-elf", ENOEXEC, 0, 0, 1},
		{"path through a file", "file/prog", ENOTDIR, 0, 0, 1},
		{"path too long", long_name, ENAMETOOLONG, 0, 0, 0},
		{"symlink loop", "loop-a", ELOOP, 0, 0, 1},
		{"bad path pointer", (const void *)8, EFAULT, 0, 0, 0},
		{"bad argv pointer", good, EFAULT, 1, 0, 0},
		{"bad envp pointer", good, EFAULT, 0, 1, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i], plain_argv);

	/* One argument of 200 KiB: above MAX_ARG_STRLEN (32 pages). */
	size_t big = 200 << 10;
	char *huge = malloc(big + 1);
	memset(huge, 'a', big);
	huge[big] = 0;
	char *big_argv[] = {"true", huge, NULL};
	errno = 0;
	long rc = raw_execve(good, big_argv, environ);
	expect_errno("argument of 200 KiB", rc, errno, E2BIG);

	/* An environment string of 200 KiB. */
	char *big_env[] = {huge, NULL};
	memcpy(huge, "BIG=", 4);
	char *true_argv[] = {"true", NULL};
	errno = 0;
	rc = raw_execve(good, true_argv, big_env);
	expect_errno("environment string of 200 KiB", rc, errno, E2BIG);
	free(huge);

	/* After all that, a valid exec from a child still works. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execve(good, true_argv, environ);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	checks++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("valid exec after the failures: ok\n");
	} else {
		failures++;
		printf("valid exec after the failures: FAIL (status %#x)\n",
		       status);
	}
	return summary();
}
