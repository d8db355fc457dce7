/*
 * elfcheck.c - can the shim see this program's calls at all?
 *
 * LD_PRELOAD works only through the dynamic loader: a statically linked
 * program never loads the shim, and a Go program makes its system calls
 * itself, without libc, even when it is dynamically linked (cgo). Both run
 * fine under `faultline run` but nothing is injected, which is the worst
 * kind of test result; so we look at the ELF headers first and say so.
 */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The file execvp would run for `cmd`, or NULL. */
static const char *resolve(const char *cmd, char *out, size_t size)
{
	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0 ? cmd : NULL;
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);
		int n = snprintf(out, size, "%.*s/%s", (int)len, len ? path : ".", cmd);
		if (n > 0 && (size_t)n < size && access(out, X_OK) == 0)
			return out;
		path += len + (end != NULL);
	}
	return NULL;
}

static bool in_file(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/* Checks a mapped 64-bit ELF file. */
static enum fl_elf_kind classify64(const unsigned char *base, size_t size)
{
	const Elf64_Ehdr *eh = (const void *)base;
	if (!in_file(size, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)) ||
	    eh->e_phentsize != sizeof(Elf64_Phdr))
		return FL_ELF_UNKNOWN;
	const Elf64_Phdr *ph = (const void *)(base + eh->e_phoff);
	bool interp = false;
	for (unsigned i = 0; i < eh->e_phnum; i++)
		interp |= ph[i].p_type == PT_INTERP;
	/* Section names: ".go.buildinfo" / ".note.go.buildid" mark a Go program. */
	if (eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shstrndx < eh->e_shnum &&
	    in_file(size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr))) {
		const Elf64_Shdr *sh = (const void *)(base + eh->e_shoff);
		const Elf64_Shdr *names = &sh[eh->e_shstrndx];
		if (in_file(size, names->sh_offset, names->sh_size)) {
			const char *strtab = (const char *)base + names->sh_offset;
			for (unsigned i = 0; i < eh->e_shnum; i++) {
				uint32_t at = sh[i].sh_name;
				if (at >= names->sh_size)
					continue;
				const char *name = strtab + at;
				size_t max = names->sh_size - at;
				if (strncmp(name, ".go.buildinfo", max) == 0 ||
				    strncmp(name, ".note.go.buildid", max) == 0)
					return FL_ELF_GO;
			}
		}
	}
	return interp ? FL_ELF_DYNAMIC : FL_ELF_STATIC;
}

enum fl_elf_kind fl_elf_classify(const char *cmd, char *path, size_t size)
{
	const char *file = resolve(cmd, path, size);
	if (!file)
		return FL_ELF_UNKNOWN;
	if (file != path)
		snprintf(path, size, "%s", file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return FL_ELF_UNKNOWN;
	struct stat st;
	enum fl_elf_kind kind = FL_ELF_UNKNOWN;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= sizeof(Elf64_Ehdr)) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			const unsigned char *b = m;
			if (memcmp(b, ELFMAG, SELFMAG) == 0 && b[EI_CLASS] == ELFCLASS64)
				kind = classify64(b, (size_t)st.st_size);
			else if (memcmp(b, "#!", 2) == 0)
				kind = FL_ELF_SCRIPT;
			munmap(m, (size_t)st.st_size);
		}
	}
	close(fd);
	return kind;
}

void fl_elf_warn(const char *cmd)
{
	char path[PATH_MAX];
	switch (fl_elf_classify(cmd, path, sizeof(path))) {
	case FL_ELF_STATIC:
		fprintf(stderr,
			"faultline: warning: %s is statically linked: the shim cannot be preloaded into it, "
			"so no rule will apply (see faultline(7), LIMITS)\n",
			path);
		break;
	case FL_ELF_GO:
		fprintf(stderr,
			"faultline: warning: %s is a Go program: it makes its network calls without libc, "
			"so the shim cannot see them (see faultline(7), LIMITS)\n",
			path);
		break;
	default:
		break;
	}
}
