/*
 * dlopen.c: dlopen and dlmopen, so that a module with initial-exec TLS
 * loaded while threads run gets its TLS initialised in every G, not only
 * in the threads glibc knows (core/g.c, g_tls_dlopened).
 */
#include <dlfcn.h>
#include "shim.h"

static void *(*real_dlopen)(const char *, int);
static void *(*real_dlmopen)(Lmid_t, const char *, int);

EXPORT void *dlopen(const char *file, int mode)
{
	if (!real_dlopen)
		real_dlopen = dlsym(RTLD_NEXT, "dlopen");
	void *h = real_dlopen(file, mode);
	if (h && gmp__active)
		g_tls_dlopened();
	return h;
}

EXPORT void *dlmopen(Lmid_t lmid, const char *file, int mode)
{
	if (!real_dlmopen)
		real_dlmopen = dlsym(RTLD_NEXT, "dlmopen");
	void *h = real_dlmopen(lmid, file, mode);
	if (h && gmp__active)
		g_tls_dlopened();
	return h;
}
