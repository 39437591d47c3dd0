/*
 * ipc_sem: self-checking guest for System V semaphores, run with a scratch
 * directory as argv[1] (ftok keys are made from it).
 *
 * - semctl: IPC_STAT, GETVAL/SETVAL, GETALL/SETALL, GETPID, ERANGE, EINVAL,
 *   EFAULT; IPC_SET, SEM_STAT, SEM_STAT_ANY, IPC_INFO, SEM_INFO, unknown
 *   commands and the IPC_64 flag (EINVAL on x86_64).
 * - semop: several operations applied all or none, operations on one
 *   semaphore in order, IPC_NOWAIT (EAGAIN), wait-for-zero, EINVAL, E2BIG,
 *   EFBIG, ERANGE, EFAULT; semtimedop timeouts (EAGAIN) and bad timeouts.
 * - Waiting across fork: GETNCNT/GETZCNT count waiters by the operation they
 *   block on, increments and SETVAL wake them, waiters complete in FIFO order,
 *   a signal ends the wait with EINTR even with SA_RESTART, IPC_RMID ends it
 *   with EIDRM.
 * - SEM_UNDO: applied at exit (also for a waiter completed by another
 *   process), clamped at 0, cleared by SETVAL, limited to -32768..32767.
 * - Keys (EEXIST, ENOENT, more semaphores than the set has) and access checks
 *   in a child without privileges.
 *
 * Output holds no ids, keys or pids. Exit status 0 only if all passed.
 */
#include "ipc_check.h"
#include <sys/syscall.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *info;
};

static int recent(time_t t)
{
	time_t now = time(NULL);
	return t > now - 60 && t <= now + 1;
}

static int val(int id, int num)
{
	return semctl(id, num, GETVAL);
}

