/*
 * ipc_shm: self-checking guest for System V shared memory, run with a scratch
 * directory as argv[1] (ftok keys are made from it).
 *
 * - shmget: IPC_PRIVATE, keys with IPC_CREAT/IPC_EXCL (EEXIST, ENOENT), a size
 *   above the segment's (EINVAL), sizes 0 and above SHMMAX (EINVAL).
 * - IPC_STAT: size, mode, key, owner and creator, cpid/lpid, nattch, times.
 * - shmat: kernel-chosen and fixed addresses, SHM_RND, SHM_REMAP, EINVAL over
 *   existing mappings and for unaligned addresses, SHM_RDONLY (a store
 *   faults), attaches sharing pages, the /proc/self/maps line.
 * - nattch across fork (the child's attaches count), exit and exec (they
 *   detach), and mprotect splitting an attach (counted twice, as on Linux).
 * - shmdt: only at an attach address (EINVAL inside one, unaligned, or on a
 *   MAP_SHARED mapping); all pieces of a split attach go.
 * - IPC_RMID while attached: SHM_DEST, the key becomes IPC_PRIVATE and is free
 *   again, attaching still works (a Linux feature), the id goes with the last
 *   detach.
 * - IPC_SET; access checks in a child without privileges; SHM_STAT,
 *   SHM_STAT_ANY, IPC_INFO, SHM_INFO; unknown commands and the IPC_64 flag
 *   (EINVAL on x86_64).
 *
 * Output holds no ids, keys, pids or addresses. Exit status 0 only if all
 * passed. `ipc_shm --nattch ID` (used after exec) exits with ID's attach count.
 */
#include "ipc_check.h"
#include <sys/mman.h>
#include <sys/syscall.h>

static const char *self;

static int stat_of(int id, struct shmid_ds *ds)
{
	return shmctl(id, IPC_STAT, ds);
}

static long nattch(int id)
{
	struct shmid_ds ds;
	return stat_of(id, &ds) == 0 ? (long)ds.shm_nattch : -1;
}

static int recent(time_t t)
{
	time_t now = time(NULL);
	return t > now - 60 && t <= now + 1;
}

/* The /proc/self/maps line of the mapping at p (empty if none). */
static void maps_line(const void *p, char *out, size_t size)
{
	char want[32], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)p);
	out[0] = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, want, strlen(want)) == 0) {
			snprintf(out, size, "%s", line);
			break;
		}
	fclose(f);
}

