/*
 * Cancellation and pthread_exit unwind through C++ frames as with glibc:
 * a thread cancelled in a sleep or a condition wait, or calling
 * pthread_exit from a nested call, runs the destructors of its local
 * objects (innermost first) and its pthread_cleanup_push handlers; a
 * catch (...) that rethrows sees the forced unwind and lets it go on;
 * pthread_join returns PTHREAD_CANCELED or the exit value.
 */
#include "check.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <pthread.h>
#include <string>
#include <unistd.h>
#include <vector>

static std::mutex log_mu;
static std::vector<std::string> log_lines;
static std::atomic<int> ready;
static std::atomic<int> caught;

static void note(const std::string &s)
{
	std::lock_guard<std::mutex> g(log_mu);
	log_lines.push_back(s);
}

struct Guard {
	std::string name;
	explicit Guard(std::string n) : name(std::move(n)) {}
	~Guard() { note("~" + name); }
};

static void cleanup(void *arg)
{
	note(static_cast<const char *>(arg));
}

static std::mutex cv_mu;
static std::condition_variable cv;

static void nested(int how)
{
	Guard inner("inner");
	ready = 1;
	try {
		if (how == 0) {
			for (;;)
				sleep(10);
		} else if (how == 1) {
			std::unique_lock<std::mutex> lk(cv_mu);
			for (;;)
				cv.wait(lk);
		} else {
			pthread_exit(reinterpret_cast<void *>(42));
		}
	} catch (...) {
		caught++;
		throw;	/* the forced unwind must go on */
	}
}

static void *body(void *arg)
{
	int how = static_cast<int>(reinterpret_cast<intptr_t>(arg));
	Guard outer("outer");
	pthread_cleanup_push(cleanup, (void *)"handler");
	nested(how);
	pthread_cleanup_pop(0);
	return nullptr;
}

static void run(int how, void *want)
{
	pthread_t t;
	void *ret = nullptr;

	log_lines.clear();
	ready = 0;
	caught = 0;
	CHECK_OK(pthread_create(&t, nullptr, body,
				reinterpret_cast<void *>(static_cast<intptr_t>(how))));
	while (!ready)
		usleep(1000);
	usleep(20000);	/* let it block */
	if (how != 2)
		CHECK_OK(pthread_cancel(t));
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == want);
	CHECK_INT(caught.load(), ==, 1);
	std::lock_guard<std::mutex> g(log_mu);
	CHECK_INT((int)log_lines.size(), ==, 3);
	CHECK(log_lines[0] == "~inner");
	CHECK(log_lines[1] == "handler");
	CHECK(log_lines[2] == "~outer");
}

int main()
{
	run(0, PTHREAD_CANCELED);
	run(1, PTHREAD_CANCELED);
	run(2, reinterpret_cast<void *>(42));
	puts("ok");
	return 0;
}