static int op1(int id, unsigned short num, short delta, short flags)
{
	struct sembuf op = {num, delta, flags};
	return semop(id, &op, 1);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_values(void)
{
	struct semid_ds ds;
	union semun a = {.buf = &ds};
	int id = track('s', semget(IPC_PRIVATE, 3, IPC_CREAT | 0600));
	CHECK("create", id >= 0);
	CHECK("stat", semctl(id, 0, IPC_STAT, a) == 0 && ds.sem_nsems == 3 && ds.sem_otime == 0 &&
	      recent(ds.sem_ctime) && (ds.sem_perm.mode & 0777) == 0600 &&
	      ds.sem_perm.uid == geteuid() && ds.sem_perm.cuid == geteuid() &&
	      ds.sem_perm.__key == IPC_PRIVATE);
	unsigned short vals[3] = {9, 9, 9};
	a.array = vals;
	CHECK("initially_zero", semctl(id, 0, GETALL, a) == 0 && vals[0] == 0 && vals[1] == 0 &&
	      vals[2] == 0);
	CHECK("setval_getval", semctl(id, 1, SETVAL, 5) == 0 && val(id, 1) == 5);
	CHECK("getpid_after_setval", semctl(id, 1, GETPID) == getpid() && semctl(id, 0, GETPID) == 0);
	CHECK_ERR("setval_negative", semctl(id, 1, SETVAL, -1), ERANGE);
	CHECK_ERR("setval_above_semvmx", semctl(id, 1, SETVAL, 32768), ERANGE);
	CHECK("setval_semvmx", semctl(id, 1, SETVAL, 32767) == 0 && val(id, 1) == 32767);
	CHECK_ERR("setval_bad_num", semctl(id, 3, SETVAL, 1), EINVAL);
	CHECK_ERR("getval_bad_num", semctl(id, -1, GETVAL), EINVAL);
	unsigned short set[3] = {1, 2, 3}, big[3] = {1, 40000, 3};
	a.array = set;
	CHECK("setall", semctl(id, 0, SETALL, a) == 0);
	a.array = vals;
	CHECK("getall", semctl(id, 0, GETALL, a) == 0 && vals[0] == 1 && vals[1] == 2 && vals[2] == 3);
	a.array = big;
	CHECK_ERR("setall_above_semvmx", semctl(id, 0, SETALL, a), ERANGE);
	CHECK("setall_unchanged", val(id, 1) == 2);
	a.array = (unsigned short *)8;
	CHECK_ERR("getall_efault", semctl(id, 0, GETALL, a), EFAULT);
	CHECK_ERR("setall_efault", semctl(id, 0, SETALL, a), EFAULT);

	struct sembuf fails[2] = {{0, -1, 0}, {2, -4, IPC_NOWAIT}};
	CHECK_ERR("atomic_nowait_fails", semop(id, fails, 2), EAGAIN);
	CHECK("atomic_nothing_applied", val(id, 0) == 1 && val(id, 2) == 3);
	struct sembuf both[2] = {{0, -1, 0}, {2, 2, 0}};
	CHECK("atomic_applies_all", semop(id, both, 2) == 0 && val(id, 0) == 0 && val(id, 2) == 5);
	a.buf = &ds;
	CHECK("otime_set", semctl(id, 0, IPC_STAT, a) == 0 && recent(ds.sem_otime));
	CHECK("getpid_after_semop", semctl(id, 2, GETPID) == getpid());
	struct sembuf same[2] = {{1, 5, 0}, {1, -7, 0}};
	CHECK("ops_on_one_semaphore_in_order", semop(id, same, 2) == 0 && val(id, 1) == 0);
	struct sembuf over[2] = {{1, 1, 0}, {1, 32767, 0}};
	CHECK_ERR("semop_above_semvmx", semop(id, over, 2), ERANGE);
	CHECK("semop_above_semvmx_unchanged", val(id, 1) == 0);
	CHECK("wait_zero_when_zero", op1(id, 0, 0, IPC_NOWAIT) == 0);
	CHECK_ERR("wait_zero_nowait", op1(id, 2, 0, IPC_NOWAIT), EAGAIN);

	static struct sembuf many[501];
	CHECK_ERR("semop_no_ops", semop(id, many, 0), EINVAL);
	CHECK_ERR("semop_too_many_ops", semop(id, many, 501), E2BIG);
	CHECK_ERR("semop_bad_num", op1(id, 3, 1, 0), EFBIG);
	CHECK_ERR("semop_efault", semop(id, (struct sembuf *)8, 1), EFAULT);
	CHECK_ERR("semop_bad_id", op1(-1, 0, 1, 0), EINVAL);

	struct sembuf dec = {0, -1, 0};
	struct timespec ts = {0, 50 * 1000000}, bad = {0, 2000000000}, t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_ERR("semtimedop_times_out", semtimedop(id, &dec, 1, &ts), EAGAIN);
	CHECK("semtimedop_waited", ms_since(&t0) >= 45);
	CHECK_ERR("semtimedop_bad_timeout", semtimedop(id, &dec, 1, &bad), EINVAL);
	CHECK("no_waiter_left", semctl(id, 0, GETNCNT) == 0);
	CHECK("remove", semctl(id, 0, IPC_RMID) == 0);
	CHECK_ERR("getval_removed", val(id, 0), EINVAL);
	CHECK_ERR("semop_removed", op1(id, 0, 1, 0), EINVAL);
}

static void test_waiting(void)
{
	int id = track('s', semget(IPC_PRIVATE, 2, 0600));
	pid_t c = xfork();
	if (c == 0)
		_exit(op1(id, 0, -2, 0) == 0 ? 0 : 1);
	CHECK("waiter_counted", WAIT_FOR(semctl(id, 0, GETNCNT) == 1) && semctl(id, 0, GETZCNT) == 0);
	CHECK("partial_increment_keeps_waiting", op1(id, 0, 1, 0) == 0 && (sleep_ms(50), 1) &&
	      semctl(id, 0, GETNCNT) == 1 && val(id, 0) == 1);
	CHECK("increment_wakes", op1(id, 0, 1, 0) == 0 && child_status(c) == 0 && val(id, 0) == 0);
	CHECK("getpid_is_completed_waiter", semctl(id, 0, GETPID) == c);

	semctl(id, 1, SETVAL, 2);
	c = xfork();
	if (c == 0)
		_exit(op1(id, 1, 0, 0) == 0 ? 0 : 1);
	CHECK("zero_waiter_counted", WAIT_FOR(semctl(id, 1, GETZCNT) == 1) &&
	      semctl(id, 1, GETNCNT) == 0);
	CHECK("nonzero_keeps_waiting", op1(id, 1, -1, 0) == 0 && (sleep_ms(50), 1) &&
	      semctl(id, 1, GETZCNT) == 1);
	CHECK("zero_wakes", op1(id, 1, -1, 0) == 0 && child_status(c) == 0);

	pid_t first = xfork();
	if (first == 0)
		_exit(op1(id, 0, -1, 0) == 0 ? 0 : 1);
	WAIT_FOR(semctl(id, 0, GETNCNT) == 1);
	pid_t second = xfork();
	if (second == 0)
		_exit(op1(id, 0, -1, 0) == 0 ? 0 : 1);
	CHECK("two_waiters", WAIT_FOR(semctl(id, 0, GETNCNT) == 2));
	int st = -1;
	CHECK("fifo_first_waiter_first", op1(id, 0, 1, 0) == 0 && WAIT_FOR(child_done(first, &st)) &&
	      st == 0 && semctl(id, 0, GETNCNT) == 1);
	CHECK("fifo_then_second", op1(id, 0, 1, 0) == 0 && child_status(second) == 0);

	semctl(id, 0, SETVAL, 1);
	c = xfork();
	if (c == 0) {
		struct sembuf ops[2] = {{0, -1, 0}, {1, -1, 0}};
		_exit(semop(id, ops, 2) == 0 ? 0 : 1);
	}
	CHECK("complex_counted_on_blocking_op", WAIT_FOR(semctl(id, 1, GETNCNT) == 1) &&
	      semctl(id, 0, GETNCNT) == 0 && val(id, 0) == 1);
	CHECK("setval_wakes", semctl(id, 1, SETVAL, 1) == 0 && child_status(c) == 0 &&
	      val(id, 0) == 0 && val(id, 1) == 0);

	catch_with_restart(SIGALRM);
	ualarm(100000, 0);
	CHECK_ERR("signal_interrupts_despite_sa_restart", op1(id, 0, -1, 0), EINTR);
	CHECK("interrupted_waiter_gone", semctl(id, 0, GETNCNT) == 0);

	c = xfork();
	if (c == 0)
		_exit(op1(id, 0, -1, 0) == -1 && errno == EIDRM ? 0 : 1);
	CHECK("waiter_before_remove", WAIT_FOR(semctl(id, 0, GETNCNT) == 1));
	CHECK("remove_wakes_with_eidrm", semctl(id, 0, IPC_RMID) == 0 && child_status(c) == 0);
}

/* Runs a child that does `op` with SEM_UNDO, then waits for the parent's word. */
static pid_t undo_child(int id, short delta, int *go)
{
	int up[2], down[2];
	if (pipe(up) != 0 || pipe(down) != 0)
		exit(2);
	pid_t c = xfork();
	char b = 0;
	if (c == 0) {
		int ok = op1(id, 0, delta, SEM_UNDO) == 0;
		if (write(up[1], &b, 1) != 1 || read(down[0], &b, 1) != 1)
			_exit(3);
		_exit(ok ? 0 : 1);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &b, 1) != 1)
		exit(2);
	close(up[0]);
	*go = down[1];
	return c;
}

