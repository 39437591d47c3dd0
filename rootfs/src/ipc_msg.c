/*
 * ipc_msg: self-checking guest for System V message queues, run with a
 * scratch directory as argv[1] (ftok keys are made from it).
 *
 * - msgsnd/msgrcv: message order, selection by msgtyp (0, > 0, < 0, MSG_EXCEPT),
 *   MSG_NOERROR truncation (else E2BIG, the message stays), empty messages,
 *   MSG_COPY, IPC_NOWAIT (ENOMSG, EAGAIN), EINVAL and EFAULT cases.
 * - IPC_STAT counters and pids; IPC_SET of the queue size (bytes and number
 *   of messages are both limited by it; above MSGMNB only for root).
 * - Waiting across fork: a receiver waits for a message of its type, a
 *   sender for room; a receiver whose buffer is too small gets E2BIG; a signal
 *   ends either wait with EINTR even with SA_RESTART; IPC_RMID ends both with
 *   EIDRM.
 * - Keys (EEXIST, ENOENT), access checks in a child without privileges,
 *   MSG_STAT, MSG_STAT_ANY, IPC_INFO, MSG_INFO, unknown commands and the
 *   IPC_64 flag (EINVAL on x86_64).
 *
 * Output holds no ids, keys or pids. Exit status 0 only if all passed.
 */
#include "ipc_check.h"
#include <sys/syscall.h>

struct message {
	long mtype;
	char mtext[64];
};

static int recent(time_t t)
{
	time_t now = time(NULL);
	return t > now - 60 && t <= now + 1;
}

static int send_text(int id, long type, const char *text, int flags)
{
	struct message m = {.mtype = type};
	size_t n = strlen(text);
	memcpy(m.mtext, text, n);
	return msgsnd(id, &m, n, flags);
}

/* Receives into m (NUL-terminated); the length, or -1. */
static long recv_text(int id, struct message *m, size_t size, long type, int flags)
{
	memset(m, 0, sizeof *m);
	return msgrcv(id, m, size, type, flags);
}

/* Whether a receive gets a message of type `type` with text `text`. */
static int gets(int id, long type, int flags, long want_type, const char *text)
{
	struct message m;
	long n = recv_text(id, &m, sizeof m.mtext - 1, type, flags);
	return n == (long)strlen(text) && m.mtype == want_type && strcmp(m.mtext, text) == 0;
}

static unsigned long qnum(int id)
{
	struct msqid_ds ds;
	return msgctl(id, IPC_STAT, &ds) == 0 ? ds.msg_qnum : (unsigned long)-1;
}

/* Forks a child that runs `body` after telling the parent it is about to block. */
#define CHILD_ABOUT_TO_BLOCK(pid, body)                                   \
	do {                                                              \
		int p_[2];                                                \
		char b_ = 0;                                              \
		if (pipe(p_) != 0)                                        \
			exit(2);                                          \
		pid = xfork();                                            \
		if (pid == 0) {                                           \
			if (write(p_[1], &b_, 1) != 1)                    \
				_exit(3);                                 \
			body;                                             \
		}                                                         \
		close(p_[1]);                                             \
		if (read(p_[0], &b_, 1) != 1)                             \
			exit(2);                                          \
		close(p_[0]);                                             \
		sleep_ms(200);                                            \
	} while (0)

