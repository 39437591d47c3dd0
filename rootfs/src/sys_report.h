/*
 * sys_report.h: output helpers for the sys_* guests (and errname for every
 * guest that includes check.h).  Their output is compared with a native
 * run's, so each line states a result (a return value, or the errno name of a
 * failure) or a relation, never an address, pid, inode number or time.
 */
#ifndef SYS_REPORT_H
#define SYS_REPORT_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "?";
}

/* `label: N` for a call that returned N, `label: ENAME` for one that failed. */
static inline void report(const char *label, long ret)
{
	if (ret == -1)
		printf("%s: %s\n", label, errname(errno));
	else
		printf("%s: %ld\n", label, ret);
}

/* Runs CALL with errno cleared and reports its result. */
#define R(label, call) (errno = 0, report((label), (long)(call)))

/* `label: yes` or `label: no`. */
static inline void fact(const char *label, int cond)
{
	printf("%s: %s\n", label, cond ? "yes" : "no");
}

/* Line-buffered stdout, so that output before a fork is not repeated. */
static inline void report_start(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
}

#endif