static void test_create_and_attach(void)
{
	struct shmid_ds ds;
	int id = track('m', shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0640));
	CHECK("private_create", id >= 0);
	CHECK("stat", stat_of(id, &ds) == 0);
	CHECK("stat_size", ds.shm_segsz == 10000);
	CHECK("stat_mode", (ds.shm_perm.mode & 0777) == 0640 && !(ds.shm_perm.mode & SHM_DEST));
	CHECK("stat_key_private", ds.shm_perm.__key == IPC_PRIVATE);
	CHECK("stat_owner", ds.shm_perm.uid == geteuid() && ds.shm_perm.cuid == geteuid() &&
	      ds.shm_perm.gid == getegid() && ds.shm_perm.cgid == getegid());
	CHECK("stat_cpid", ds.shm_cpid == getpid());
	CHECK("stat_unattached", ds.shm_nattch == 0 && ds.shm_lpid == 0 && ds.shm_atime == 0 &&
	      ds.shm_dtime == 0);
	CHECK("stat_ctime", recent(ds.shm_ctime));

	char *p = shmat(id, NULL, 0);
	CHECK("attach", p != (void *)-1);
	CHECK("attach_page_aligned", ((unsigned long)p & 4095) == 0);
	CHECK("attach_zeroed", p[0] == 0 && p[9999] == 0 && p[12287] == 0);
	memset(p, 'a', 10000);
	CHECK("stat_after_attach", stat_of(id, &ds) == 0 && ds.shm_nattch == 1 &&
	      ds.shm_lpid == getpid() && recent(ds.shm_atime) && ds.shm_dtime == 0);
	char line[512], name[64];
	maps_line(p, line, sizeof line);
	snprintf(name, sizeof name, " %d ", id);
	CHECK("maps_line", strstr(line, " rw-s 00000000 ") && strstr(line, name) &&
	      strstr(line, "/SYSV00000000 (deleted)"));

	char *q = shmat(id, NULL, 0);
	CHECK("second_attach_elsewhere", q != (void *)-1 && q != p);
	CHECK("attaches_share_pages", q[5000] == 'a' && (p[1] = 'b', q[1] == 'b'));
	CHECK("nattch_two", nattch(id) == 2);
	CHECK("detach", shmdt(q) == 0);
	CHECK("stat_after_detach", stat_of(id, &ds) == 0 && ds.shm_nattch == 1 && recent(ds.shm_dtime));
	CHECK_ERR("detach_again", shmdt(q), EINVAL);
	CHECK_ERR("detach_unaligned", shmdt(p + 1), EINVAL);
	CHECK_ERR("detach_inside", shmdt(p + 4096), EINVAL);
	char *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK_ERR("detach_shared_anonymous", shmdt(anon), EINVAL);
	munmap(anon, 4096);
	CHECK("detach_last", shmdt(p) == 0 && nattch(id) == 0);
	CHECK("remove_unattached", shmctl(id, IPC_RMID, NULL) == 0);
	CHECK_ERR("stat_removed", stat_of(id, &ds), EINVAL);
	CHECK_ERR("attach_removed", (long)shmat(id, NULL, 0), EINVAL);
	CHECK_ERR("remove_removed", shmctl(id, IPC_RMID, NULL), EINVAL);
}

static void test_addresses(void)
{
	int id = track('m', shmget(IPC_PRIVATE, 8192, 0600));
	char *p = shmat(id, NULL, 0);
	CHECK("addr_setup", p != (void *)-1 && shmdt(p) == 0);
	CHECK("attach_fixed", shmat(id, p, 0) == p);
	CHECK_ERR("attach_over_mapping", (long)shmat(id, p, 0), EINVAL);
	CHECK_ERR("attach_over_mapping_end", (long)shmat(id, p + 4096, 0), EINVAL);
	CHECK("attach_remap", shmat(id, p, SHM_REMAP) == p && nattch(id) == 1);
	CHECK_ERR("attach_unaligned", (long)shmat(id, p + 100, 0), EINVAL);
	CHECK("rnd_setup", shmdt(p) == 0);
	CHECK("attach_rnd_rounds_down", shmat(id, p + 100, SHM_RND) == p && shmdt(p) == 0);
	CHECK_ERR("remap_needs_address", (long)shmat(id, NULL, SHM_REMAP), EINVAL);

	char *ro = shmat(id, NULL, SHM_RDONLY);
	CHECK("attach_readonly", ro != (void *)-1 && ro[0] == 0);
	pid_t c = xfork();
	if (c == 0) {
		*(volatile char *)ro = 1;
		_exit(0);
	}
	CHECK("readonly_store_faults", child_status(c) == 128 + SIGSEGV);
	CHECK("readonly_detach", shmdt(ro) == 0);

	char *s = shmat(id, NULL, 0);
	CHECK("split_counts_twice", mprotect(s, 4096, PROT_READ) == 0 && nattch(id) == 2);
	CHECK("detach_split", shmdt(s) == 0 && nattch(id) == 0);
	s = shmat(id, NULL, 0);
	CHECK("unmap_piece", munmap(s + 4096, 4096) == 0 && nattch(id) == 1);
	CHECK("detach_rest", shmdt(s) == 0 && nattch(id) == 0);
	shmctl(id, IPC_RMID, NULL);
}

