/*
 * sys_numa_sched: NUMA memory policies (set_mempolicy, get_mempolicy, mbind,
 * set_mempolicy_home_node, migrate_pages, move_pages) on a one-node machine;
 * scheduling attributes (sched_setattr/getattr and the legacy calls, nice
 * values) and I/O priorities, for the caller, a child and a thread, and what
 * fork and pthread_create pass on.  Prints results and errno names only.
 */
#include "sys_report.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NUMA_BALANCING (1 << 13)

struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

static unsigned long mask[1024];

static long get_policy(int *mode, unsigned long maxnode, void *addr, unsigned long flags)
{
	return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

static long set_policy(int mode, unsigned long nodes, unsigned long maxnode)
{
	memset(mask, 0, sizeof mask);
	mask[0] = nodes;
	return syscall(SYS_set_mempolicy, mode, mask, maxnode);
}

/* Prints the thread's policy and the first two words of its node mask. */
static void show_policy(const char *label)
{
	int mode = -1;
	memset(mask, 0xff, 16);
	long r = get_policy(&mode, 129, NULL, 0);
	if (r)
		report(label, r);
	else
		printf("%s: mode %#x nodes %#lx %#lx\n", label, mode, mask[0], mask[1]);
}

static void test_mempolicy(void)
{
	int mode = -1;
	printf("-- memory policy\n");
	show_policy("default policy");
	memset(mask, 0xff, 16);
	R("get with maxnode 1 writes no mask", get_policy(&mode, 1, NULL, 0));
	fact("  mask untouched", mask[0] == ~0UL);
	R("get with maxnode 0 and a mask", get_policy(&mode, 0, NULL, 0));
	R("get with no mask and maxnode 0", syscall(SYS_get_mempolicy, &mode, NULL, 0, 0, 0));
	R("get with a huge maxnode", get_policy(&mode, 1UL << 40, NULL, 0));
	memset(mask, 0xff, sizeof mask);
	R("get with maxnode 1025", get_policy(&mode, 1025, NULL, 0));
	fact("  zeroes the mask beyond the first word", mask[1] == 0 && mask[15] == 0 && mask[16] == ~0UL);
	R("get with a page of bits", get_policy(&mode, 4096 * 8 + 1, NULL, 0));
	R("get with more than a page of bits", get_policy(&mode, 4096 * 8 + 65, NULL, 0));
	R("get MPOL_F_NODE of the default policy", syscall(SYS_get_mempolicy, &mode, NULL, 0, 0, 1));
	R("get with an unknown flag", syscall(SYS_get_mempolicy, &mode, NULL, 0, 0, 8));
	mode = 7;
	R("get MPOL_F_MEMS_ALLOWED", get_policy(&mode, 64, NULL, 4));
	printf("  mode %d nodes %#lx\n", mode, mask[0]);
	R("get MPOL_F_MEMS_ALLOWED|MPOL_F_NODE", get_policy(&mode, 64, NULL, 5));
	R("get MPOL_F_MEMS_ALLOWED|MPOL_F_ADDR", get_policy(&mode, 64, NULL, 6));
	R("get with an address but no MPOL_F_ADDR", get_policy(&mode, 64, (void *)0x1000, 0));
	R("get to a bad mode pointer", syscall(SYS_get_mempolicy, (void *)8, NULL, 0, 0, 0));
	R("get to a bad mask pointer", syscall(SYS_get_mempolicy, &mode, (void *)8, 64, 0, 0));
	R("get to a bad mask pointer with maxnode 1", syscall(SYS_get_mempolicy, &mode, (void *)8, 1, 0, 0));
	R("get to a bad mode pointer, huge maxnode", syscall(SYS_get_mempolicy, (void *)8, mask, 1 << 20, 0, 0));
	R("get with everything null", syscall(SYS_get_mempolicy, NULL, NULL, 0, 0, 0));

	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	munmap(p + 4096, 4096);
	R("get MPOL_F_ADDR of a mapping", get_policy(&mode, 64, p, 2));
	printf("  mode %d nodes %#lx\n", mode, mask[0]);
	R("get MPOL_F_ADDR|MPOL_F_NODE of a touched page", get_policy(&mode, 64, p, 3));
	printf("  node %d\n", mode);
	R("get MPOL_F_ADDR of a hole", get_policy(&mode, 64, p + 4096, 2));
	R("get MPOL_F_ADDR of address 0", get_policy(&mode, 64, NULL, 2));

	R("set MPOL_BIND {0}", set_policy(2, 1, 64));
	show_policy("  now");
	R("set MPOL_PREFERRED {0,1}", set_policy(1, 3, 64));
	show_policy("  now");
	R("get MPOL_F_NODE under MPOL_PREFERRED", syscall(SYS_get_mempolicy, &mode, NULL, 0, 0, 1));
	R("set MPOL_INTERLEAVE {0}", set_policy(3, 1, 64));
	mode = -1;
	R("get MPOL_F_NODE under MPOL_INTERLEAVE", syscall(SYS_get_mempolicy, &mode, NULL, 0, 0, 1));
	printf("  next node %d\n", mode);
	R("set MPOL_WEIGHTED_INTERLEAVE {0}", set_policy(6, 1, 64));
	show_policy("  now");
	R("set MPOL_BIND {1}", set_policy(2, 2, 64));
	R("set MPOL_BIND {}", set_policy(2, 0, 64));
	R("set MPOL_PREFERRED {}", set_policy(1, 0, 64));
	show_policy("  now");
	R("set MPOL_LOCAL", syscall(SYS_set_mempolicy, 4, NULL, 0));
	R("set MPOL_LOCAL {0}", set_policy(4, 1, 64));
	R("set MPOL_LOCAL|MPOL_F_STATIC_NODES", syscall(SYS_set_mempolicy, 4 | MPOL_F_STATIC_NODES, NULL, 0));
	R("set MPOL_PREFERRED_MANY|MPOL_F_NUMA_BALANCING {0}", set_policy(5 | MPOL_F_NUMA_BALANCING, 1, 64));
	show_policy("  now");
	R("set MPOL_INTERLEAVE|MPOL_F_NUMA_BALANCING", set_policy(3 | MPOL_F_NUMA_BALANCING, 1, 64));
	R("set mode 7", set_policy(7, 1, 64));
	R("set mode -1", set_policy(-1, 1, 64));
	R("set an unknown mode flag", set_policy(2 | 1 << 12, 1, 64));
	R("set MPOL_F_STATIC_NODES|MPOL_F_RELATIVE_NODES", set_policy(2 | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, 1, 64));
	R("set MPOL_BIND|MPOL_F_STATIC_NODES {0,5}", set_policy(2 | MPOL_F_STATIC_NODES, 0x21, 64));
	show_policy("  now");
	R("set MPOL_BIND|MPOL_F_STATIC_NODES {1,2}", set_policy(2 | MPOL_F_STATIC_NODES, 6, 64));
	R("set MPOL_BIND|MPOL_F_RELATIVE_NODES {1,2}", set_policy(2 | MPOL_F_RELATIVE_NODES, 6, 64));
	show_policy("  now");
	R("set MPOL_PREFERRED|MPOL_F_STATIC_NODES {}", set_policy(1 | MPOL_F_STATIC_NODES, 0, 64));
	R("set MPOL_DEFAULT {0}", set_policy(0, 1, 64));
	R("set MPOL_DEFAULT|MPOL_F_RELATIVE_NODES", syscall(SYS_set_mempolicy, MPOL_F_RELATIVE_NODES, NULL, 0));
	R("set from a bad pointer", syscall(SYS_set_mempolicy, 2, (void *)8, 64));
	R("set with a huge maxnode", syscall(SYS_set_mempolicy, 2, mask, 1UL << 40));
	R("set MPOL_BIND with maxnode 1", set_policy(2, 1, 1));
	R("set MPOL_BIND with maxnode 2", set_policy(2, 1, 2));
	memset(mask, 0, sizeof mask);
	mask[0] = 1;
	mask[15] = 1UL << 63;
	R("set MPOL_BIND {0,1023}", syscall(SYS_set_mempolicy, 2, mask, 1025 + 64));
	mask[15] = 0;
	mask[16] = 1;
	R("set MPOL_BIND {0,1024}", syscall(SYS_set_mempolicy, 2, mask, 1025 + 64));
	R("set MPOL_DEFAULT", syscall(SYS_set_mempolicy, 0, NULL, 0));
	show_policy("  now");

	char *q = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q[0] = q[4096] = 1;
	mask[0] = 1;
	R("set_mempolicy_home_node without a policy", syscall(SYS_set_mempolicy_home_node, q, 4096, 0, 0));
	R("set_mempolicy_home_node node 1", syscall(SYS_set_mempolicy_home_node, q, 4096, 1, 0));
	R("set_mempolicy_home_node flags", syscall(SYS_set_mempolicy_home_node, q, 4096, 0, 1));
	R("set_mempolicy_home_node unaligned", syscall(SYS_set_mempolicy_home_node, q + 1, 4096, 0, 0));
	R("set_mempolicy_home_node length 0", syscall(SYS_set_mempolicy_home_node, q, 0, 0, 0));
	R("mbind MPOL_BIND", syscall(SYS_mbind, q, 8192, 2, mask, 64, 0));
	R("mbind unaligned", syscall(SYS_mbind, q + 1, 8192, 2, mask, 64, 0));
	R("mbind length 0", syscall(SYS_mbind, q, 0, 2, mask, 64, 0));
	R("mbind MPOL_MF_STRICT|MPOL_MF_MOVE", syscall(SYS_mbind, q, 8192, 2, mask, 64, 3));
	R("mbind MPOL_MF_MOVE_ALL (root)", syscall(SYS_mbind, q, 8192, 2, mask, 64, 4));
	R("mbind an unknown flag", syscall(SYS_mbind, q, 8192, 2, mask, 64, 8));
	R("mbind MPOL_DEFAULT", syscall(SYS_mbind, q, 8192, 0, NULL, 0, 0));
	R("mbind from a bad mask", syscall(SYS_mbind, q, 8192, 2, (void *)8, 64, 0));
	R("mbind node 1", (mask[0] = 2, syscall(SYS_mbind, q, 8192, 2, mask, 64, 0)));
	mask[0] = 1;
	munmap(q + 2 * 4096, 4096);
	R("mbind over a hole", syscall(SYS_mbind, q, 4 * 4096, 2, mask, 64, 0));
	R("mbind of a hole", syscall(SYS_mbind, q + 2 * 4096, 4096, 2, mask, 64, 0));
	R("mbind MPOL_DEFAULT over a hole", syscall(SYS_mbind, q, 4 * 4096, 0, NULL, 0, 0));
	R("mbind MPOL_DEFAULT of a hole", syscall(SYS_mbind, q + 2 * 4096, 4096, 0, NULL, 0, 0));
	R("mbind wrapping around", syscall(SYS_mbind, -4096L, 8192, 2, mask, 64, 0));
	R("mbind far away", syscall(SYS_mbind, 0x10000000000UL, 4096, 2, mask, 64, 0));
	R("mbind with a bad mode", syscall(SYS_mbind, q, 4096, 9, mask, 64, 0));

	unsigned long old_nodes = 1, new_nodes = 1;
	R("migrate_pages {0} to {0}", syscall(SYS_migrate_pages, 0, 64, &old_nodes, &new_nodes));
	new_nodes = 2;
	R("migrate_pages to {1}", syscall(SYS_migrate_pages, 0, 64, &old_nodes, &new_nodes));
	new_nodes = 1;
	R("migrate_pages of no process", syscall(SYS_migrate_pages, 99999, 64, &old_nodes, &new_nodes));
	R("migrate_pages from a bad mask", syscall(SYS_migrate_pages, 0, 64, (void *)8, &new_nodes));
	void *pages[3] = { q, q + 4096, q + 2 * 4096 };
	int status[3] = { 7, 7, 7 }, nodes[3] = { 0, 0, 0 };
	R("move_pages query", syscall(SYS_move_pages, 0, 3, pages, NULL, status, 0));
	printf("  status %d %d %d\n", status[0], status[1], status[2]);
	status[0] = status[1] = status[2] = 7;
	R("move_pages to node 0", syscall(SYS_move_pages, 0, 3, pages, nodes, status, 0));
	printf("  status %d %d %d\n", status[0], status[1], status[2]);
	nodes[0] = 1;
	R("move_pages to node 1", syscall(SYS_move_pages, 0, 3, pages, nodes, status, 0));
	R("move_pages an unknown flag", syscall(SYS_move_pages, 0, 3, pages, NULL, status, 8));
	R("move_pages MPOL_MF_MOVE_ALL (root)", syscall(SYS_move_pages, 0, 1, pages, NULL, status, 4));
	R("move_pages of no process", syscall(SYS_move_pages, 99999, 1, pages, NULL, status, 0));
	R("move_pages of no page", syscall(SYS_move_pages, 0, 0, pages, NULL, status, 0));
	R("move_pages from a bad array", syscall(SYS_move_pages, 0, 1, (void *)8, NULL, status, 0));
}

static long setattr(pid_t pid, struct attr *a)
{
	return syscall(SYS_sched_setattr, pid, a, 0);
}

static void show_attr(const char *label, pid_t pid)
{
	struct attr a;
	memset(&a, 0xee, sizeof a);
	long r = syscall(SYS_sched_getattr, pid, &a, sizeof a, 0);
	if (r) {
		report(label, r);
		return;
	}
	printf("%s: size %u policy %u flags %#llx nice %d priority %u runtime %llu deadline %llu period %llu util %u %u\n",
	       label, a.size, a.policy, (unsigned long long)a.flags, a.nice, a.priority,
	       (unsigned long long)a.runtime, (unsigned long long)a.deadline,
	       (unsigned long long)a.period, a.util_min, a.util_max);
}

static void show_legacy(const char *label, pid_t pid)
{
	struct sched_param sp = { .sched_priority = -1 };
	struct timespec ts = { -1, -1 };
	long policy = syscall(SYS_sched_getscheduler, pid);
	syscall(SYS_sched_getparam, pid, &sp);
	syscall(SYS_sched_rr_get_interval, pid, &ts);
	printf("%s: scheduler %#lx priority %d rr interval %ld.%09ld raw getpriority %ld\n", label, policy,
	       sp.sched_priority, (long)ts.tv_sec, ts.tv_nsec,
	       syscall(SYS_getpriority, PRIO_PROCESS, pid));
}

static void *thread_main(void *arg)
{
	(void)arg;
	show_attr("thread's attributes", 0);
	show_policy("thread's memory policy");
	printf("thread's ioprio: %ld\n", syscall(SYS_ioprio_get, 1, 0));
	R("thread sets MPOL_INTERLEAVE", set_policy(3, 1, 64));
	R("thread sets nice 7", setpriority(PRIO_PROCESS, 0, 7));
	return NULL;
}

static void test_sched(void)
{
	struct attr a;
	char big[128];
	printf("-- scheduling attributes\n");
	show_attr("initial attributes", 0);
	show_legacy("initial", 0);
	memset(big, 0xee, sizeof big);
	R("getattr with size 100", syscall(SYS_sched_getattr, 0, big, 100, 0));
	fact("  size 56, the rest zeroed", *(uint32_t *)big == 56 && big[56] == 0 && big[99] == 0 && (unsigned char)big[100] == 0xee);
	memset(big, 0xee, sizeof big);
	R("getattr with size 48", syscall(SYS_sched_getattr, 0, big, 48, 0));
	fact("  size 48, nothing beyond", *(uint32_t *)big == 48 && (unsigned char)big[48] == 0xee);
	R("getattr with size 47", syscall(SYS_sched_getattr, 0, big, 47, 0));
	R("getattr with size 8192", syscall(SYS_sched_getattr, 0, big, 8192, 0));
	R("getattr with flags", syscall(SYS_sched_getattr, 0, big, 56, 1));
	R("getattr of pid -1", syscall(SYS_sched_getattr, -1, big, 56, 0));
	R("getattr of no thread", syscall(SYS_sched_getattr, 99999, big, 56, 0));
	R("getattr to NULL", syscall(SYS_sched_getattr, 0, NULL, 56, 0));
	R("getattr to a bad address", syscall(SYS_sched_getattr, 0, (void *)8, 56, 0));

	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.policy = SCHED_BATCH;
	a.nice = 3;
	R("setattr SCHED_BATCH nice 3", setattr(0, &a));
	show_legacy("  now", 0);
	a.policy = SCHED_OTHER;
	a.nice = -2;
	R("setattr SCHED_OTHER nice -2 (root)", setattr(0, &a));
	a.nice = 100;
	R("setattr nice 100 (clamped)", setattr(0, &a));
	show_attr("  now", 0);
	a.flags = 0x18;
	a.nice = 5;
	a.policy = SCHED_FIFO;
	R("setattr SCHED_FLAG_KEEP_ALL", setattr(0, &a));
	show_attr("  now", 0);
	a.flags = 0x20;
	a.policy = SCHED_OTHER;
	a.util_min = 100;
	R("setattr SCHED_FLAG_UTIL_CLAMP_MIN", setattr(0, &a));
	a.size = 48;
	R("setattr UTIL_CLAMP with a version-0 size", setattr(0, &a));
	a.size = sizeof a;
	a.util_min = 0;
	a.flags = 0x80;
	R("setattr an unknown flag", setattr(0, &a));
	a.flags = 0;
	a.size = 40;
	R("setattr size 40", setattr(0, &a));
	printf("  size written back: %u\n", a.size);
	a.size = 5000;
	R("setattr size 5000", setattr(0, &a));
	printf("  size written back: %u\n", a.size);
	memset(big, 0, sizeof big);
	memcpy(big, &a, sizeof a);
	((struct attr *)big)->size = 64;
	((struct attr *)big)->nice = 4;
	R("setattr size 64, zero tail", setattr(0, (struct attr *)big));
	big[60] = 1;
	R("setattr size 64, non-zero tail", setattr(0, (struct attr *)big));
	printf("  size written back: %u\n", ((struct attr *)big)->size);
	a.size = 0;
	a.nice = 6;
	R("setattr size 0", setattr(0, &a));
	show_attr("  now", 0);
	a.size = sizeof a;
	a.runtime = 3000000;
	R("setattr a 3 ms slice", setattr(0, &a));
	show_attr("  now", 0);
	a.runtime = 1;
	R("setattr a 1 ns slice", setattr(0, &a));
	show_attr("  now", 0);
	a.runtime = 0;
	R("setattr NULL", syscall(SYS_sched_setattr, 0, NULL, 0));
	R("setattr pid -1", syscall(SYS_sched_setattr, -1, &a, 0));
	R("setattr no thread", syscall(SYS_sched_setattr, 99999, &a, 0));
	R("setattr flags 1", syscall(SYS_sched_setattr, 0, &a, 1));
	R("setattr from a bad address", syscall(SYS_sched_setattr, 0, (void *)8, 0));
	a.policy = 7;
	R("setattr policy 7", setattr(0, &a));
	a.policy = 6;
	R("setattr SCHED_DEADLINE without parameters", setattr(0, &a));
	a.policy = SCHED_OTHER;
	a.priority = 1;
	R("setattr SCHED_OTHER priority 1", setattr(0, &a));
	a.policy = SCHED_FIFO;
	a.priority = 0;
	R("setattr SCHED_FIFO priority 0", setattr(0, &a));
	a.priority = 100;
	R("setattr SCHED_FIFO priority 100", setattr(0, &a));
	a.priority = 2;
	R("setattr SCHED_FIFO priority 2 (root)", setattr(0, &a));
	show_attr("  now", 0);
	show_legacy("  now", 0);
	R("setpriority under SCHED_FIFO", setpriority(PRIO_PROCESS, 0, 8));
	show_attr("  now", 0);
	struct sched_param sp = { .sched_priority = 0 };
	R("sched_setparam 0 under SCHED_FIFO", sched_setparam(0, &sp));
	sp.sched_priority = 99;
	R("sched_setparam 99", sched_setparam(0, &sp));
	sp.sched_priority = 100;
	R("sched_setparam 100", sched_setparam(0, &sp));
	sp.sched_priority = 5;
	R("sched_setscheduler SCHED_RR|SCHED_RESET_ON_FORK 5", sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp));
	show_legacy("  now", 0);
	show_attr("  now", 0);
	R("setpriority -3 (root)", setpriority(PRIO_PROCESS, 0, -3));
	int fds[2];
	pipe(fds);
	pid_t child = fork();
	if (child == 0) {
		show_legacy("child of a SCHED_RESET_ON_FORK parent", 0);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	sp.sched_priority = 0;
	R("sched_setscheduler SCHED_OTHER (clearing reset-on-fork)", sched_setscheduler(0, SCHED_OTHER, &sp));
	R("sched_setscheduler SCHED_IDLE", sched_setscheduler(0, SCHED_IDLE, &sp));
	show_attr("  now", 0);
	R("sched_setscheduler policy -1", sched_setscheduler(0, -1, &sp));
	R("sched_setscheduler NULL param", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL));
	R("sched_setscheduler no thread", sched_setscheduler(99999, SCHED_OTHER, &sp));
	R("sched_getparam NULL", syscall(SYS_sched_getparam, 0, NULL));
	R("sched_getscheduler pid -1", syscall(SYS_sched_getscheduler, -1));
	R("sched_getscheduler no thread", syscall(SYS_sched_getscheduler, 99999));
	R("sched_rr_get_interval pid -1", syscall(SYS_sched_rr_get_interval, -1, &(struct timespec){ 0 }));
	R("sched_get_priority_max SCHED_DEADLINE", sched_get_priority_max(6));
	R("sched_get_priority_min SCHED_RR", sched_get_priority_min(SCHED_RR));
	R("sched_get_priority_max 7", sched_get_priority_max(7));
	R("sched_setscheduler SCHED_OTHER", sched_setscheduler(0, SCHED_OTHER, &sp));

	printf("-- nice values\n");
	R("setpriority 5", setpriority(PRIO_PROCESS, 0, 5));
	R("raw getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	R("setpriority 40 (clamped)", setpriority(PRIO_PROCESS, 0, 40));
	R("raw getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	R("setpriority -40 (clamped, root)", setpriority(PRIO_PROCESS, 0, -40));
	R("raw getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	R("setpriority of no thread", setpriority(PRIO_PROCESS, 99999, 1));
	R("getpriority of no thread", syscall(SYS_getpriority, PRIO_PROCESS, 99999));
	R("getpriority which 3", syscall(SYS_getpriority, 3, 0));
	R("getpriority of a user with no process", syscall(SYS_getpriority, PRIO_USER, 54321));
	R("setpriority of a user with no process", setpriority(PRIO_USER, 54321, 1));
	R("setpriority 2", setpriority(PRIO_PROCESS, 0, 2));
	child = fork();
	if (child == 0) {
		char c;
		read(fds[0], &c, 1);
		show_legacy("child", 0);
		show_attr("child's attributes", 0);
		printf("child's ioprio: %ld\n", syscall(SYS_ioprio_get, 1, 0));
		show_policy("child's memory policy");
		_exit(0);
	}
	R("raw getpriority of the group", syscall(SYS_getpriority, PRIO_PGRP, 0));
	R("setpriority 9 of the child", setpriority(PRIO_PROCESS, child, 9));
	R("raw getpriority of the child", syscall(SYS_getpriority, PRIO_PROCESS, child));
	R("raw getpriority of the group", syscall(SYS_getpriority, PRIO_PGRP, 0));
	R("setpriority 11 of the group", setpriority(PRIO_PGRP, 0, 11));
	R("raw getpriority of the group", syscall(SYS_getpriority, PRIO_PGRP, 0));
	R("raw getpriority of my group by id", syscall(SYS_getpriority, PRIO_PGRP, getpgrp()));

	printf("-- I/O priorities\n");
	R("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
	R("ioprio_get of the group (two processes)", syscall(SYS_ioprio_get, 2, 0));
	R("ioprio_set BE 7", syscall(SYS_ioprio_set, 1, 0, 2 << 13 | 7));
	R("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
	R("ioprio_get of the group", syscall(SYS_ioprio_get, 2, 0));
	R("ioprio_set IDLE of the child", syscall(SYS_ioprio_set, 1, child, 3 << 13));
	R("ioprio_get of the child", syscall(SYS_ioprio_get, 1, child));
	R("ioprio_get of the group", syscall(SYS_ioprio_get, 2, 0));
	R("ioprio_set RT 1 (root)", syscall(SYS_ioprio_set, 1, 0, 1 << 13 | 1));
	R("ioprio_get of the group", syscall(SYS_ioprio_get, 2, 0));
	R("ioprio_set NONE", syscall(SYS_ioprio_set, 1, 0, 0));
	R("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
	R("ioprio_set NONE level 3", syscall(SYS_ioprio_set, 1, 0, 3));
	R("ioprio_set class 4", syscall(SYS_ioprio_set, 1, 0, 4 << 13));
	R("ioprio_set BE with a hint", syscall(SYS_ioprio_set, 1, 0, 2 << 13 | 1 << 3 | 4));
	R("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
	R("ioprio_set of the group", syscall(SYS_ioprio_set, 2, 0, 2 << 13 | 2));
	R("ioprio_get of the child", syscall(SYS_ioprio_get, 1, child));
	R("ioprio_get which 4", syscall(SYS_ioprio_get, 4, 0));
	R("ioprio_set which 0", syscall(SYS_ioprio_set, 0, 0, 0));
	R("ioprio_get of no thread", syscall(SYS_ioprio_get, 1, 99999));
	R("ioprio_set of no thread", syscall(SYS_ioprio_set, 1, 99999, 0));
	R("ioprio_get of a user with no process", syscall(SYS_ioprio_get, 3, 54321));
	R("ioprio_set of a user with no process", syscall(SYS_ioprio_set, 3, 54321, 0));
	R("ioprio_set BE 6", syscall(SYS_ioprio_set, 1, 0, 2 << 13 | 6));

	printf("-- what fork and threads inherit\n");
	R("set MPOL_BIND {0}", set_policy(2, 1, 64));
	a.size = sizeof a;
	a.policy = SCHED_BATCH;
	a.flags = 0;
	a.priority = 0;
	a.nice = 4;
	a.runtime = 0;
	R("setattr of the child: SCHED_BATCH nice 4", setattr(child, &a));
	write(fds[1], "x", 1);
	waitpid(child, NULL, 0);
	child = fork();
	if (child == 0) {
		show_attr("a new child's attributes", 0);
		printf("a new child's ioprio: %ld\n", syscall(SYS_ioprio_get, 1, 0));
		show_policy("a new child's memory policy");
		_exit(0);
	}
	waitpid(child, NULL, 0);
	pthread_t t;
	pthread_create(&t, NULL, thread_main, NULL);
	pthread_join(t, NULL);
	show_policy("main thread's memory policy after the thread's change");
	R("raw getpriority of the main thread after the thread's change", syscall(SYS_getpriority, PRIO_PROCESS, 0));
}

int main(void)
{
	report_start();
	/* A process group of our own, for the PRIO_PGRP and IOPRIO_WHO_PGRP queries. */
	setpgid(0, 0);
	test_mempolicy();
	test_sched();
	return 0;
}
