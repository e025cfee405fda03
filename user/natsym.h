/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Symbolises native return addresses of one process: the mapping from
 * /proc/PID/maps (re-read when an address falls outside it), the file
 * offset, the ELF file's virtual address and its .symtab/.dynsym
 * function. ELF files are opened once and kept, keyed by path and inode.
 */
#ifndef AP_NATSYM_H
#define AP_NATSYM_H

#include <stddef.h>
#include <stdint.h>
#include "model.h"

struct natsym;

/*
 * procdir: the process's /proc directory ("/proc/PID", "/proc/self"). Its
 * maps are read from procdir/maps and each mapped file opened as
 * procdir/map_files/START-END (as root), so a process in a chroot or another
 * mount namespace is symbolised from its own files, not the host's of the
 * same name; the path in maps is the fallback.
 */
struct natsym *natsym__new(const char *procdir);
void natsym__free(struct natsym *ns);
/* "symbol+0xOFF (module)" or "[unknown] (module)" or "[unknown]"; 0 or -errno. */
int natsym__frame(struct natsym *ns, uint64_t addr, char *buf, size_t size);
/* Every address of ips[n] into out (owned strings); 0 or -ENOMEM. */
int natsym__resolve(struct natsym *ns, const uint64_t *ips, size_t n, struct ap_stack *out);

#endif /* AP_NATSYM_H */
