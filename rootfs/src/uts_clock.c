/*
 * uts_clock: host and domain names (uname, /proc/sys/kernel, sethostname and
 * setdomainname with their errors and permission, shared with children) and
 * reading the clock discipline (adjtimex, clock_adjtime) without the right to
 * change it.
 *
 * Natively the names are changed in a UTS namespace of our own (root needed),
 * never the host's; the sandbox has its own already (its unshare is EPERM).
 */
#define _GNU_SOURCE
#include "check.h"
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/utsname.h>

/* The first line of a /proc file, without its newline. */
static const char *proc_line(const char *path)
{
	static char buf[128];
	buf[0] = 0;
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, sizeof buf, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static void names(void)
{
	struct utsname u;
	CHECK("uname", uname(&u) == 0);
	CHECK("hostname in /proc is uname's", strcmp(proc_line("/proc/sys/kernel/hostname"), u.nodename) == 0);
	CHECK("domainname in /proc is uname's",
	      strcmp(proc_line("/proc/sys/kernel/domainname"), u.domainname) == 0);
	if (unshare(CLONE_NEWUTS) != 0 && errno != EPERM) {
		perror("unshare");
		exit(2);
	}
	CHECK("sethostname", sethostname("sandbox-test", 12) == 0);
	char host[65];
	CHECK("gethostname sees it", gethostname(host, sizeof host) == 0 && strcmp(host, "sandbox-test") == 0);
	CHECK("uname sees it", uname(&u) == 0 && strcmp(u.nodename, "sandbox-test") == 0);
	CHECK("/proc sees it", strcmp(proc_line("/proc/sys/kernel/hostname"), "sandbox-test") == 0);
	CHECK("only len bytes count", sethostname("abcdef", 3) == 0 && uname(&u) == 0 &&
					     strcmp(u.nodename, "abc") == 0);
	char longest[65];
	memset(longest, 'h', 64);
	longest[64] = 0;
	CHECK("64 bytes", sethostname(longest, 64) == 0 && uname(&u) == 0 &&
				  strcmp(u.nodename, longest) == 0);
	CHECK_ERR("65 bytes is EINVAL", sethostname(longest, 65), EINVAL);
	CHECK_ERR("a negative length is EINVAL", syscall(SYS_sethostname, "x", -1), EINVAL);
	CHECK_ERR("a bad pointer is EFAULT", syscall(SYS_sethostname, (char *)8, 4), EFAULT);
	CHECK("setdomainname", setdomainname("example.org", 11) == 0);
	CHECK("uname sees the domain", uname(&u) == 0 && strcmp(u.domainname, "example.org") == 0);
	CHECK("/proc sees the domain", strcmp(proc_line("/proc/sys/kernel/domainname"), "example.org") == 0);
	CHECK_ERR("65-byte domain is EINVAL", setdomainname(longest, 65), EINVAL);
	sethostname("sandbox-test", 12);
	pid_t pid = xfork();
	if (pid == 0) {
		struct utsname c;
		int same = uname(&c) == 0 && strcmp(c.nodename, "sandbox-test") == 0;
		int eperm = setuid(65534) == 0 && sethostname("nobody", 6) == -1 && errno == EPERM &&
			    setdomainname("nobody", 6) == -1 && errno == EPERM;
		_exit(same && eperm ? 0 : 1);
	}
	CHECK("a child shares the names; not as nobody", child_status(pid) == 0);
}

static void clock_discipline(void)
{
	struct timex t = {0};
	errno = 0;
	int state = adjtimex(&t);
	CHECK("adjtimex reads", state >= 0);
	printf("adjtimex state %d, tick %ld\n", state, t.tick);
	struct timex c = {0};
	CHECK("clock_adjtime(CLOCK_REALTIME) reads the same state",
	      syscall(SYS_clock_adjtime, CLOCK_REALTIME, &c) == state && c.tick == t.tick);
	struct timex ss = {.modes = ADJ_OFFSET_SS_READ};
	CHECK("ADJ_OFFSET_SS_READ reads", adjtimex(&ss) == state);
	struct timex bad = {.modes = 0x8000};
	CHECK_ERR("ADJ_ADJTIME alone is EINVAL", adjtimex(&bad), EINVAL);
	CHECK_ERR("a bad pointer is EFAULT", adjtimex((struct timex *)8), EFAULT);
	struct timex u = {0};
	CHECK_ERR("CLOCK_MONOTONIC cannot be adjusted", syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &u),
		  EOPNOTSUPP);
	CHECK_ERR("clock 10 is EINVAL", syscall(SYS_clock_adjtime, 10, &u), EINVAL);
	pid_t pid = xfork();
	if (pid == 0) {
		struct timex set = {.modes = ADJ_FREQUENCY, .freq = 0};
		_exit(setuid(65534) == 0 && adjtimex(&set) == -1 && errno == EPERM ? 0 : 1);
	}
	CHECK("nobody cannot change it", child_status(pid) == 0);
}

int main(void)
{
	names();
	clock_discipline();
	return summary();
}
