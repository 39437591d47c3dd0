/*
 * stack_layout: prints the facts of the initial process stack that depend on
 * its layout, not on addresses, so a native run and a sentry run of the same
 * binary with the same argv and environment print the same lines.
 *
 * Linux's layout (fs/binfmt_elf.c create_elf_tables), from low to high:
 *   argc | argv[] | NULL | envp[] | NULL | auxv pairs | AT_NULL | padding |
 *   AT_RANDOM bytes, platform string | argv strings | env strings | AT_EXECFN
 * and the stack pointer at entry (pointing at argc) is 16-byte aligned.
 *
 * The auxv *order* is printed for the types every Linux x86_64 kernel emits.
 * Left out, because they legitimately depend on the kernel version or on
 * what the (emulated) kernel offers: AT_SYSINFO_EHDR (a vDSO is optional),
 * AT_MINSIGSTKSZ (5.14+), AT_HWCAP2 (CPU/kernel features), AT_RSEQ_* (6.3+,
 * only with rseq support), AT_HWCAP3/4, AT_BASE_PLATFORM, and any type newer
 * than this program.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

extern const ElfW(Ehdr) __ehdr_start;
extern char _start[];

static int failures;

static void fact(const char *name, int ok)
{
	printf("%s: %s\n", name, ok ? "yes" : "NO");
	failures += !ok;
}

/* The auxv types whose order is printed (see the header comment). */
static const char *at_name(unsigned long t)
{
	static const struct { unsigned long t; const char *n; } names[] = {
		{ AT_PHDR, "PHDR" }, { AT_PHENT, "PHENT" }, { AT_PHNUM, "PHNUM" },
		{ AT_PAGESZ, "PAGESZ" }, { AT_BASE, "BASE" }, { AT_FLAGS, "FLAGS" },
		{ AT_ENTRY, "ENTRY" }, { AT_UID, "UID" }, { AT_EUID, "EUID" },
		{ AT_GID, "GID" }, { AT_EGID, "EGID" }, { AT_PLATFORM, "PLATFORM" },
		{ AT_HWCAP, "HWCAP" }, { AT_CLKTCK, "CLKTCK" }, { AT_SECURE, "SECURE" },
		{ AT_RANDOM, "RANDOM" }, { AT_EXECFN, "EXECFN" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == t)
			return names[i].n;
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv, char **envp)
{
	int envc = 0;
	while (envp[envc])
		envc++;
	ElfW(auxv_t) *auxv = (ElfW(auxv_t) *)(envp + envc + 1), *a;
	unsigned long val[64] = { 0 };
	int seen[64] = { 0 }, dup = 0;

	printf("argc: %d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]: %s\n", i, argv[i]);
	char **sorted = malloc(sizeof(char *) * (size_t)(envc + 1));
	memcpy(sorted, envp, sizeof(char *) * (size_t)envc);
	qsort(sorted, (size_t)envc, sizeof(char *), cmp_str);
	for (int i = 0; i < envc; i++)
		printf("env: %s\n", sorted[i]);

	printf("auxv:");
	for (a = auxv; a->a_type != AT_NULL; a++) {
		unsigned long t = a->a_type;
		if (t < 64) {
			dup += seen[t]++;
			val[t] = a->a_un.a_val;
		}
		if (at_name(t))
			printf(" %s", at_name(t));
	}
	printf("\n");
	char *auxv_end = (char *)(a + 1);
	fact("auxv_types_unique", !dup);

	printf("AT_PAGESZ: %lu\n", val[AT_PAGESZ]);
	printf("AT_PHENT: %lu\n", val[AT_PHENT]);
	printf("AT_PHNUM: %lu\n", val[AT_PHNUM]);
	printf("AT_BASE: %lu\n", val[AT_BASE]);
	printf("AT_FLAGS: %lu\n", val[AT_FLAGS]);
	printf("AT_CLKTCK: %lu\n", val[AT_CLKTCK]);
	printf("AT_HWCAP: %#lx\n", val[AT_HWCAP]);
	printf("AT_UID: %lu AT_EUID: %lu AT_GID: %lu AT_EGID: %lu\n",
	       val[AT_UID], val[AT_EUID], val[AT_GID], val[AT_EGID]);
	printf("AT_SECURE: %lu\n", val[AT_SECURE]);
	printf("AT_PLATFORM: %s\n", val[AT_PLATFORM] ? (char *)val[AT_PLATFORM] : "(none)");
	printf("AT_EXECFN: %s\n", val[AT_EXECFN] ? (char *)val[AT_EXECFN] : "(none)");

	fact("getauxval_agrees", getauxval(AT_PAGESZ) == val[AT_PAGESZ] &&
	     getauxval(AT_RANDOM) == val[AT_RANDOM] &&
	     getauxval(AT_EXECFN) == val[AT_EXECFN]);
	fact("AT_PHDR_is_program_headers", val[AT_PHDR] ==
	     (uintptr_t)&__ehdr_start + __ehdr_start.e_phoff);
	fact("AT_PHNUM_matches_ehdr", val[AT_PHNUM] == __ehdr_start.e_phnum);
	fact("AT_PHENT_matches_ehdr", val[AT_PHENT] == __ehdr_start.e_phentsize);
	fact("AT_ENTRY_is__start", val[AT_ENTRY] == (uintptr_t)_start);

	fact("sp_16_aligned_at_entry", ((uintptr_t)argv - 8) % 16 == 0);
	fact("argc_below_argv", ((long *)argv)[-1] == argc);
	fact("envp_follows_argv", envp == argv + argc + 1);
	int contiguous = 1;
	for (int i = 0; i + 1 < argc; i++)
		contiguous &= argv[i + 1] == argv[i] + strlen(argv[i]) + 1;
	fact("argv_strings_contiguous", contiguous);
	fact("argv_strings_above_auxv", (char *)argv[0] > auxv_end);
	char *strings_end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	if (envc) {
		fact("env_strings_follow_argv_strings", envp[0] == strings_end);
		contiguous = 1;
		for (int i = 0; i + 1 < envc; i++)
			contiguous &= envp[i + 1] == envp[i] + strlen(envp[i]) + 1;
		fact("env_strings_contiguous", contiguous);
		strings_end = envp[envc - 1] + strlen(envp[envc - 1]) + 1;
	}
	char *execfn = (char *)val[AT_EXECFN];
	fact("AT_EXECFN_above_strings", execfn >= strings_end);
	char *rnd = (char *)val[AT_RANDOM];
	fact("AT_RANDOM_between_auxv_and_strings", rnd >= auxv_end && rnd + 16 <= argv[0]);
	int nonzero = 0;
	for (int i = 0; rnd && i < 16; i++)
		nonzero |= rnd[i];
	fact("AT_RANDOM_not_all_zero", nonzero);
	char *plat = (char *)val[AT_PLATFORM];
	fact("AT_PLATFORM_between_auxv_and_strings", plat >= auxv_end && plat < argv[0]);

	if (failures)
		printf("stack_layout: %d facts FAILED\n", failures);
	else
		printf("stack_layout: all facts hold\n");
	return failures != 0;
}