static int release(pid_t c, int go)
{
	char b = 0;
	int ok = write(go, &b, 1) == 1;
	close(go);
	return child_status(c) == 0 && ok;
}

static void test_undo(void)
{
	int go;
	int id = track('s', semget(IPC_PRIVATE, 2, 0600));
	semctl(id, 0, SETVAL, 5);
	pid_t c = xfork();
	if (c == 0) {
		struct sembuf ops[2] = {{0, -2, SEM_UNDO}, {1, 3, SEM_UNDO}};
		_exit(semop(id, ops, 2) == 0 && val(id, 0) == 3 && val(id, 1) == 3 ? 0 : 1);
	}
	CHECK("undo_child_ran", child_status(c) == 0);
	CHECK("undo_at_exit", val(id, 0) == 5 && val(id, 1) == 0);
	CHECK("undo_sets_pid", semctl(id, 0, GETPID) == c);

	semctl(id, 0, SETVAL, 0);
	c = undo_child(id, 1, &go);
	CHECK("undo_clamp_setup", op1(id, 0, -1, 0) == 0);
	CHECK("undo_clamps_at_zero", release(c, go) && val(id, 0) == 0);

	c = undo_child(id, 1, &go);
	CHECK("setval_clears_undo", semctl(id, 0, SETVAL, 7) == 0 && release(c, go) && val(id, 0) == 7);

	semctl(id, 0, SETVAL, 0);
	c = xfork();
	if (c == 0)
		_exit(op1(id, 0, -1, SEM_UNDO) == 0 ? 0 : 1);
	WAIT_FOR(semctl(id, 0, GETNCNT) == 1);
	CHECK("undo_of_completed_waiter", op1(id, 0, 1, 0) == 0 && child_status(c) == 0 &&
	      val(id, 0) == 1);

	semctl(id, 0, SETVAL, 0);
	c = xfork();
	if (c == 0) {
		int ok = op1(id, 0, 32767, SEM_UNDO) == 0 && op1(id, 0, -32767, 0) == 0 &&
			 op1(id, 0, 1, SEM_UNDO) == 0 && op1(id, 0, -1, 0) == 0;
		ok = ok && op1(id, 0, 1, SEM_UNDO) == -1 && errno == ERANGE && val(id, 0) == 0;
		_exit(ok ? 0 : 1);
	}
	CHECK("undo_adjustment_range", child_status(c) == 0 && val(id, 0) == 0);
	semctl(id, 0, IPC_RMID);
}