static void test_processes(void)
{
	int id = track('m', shmget(IPC_PRIVATE, 4096, 0600));
	char *p = shmat(id, NULL, 0);
	strcpy(p, "parent");
	pid_t c = xfork();
	if (c == 0) {
		int ok = strcmp(p, "parent") == 0 && nattch(id) == 2;
		strcpy(p, "child");
		char *extra = shmat(id, NULL, 0);
		struct shmid_ds ds;
		ok = ok && extra != (void *)-1 && stat_of(id, &ds) == 0 && ds.shm_nattch == 3 &&
		     ds.shm_lpid == getpid();
		_exit(ok ? 0 : 1);
	}
	CHECK("fork_shares_attach", child_status(c) == 0);
	CHECK("child_store_visible", strcmp(p, "child") == 0);
	CHECK("exit_detaches", nattch(id) == 1);
	struct shmid_ds ds;
	CHECK("lpid_of_child", stat_of(id, &ds) == 0 && ds.shm_lpid == c);

	c = xfork();
	if (c == 0) {
		char arg[16];
		snprintf(arg, sizeof arg, "%d", id);
		execl(self, self, "--nattch", arg, (char *)NULL);
		_exit(100);
	}
	CHECK("exec_detaches", child_status(c) == 1);
	CHECK("detach_after_children", shmdt(p) == 0 && nattch(id) == 0);
	shmctl(id, IPC_RMID, NULL);
}