static void test_selection(void)
{
	struct msqid_ds ds;
	struct message m;
	int id = track('q', msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	CHECK("create", id >= 0);
	CHECK("stat_empty", msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 0 &&
	      ds.__msg_cbytes == 0 && ds.msg_qbytes >= 16 && ds.msg_lspid == 0 &&
	      ds.msg_lrpid == 0 && ds.msg_stime == 0 && ds.msg_rtime == 0 &&
	      recent(ds.msg_ctime) && (ds.msg_perm.mode & 0777) == 0600 &&
	      ds.msg_perm.uid == geteuid() && ds.msg_perm.__key == IPC_PRIVATE);
	CHECK("send_four", send_text(id, 3, "three", 0) == 0 && send_text(id, 1, "one-a", 0) == 0 &&
	      send_text(id, 2, "two", 0) == 0 && send_text(id, 1, "one-b", 0) == 0);
	CHECK("stat_after_send", msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 4 &&
	      ds.__msg_cbytes == 18 && ds.msg_lspid == getpid() && recent(ds.msg_stime));
	CHECK("recv_first", gets(id, 0, 0, 3, "three"));
	CHECK("recv_by_type", gets(id, 2, 0, 2, "two"));
	CHECK("recv_lowest_type_first", gets(id, -2, 0, 1, "one-a"));
	CHECK("send_more", send_text(id, 5, "five", 0) == 0 && send_text(id, 4, "four", 0) == 0);
	CHECK("recv_except", gets(id, 1, MSG_EXCEPT, 5, "five"));
	CHECK("recv_lowest_of_all", gets(id, -10, 0, 1, "one-b"));
	CHECK("recv_last", gets(id, 0, 0, 4, "four"));
	CHECK("stat_after_recv", msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 0 &&
	      ds.__msg_cbytes == 0 && ds.msg_lrpid == getpid() && recent(ds.msg_rtime));
	CHECK_ERR("recv_empty_nowait", recv_text(id, &m, 10, 0, IPC_NOWAIT), ENOMSG);
	CHECK("send_type_one", send_text(id, 1, "x", 0) == 0);
	CHECK_ERR("recv_missing_type_nowait", recv_text(id, &m, 10, 7, IPC_NOWAIT), ENOMSG);
	CHECK_ERR("recv_except_only_type_nowait", recv_text(id, &m, 10, 1, IPC_NOWAIT | MSG_EXCEPT), ENOMSG);
	CHECK("drain", gets(id, 0, 0, 1, "x"));

	CHECK("send_long", send_text(id, 1, "0123456789", 0) == 0);
	CHECK_ERR("recv_too_long", recv_text(id, &m, 4, 0, 0), E2BIG);
	CHECK("too_long_stays", qnum(id) == 1);
	CHECK("recv_truncated", recv_text(id, &m, 4, 0, MSG_NOERROR) == 4 &&
	      strcmp(m.mtext, "0123") == 0 && qnum(id) == 0);
	CHECK("empty_message", send_text(id, 9, "", 0) == 0 && recv_text(id, &m, 10, 0, 0) == 0 &&
	      m.mtype == 9);

	CHECK("copy_setup", send_text(id, 1, "a", 0) == 0 && send_text(id, 2, "b", 0) == 0);
	CHECK("copy_by_index", gets(id, 1, MSG_COPY | IPC_NOWAIT, 2, "b") && qnum(id) == 2);
	CHECK_ERR("copy_past_end", recv_text(id, &m, 10, 2, MSG_COPY | IPC_NOWAIT), ENOMSG);
	CHECK_ERR("copy_needs_nowait", recv_text(id, &m, 10, 0, MSG_COPY), EINVAL);
	CHECK_ERR("copy_no_except", recv_text(id, &m, 10, 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT), EINVAL);
	CHECK("copy_drain", gets(id, 0, 0, 1, "a") && gets(id, 0, 0, 2, "b"));

	m.mtype = 0;
	CHECK_ERR("send_type_zero", msgsnd(id, &m, 1, 0), EINVAL);
	m.mtype = -1;
	CHECK_ERR("send_type_negative", msgsnd(id, &m, 1, 0), EINVAL);
	static struct {
		long mtype;
		char mtext[8193];
	} huge = {1, {0}};
	CHECK_ERR("send_above_msgmax", msgsnd(id, &huge, 8193, 0), EINVAL);
	CHECK("send_msgmax", msgsnd(id, &huge, 8192, 0) == 0 && msgrcv(id, &huge, 8192, 0, 0) == 8192);
	CHECK_ERR("send_efault", msgsnd(id, NULL, 1, 0), EFAULT);
	CHECK_ERR("send_bad_id", send_text(-1, 1, "x", 0), EINVAL);
	CHECK_ERR("recv_negative_size", msgrcv(id, &m, (size_t)-1, 0, IPC_NOWAIT), EINVAL);
	CHECK("efault_setup", send_text(id, 1, "lost", 0) == 0);
	CHECK_ERR("recv_efault", msgrcv(id, (void *)8, 10, 0, 0), EFAULT);
	CHECK("recv_efault_takes_message", qnum(id) == 0);
	CHECK("remove", msgctl(id, IPC_RMID, NULL) == 0);
	CHECK_ERR("send_removed", send_text(id, 1, "x", 0), EINVAL);
	CHECK_ERR("recv_removed", recv_text(id, &m, 10, 0, IPC_NOWAIT), EINVAL);
}

static void test_limits_and_waiting(void)
{
	struct msqid_ds ds;
	struct message m;
	char forty[41];
	memset(forty, 'f', 40);
	forty[40] = 0;
	int id = track('q', msgget(IPC_PRIVATE, 0600));
	CHECK("stat", msgctl(id, IPC_STAT, &ds) == 0);
	ds.msg_qbytes = 100;
	CHECK("set_qbytes", msgctl(id, IPC_SET, &ds) == 0 && msgctl(id, IPC_STAT, &ds) == 0 &&
	      ds.msg_qbytes == 100);
	CHECK("fill", send_text(id, 1, forty, 0) == 0 && send_text(id, 2, forty, 0) == 0);
	CHECK_ERR("full_nowait", send_text(id, 3, forty, IPC_NOWAIT), EAGAIN);
	pid_t c;
	CHILD_ABOUT_TO_BLOCK(c, _exit(send_text(id, 3, forty, 0) == 0 ? 0 : 1));
	int st = -1;
	CHECK("sender_waits", !child_done(c, &st) && qnum(id) == 2);
	CHECK("receive_makes_room", gets(id, 1, 0, 1, forty) && child_status(c) == 0 && qnum(id) == 2);
	CHECK("drain_full", gets(id, 0, 0, 2, forty) && gets(id, 0, 0, 3, forty));

	ds.msg_qbytes = 2;
	CHECK("set_qbytes_two", msgctl(id, IPC_SET, &ds) == 0);
	CHECK("empty_messages_fit", send_text(id, 1, "", 0) == 0 && send_text(id, 1, "", 0) == 0);
	CHECK_ERR("message_count_limited", send_text(id, 1, "", IPC_NOWAIT), EAGAIN);
	CHECK("drain_empty", recv_text(id, &m, 1, 0, 0) == 0 && recv_text(id, &m, 1, 0, 0) == 0);
	ds.msg_qbytes = 100;
	msgctl(id, IPC_SET, &ds);
	c = xfork();
	if (c == 0) {
		lose_privileges();
		struct msqid_ds d;
		int q = msgget(IPC_PRIVATE, 0600), ok = msgctl(q, IPC_STAT, &d) == 0;
		d.msg_qbytes = d.msg_qbytes + 1;
		ok = ok && msgctl(q, IPC_SET, &d) == -1 && errno == EPERM;
		d.msg_qbytes = 100;
		ok = ok && msgctl(q, IPC_SET, &d) == 0;
		msgctl(q, IPC_RMID, NULL);
		_exit(ok ? 0 : 1);
	}
	CHECK("qbytes_above_msgmnb_unprivileged", child_status(c) == 0);

	CHILD_ABOUT_TO_BLOCK(c, _exit(gets(id, 5, 0, 5, "hello") ? 0 : 1));
	CHECK("receiver_waits", !child_done(c, &st));
	CHECK("other_type_keeps_waiting", send_text(id, 4, "other", 0) == 0 &&
	      (sleep_ms(50), !child_done(c, &st)));
	CHECK("matching_type_wakes", send_text(id, 5, "hello", 0) == 0 && child_status(c) == 0);
	CHECK("lrpid_of_child", msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_lrpid == c &&
	      ds.msg_qnum == 1);
	CHECK("drain_other", gets(id, 0, 0, 4, "other"));

	CHILD_ABOUT_TO_BLOCK(c, _exit(recv_text(id, &m, 2, 0, 0) == -1 && errno == E2BIG ? 0 : 1));
	CHECK("waiting_receiver_too_small", send_text(id, 1, "long", 0) == 0 && child_status(c) == 0 &&
	      qnum(id) == 1);
	CHECK("drain_long", gets(id, 0, 0, 1, "long"));

	catch_with_restart(SIGALRM);
	ualarm(100000, 0);
	CHECK_ERR("signal_interrupts_receive", recv_text(id, &m, 10, 0, 0), EINTR);
	CHECK("fill_again", send_text(id, 1, forty, 0) == 0 && send_text(id, 2, forty, 0) == 0);
	ualarm(100000, 0);
	CHECK_ERR("signal_interrupts_send", send_text(id, 3, forty, 0), EINTR);

	pid_t sender, receiver;
	CHILD_ABOUT_TO_BLOCK(sender, _exit(send_text(id, 3, forty, 0) == -1 && errno == EIDRM ? 0 : 1));
	int other = track('q', msgget(IPC_PRIVATE, 0600));
	CHILD_ABOUT_TO_BLOCK(receiver,
			     _exit(recv_text(other, &m, 10, 0, 0) == -1 && errno == EIDRM ? 0 : 1));
	CHECK("remove_wakes_sender", msgctl(id, IPC_RMID, NULL) == 0 && child_status(sender) == 0);
	CHECK("remove_wakes_receiver", msgctl(other, IPC_RMID, NULL) == 0 &&
	      child_status(receiver) == 0);
}

static void test_keys_and_control(const char *dir)
{
	struct msqid_ds ds;
	key_t key = ftok(dir, 'Q');
	CHECK("ftok", key != -1);
	int id = track('q', msgget(key, IPC_CREAT | IPC_EXCL | 0644));
	CHECK("key_create", id >= 0);
	CHECK_ERR("key_exclusive", msgget(key, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	CHECK("key_lookup", msgget(key, 0) == id && msgget(key, IPC_CREAT | 0600) == id);
	CHECK_ERR("key_missing", msgget(ftok(dir, 'R'), 0600), ENOENT);
	CHECK("stat_key", msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_perm.__key == key);
	CHECK("send_one", send_text(id, 1, "kept", 0) == 0);

	if (geteuid() == 0) {
		pid_t c = xfork();
		if (c == 0) {
			lose_privileges();
			struct message m;
			int ok = msgget(key, 0400) == id && msgget(key, 0200) == -1 && errno == EACCES;
			ok = ok && send_text(id, 1, "x", IPC_NOWAIT) == -1 && errno == EACCES;
			ok = ok && recv_text(id, &m, 10, 0, IPC_NOWAIT | MSG_COPY) == 4;
			ok = ok && msgctl(id, IPC_RMID, NULL) == -1 && errno == EPERM;
			_exit(ok ? 0 : 1);
		}
		CHECK("others_read_only_not_owner", child_status(c) == 0);
	}
	msgctl(id, IPC_STAT, &ds);
	ds.msg_perm.mode = 0;
	CHECK("set_mode_none", msgctl(id, IPC_SET, &ds) == 0 && msgctl(id, IPC_STAT, &ds) == 0 &&
	      (ds.msg_perm.mode & 0777) == 0);
	pid_t c = xfork();
	if (c == 0) {
		lose_privileges();
		struct msqid_ds d;
		struct message m;
		int ok = recv_text(id, &m, 10, 0, IPC_NOWAIT) == -1 && errno == EACCES;
		ok = ok && msgctl(id, IPC_STAT, &d) == -1 && errno == EACCES;
		ok = ok && msgctl(id % 32768, MSG_STAT, &d) == -1 && errno == EACCES;
		ok = ok && msgctl(id % 32768, MSG_STAT_ANY, &d) == id && d.msg_qnum == 1;
		_exit(ok ? 0 : 1);
	}
	CHECK("mode_none_denies", child_status(c) == 0);

	struct msginfo mi;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
	CHECK("msg_info", max >= id % 32768 && mi.msgpool >= 1 && mi.msgmap >= 1 && mi.msgtql >= 4);
	max = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
	CHECK("ipc_info", max >= id % 32768 && mi.msgmax >= 1 && mi.msgmnb >= mi.msgmax &&
	      mi.msgssz == 16 && mi.msgmni >= 1);
	CHECK("msg_stat_by_index", msgctl(id % 32768, MSG_STAT, &ds) == id && ds.msg_qnum == 1);
	CHECK("msg_stat_any", msgctl(id % 32768, MSG_STAT_ANY, &ds) == id);
	CHECK_ERR("ctl_unknown", msgctl(id, 99, &ds), EINVAL);
	CHECK_ERR("ctl_ipc64_flag", syscall(SYS_msgctl, id, IPC_STAT | 0x100, &ds), EINVAL);
	CHECK_ERR("ctl_negative_id", msgctl(-1, IPC_STAT, &ds), EINVAL);
	CHECK_ERR("ctl_negative_cmd", msgctl(id, -1, &ds), EINVAL);
	CHECK("remove_by_owner", msgctl(id, IPC_RMID, NULL) == 0);
	CHECK_ERR("key_gone", msgget(key, 0), ENOENT);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ipc_msg SCRATCH_DIR\n");
		return 2;
	}
	test_selection();
	test_limits_and_waiting();
	test_keys_and_control(argv[1]);
	return summary();
}