static void test_keys_and_control(const char *dir)
{
	struct semid_ds ds;
	union semun a = {.buf = &ds};
	key_t key = ftok(dir, 'M');
	CHECK("ftok", key != -1);
	int id = track('s', semget(key, 2, IPC_CREAT | IPC_EXCL | 0644));
	CHECK("key_create", id >= 0);
	CHECK_ERR("key_exclusive", semget(key, 2, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	CHECK("key_lookup", semget(key, 0, 0) == id && semget(key, 2, IPC_CREAT) == id);
	CHECK_ERR("key_more_semaphores", semget(key, 3, 0), EINVAL);
	CHECK_ERR("key_missing", semget(ftok(dir, 'N'), 1, 0600), ENOENT);
	CHECK("stat_key", semctl(id, 0, IPC_STAT, a) == 0 && ds.sem_perm.__key == key);
	CHECK_ERR("create_no_semaphores", semget(IPC_PRIVATE, 0, 0600), EINVAL);
	CHECK_ERR("too_many_semaphores", semget(IPC_PRIVATE, 32001, 0600), EINVAL);
	CHECK_ERR("negative_count", semget(IPC_PRIVATE, -1, 0600), EINVAL);

	if (geteuid() == 0) {
		semctl(id, 0, SETVAL, 1);
		pid_t c = xfork();
		if (c == 0) {
			lose_privileges();
			int ok = val(id, 0) == 1 && semget(key, 0, 0400) == id;
			ok = ok && semget(key, 0, 0600) == -1 && errno == EACCES;
			ok = ok && semctl(id, 0, SETVAL, 0) == -1 && errno == EACCES;
			ok = ok && op1(id, 0, -1, 0) == -1 && errno == EACCES;
			ok = ok && semctl(id, 0, IPC_RMID) == -1 && errno == EPERM;
			_exit(ok ? 0 : 1);
		}
		CHECK("others_read_only_not_owner", child_status(c) == 0);
		semctl(id, 0, SETVAL, 0);
	}
	ds.sem_perm.mode = 0;
	CHECK("set_mode_none", semctl(id, 0, IPC_SET, a) == 0 && semctl(id, 0, IPC_STAT, a) == 0 &&
	      (ds.sem_perm.mode & 0777) == 0);
	ds.sem_perm.gid = (gid_t)-1;
	CHECK_ERR("set_bad_gid", semctl(id, 0, IPC_SET, a), EINVAL);
	pid_t c = xfork();
	if (c == 0) {
		lose_privileges();
		struct semid_ds d;
		union semun b = {.buf = &d};
		int ok = val(id, 0) == -1 && errno == EACCES;
		ok = ok && op1(id, 0, 0, IPC_NOWAIT) == -1 && errno == EACCES;
		ok = ok && semctl(id, 0, IPC_STAT, b) == -1 && errno == EACCES;
		ok = ok && semctl(id % 32768, 0, SEM_STAT, b) == -1 && errno == EACCES;
		ok = ok && semctl(id % 32768, 0, SEM_STAT_ANY, b) == id;
		_exit(ok ? 0 : 1);
	}
	CHECK("mode_none_denies", child_status(c) == 0);

	struct seminfo si;
	a.info = &si;
	int max = semctl(0, 0, SEM_INFO, a);
	CHECK("sem_info", max >= id % 32768 && si.semusz >= 1 && si.semaem >= 2 && si.semvmx == 32767);
	max = semctl(0, 0, IPC_INFO, a);
	CHECK("ipc_info", max >= id % 32768 && si.semvmx == 32767 && si.semaem == 32767 &&
	      si.semusz == 20 && si.semmsl >= 2 && si.semopm >= 1);
	a.buf = &ds;
	CHECK("sem_stat_by_index", semctl(id % 32768, 0, SEM_STAT, a) == id && ds.sem_nsems == 2);
	CHECK("sem_stat_any", semctl(id % 32768, 0, SEM_STAT_ANY, a) == id);
	CHECK_ERR("ctl_unknown", semctl(id, 0, 99), EINVAL);
	CHECK_ERR("ctl_ipc64_flag", syscall(SYS_semctl, id, 0, IPC_STAT | 0x100, &ds), EINVAL);
	CHECK_ERR("ctl_negative_id", semctl(-1, 0, GETVAL), EINVAL);
	CHECK("remove_by_owner", semctl(id, 0, IPC_RMID) == 0);
	CHECK_ERR("key_gone", semget(key, 0, 0), ENOENT);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ipc_sem SCRATCH_DIR\n");
		return 2;
	}
	test_values();
	test_waiting();
	test_undo();
	test_keys_and_control(argv[1]);
	return summary();
}