static void test_remove_attached(const char *dir)
{
	struct shmid_ds ds;
	key_t key = ftok(dir, 'S');
	CHECK("ftok", key != -1);
	int id = track('m', shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
	CHECK("key_create", id >= 0);
	CHECK_ERR("key_exclusive", shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	CHECK("key_lookup", shmget(key, 0, 0) == id && shmget(key, 4096, IPC_CREAT | 0600) == id);
	CHECK_ERR("key_bigger_size", shmget(key, 8192, 0), EINVAL);
	CHECK_ERR("key_missing", shmget(ftok(dir, 'T'), 4096, 0600), ENOENT);
	CHECK("stat_key", stat_of(id, &ds) == 0 && ds.shm_perm.__key == key);

	char *p = shmat(id, NULL, 0);
	strcpy(p, "kept");
	CHECK("remove_attached", shmctl(id, IPC_RMID, NULL) == 0);
	CHECK("stat_dest", stat_of(id, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST) &&
	      ds.shm_perm.__key == IPC_PRIVATE && ds.shm_nattch == 1);
	CHECK("memory_survives_removal", strcmp(p, "kept") == 0);
	CHECK_ERR("key_forgotten", shmget(key, 4096, 0600), ENOENT);
	int id2 = track('m', shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
	CHECK("key_reusable", id2 >= 0 && id2 != id);
	char *again = shmat(id, NULL, 0);
	CHECK("attach_removed_segment", again != (void *)-1 && strcmp(again, "kept") == 0 &&
	      nattch(id) == 2);
	pid_t c = xfork();
	if (c == 0)
		_exit(nattch(id) == 4 ? 0 : 1);
	CHECK("fork_counts_removed_attaches", child_status(c) == 0);
	CHECK("detach_one", shmdt(again) == 0 && nattch(id) == 1);
	CHECK("last_detach_destroys", shmdt(p) == 0 && stat_of(id, &ds) == -1 && errno == EINVAL);
	CHECK("remove_second", shmctl(id2, IPC_RMID, NULL) == 0);
}

static void test_control(void)
{
	struct shmid_ds ds;
	int id = track('m', shmget(IPC_PRIVATE, 4096, 0600));
	CHECK("set_setup", stat_of(id, &ds) == 0);
	ds.shm_perm.mode = 0604;
	CHECK("set_mode", shmctl(id, IPC_SET, &ds) == 0 && stat_of(id, &ds) == 0 &&
	      (ds.shm_perm.mode & 0777) == 0604);
	ds.shm_perm.uid = (uid_t)-1;
	CHECK_ERR("set_bad_uid", shmctl(id, IPC_SET, &ds), EINVAL);
	if (geteuid() == 0) {
		pid_t c = xfork();
		if (c == 0) {
			lose_privileges();
			struct shmid_ds d;
			int ok = shmat(id, NULL, 0) == (void *)-1 && errno == EACCES;
			ok = ok && shmat(id, NULL, SHM_RDONLY) != (void *)-1 && stat_of(id, &d) == 0;
			ok = ok && shmctl(id, IPC_RMID, NULL) == -1 && errno == EPERM;
			ok = ok && shmctl(id, IPC_SET, &d) == -1 && errno == EPERM;
			_exit(ok ? 0 : 1);
		}
		CHECK("others_read_only_not_owner", child_status(c) == 0);
	}
	stat_of(id, &ds);
	ds.shm_perm.mode = 0;
	CHECK("set_mode_none", shmctl(id, IPC_SET, &ds) == 0);
	pid_t c = xfork();
	if (c == 0) {
		lose_privileges();
		struct shmid_ds d;
		int ok = shmat(id, NULL, SHM_RDONLY) == (void *)-1 && errno == EACCES;
		ok = ok && stat_of(id, &d) == -1 && errno == EACCES;
		ok = ok && shmctl(id % 32768, SHM_STAT, &d) == -1 && errno == EACCES;
		ok = ok && shmctl(id % 32768, SHM_STAT_ANY, &d) == id;
		_exit(ok ? 0 : 1);
	}
	CHECK("mode_none_denies", child_status(c) == 0);

	char *p = shmat(id, NULL, 0);
	p[0] = 1;
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
	CHECK("shm_info", max >= id % 32768 && info.used_ids >= 1 && info.shm_tot >= 1 &&
	      info.shm_rss >= 1);
	struct shminfo lim;
	max = shmctl(0, IPC_INFO, (struct shmid_ds *)&lim);
	CHECK("ipc_info", max >= id % 32768 && lim.shmmin == 1 && lim.shmmni == lim.shmseg &&
	      lim.shmmax >= 4096 && lim.shmall >= 1);
	CHECK("shm_stat_by_index", shmctl(id % 32768, SHM_STAT, &ds) == id && ds.shm_nattch == 1);
	CHECK("shm_stat_any", shmctl(id % 32768, SHM_STAT_ANY, &ds) == id);
	CHECK("lock_unlock", shmctl(id, SHM_LOCK, NULL) == 0 && stat_of(id, &ds) == 0 &&
	      (ds.shm_perm.mode & SHM_LOCKED) && shmctl(id, SHM_UNLOCK, NULL) == 0 &&
	      stat_of(id, &ds) == 0 && !(ds.shm_perm.mode & SHM_LOCKED));
	CHECK_ERR("ctl_unknown", shmctl(id, 99, &ds), EINVAL);
	CHECK_ERR("ctl_ipc64_flag", syscall(SYS_shmctl, id, IPC_STAT | 0x100, &ds), EINVAL);
	CHECK_ERR("ctl_negative_id", shmctl(-1, IPC_STAT, &ds), EINVAL);
	CHECK_ERR("stat_efault", shmctl(id, IPC_STAT, (struct shmid_ds *)8), EFAULT);
	CHECK_ERR("size_zero", shmget(IPC_PRIVATE, 0, 0600), EINVAL);
	CHECK_ERR("size_above_shmmax", shmget(IPC_PRIVATE, (size_t)-1 - (1 << 24) + 1, 0600), EINVAL);
	shmdt(p);
	shmctl(id, IPC_RMID, NULL);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--nattch") == 0)
		return (int)nattch(atoi(argv[2]));
	if (argc < 2) {
		fprintf(stderr, "usage: ipc_shm SCRATCH_DIR\n");
		return 2;
	}
	self = argv[0];
	test_create_and_attach();
	test_addresses();
	test_processes();
	test_remove_attached(argv[1]);
	test_control();
	return summary();
}
