/* A library with initial-exec TLS and a non-zero initial value, as
 * dlopen'ed by dlopen_static_tls_in_running_threads.c. glibc places such
 * a module in the static TLS surplus of every thread already running. */
__attribute__((tls_model("initial-exec"))) __thread int tls_ie_value = 4242;
__attribute__((tls_model("initial-exec"))) __thread char tls_ie_pad[64];

int tls_ie_get(void);
void tls_ie_set(int v);

int tls_ie_get(void)
{
	return tls_ie_value + tls_ie_pad[63];
}

void tls_ie_set(int v)
{
	tls_ie_value = v;
}
