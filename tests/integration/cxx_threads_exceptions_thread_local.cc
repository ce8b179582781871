/*
 * C++ on threads: std::thread runs and joins; exceptions thrown and caught
 * in threads (across yields and sleeps inside the try block) unwind
 * correctly, and one carried to main with std::exception_ptr rethrows
 * there; thread_local objects with constructors and destructors are built
 * once per thread and destroyed at thread exit; std::mutex,
 * std::condition_variable (including a timed-out wait_for), std::call_once,
 * std::async and shared_ptr reference counts shared between threads work.
 */
#include "check.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>

static const int kThreads = 8;

static std::atomic<int> constructed{0}, destroyed{0};

struct Tracked {
	std::string name;
	int uses = 0;

	Tracked() : name("tracked") { constructed++; }
	~Tracked() { destroyed++; }
};

static thread_local Tracked tracked;

static int thrower(int depth, int id)
{
	volatile char pad[256];

	pad[0] = (char)depth;
	if (depth == 0) {
		sched_yield();
		throw std::runtime_error("thread " + std::to_string(id));
	}
	return thrower(depth - 1, id) + pad[0];
}

static void exceptions_in_thread(int id, std::exception_ptr *out)
{
	for (int i = 0; i < 200; i++) {
		try {
			if (i % 50 == 0)
				usleep(100);
			thrower(20, id);
			FAIL("no exception");
		} catch (const std::runtime_error &e) {
			std::string want = "thread " + std::to_string(id);
			CHECK(want == e.what());
		}
	}
	tracked.uses++;
	CHECK(tracked.name == "tracked");
	CHECK_INT(tracked.uses, ==, 1);
	try {
		thrower(5, id);
	} catch (...) {
		*out = std::current_exception();
	}
}

static void threads_and_exceptions()
{
	std::vector<std::thread> threads;
	std::vector<std::exception_ptr> errs(kThreads);
	std::vector<std::thread::id> ids;

	for (int i = 0; i < kThreads; i++)
		threads.emplace_back(exceptions_in_thread, i, &errs[i]);
	for (auto &t : threads)
		ids.push_back(t.get_id());
	for (auto &t : threads)
		t.join();
	for (int i = 0; i < kThreads; i++) {
		CHECK(ids[i] != std::this_thread::get_id());
		for (int j = i + 1; j < kThreads; j++)
			CHECK(ids[i] != ids[j]);
		CHECK(errs[i] != nullptr);
		try {
			std::rethrow_exception(errs[i]);
		} catch (const std::runtime_error &e) {
			std::string want = "thread " + std::to_string(i);
			CHECK(want == e.what());
		}
	}
	/* Each thread built its own thread_local and destroyed it on exit. */
	CHECK_INT(constructed.load(), ==, kThreads);
	CHECK_INT(destroyed.load(), ==, kThreads);
}

static void sync_primitives()
{
	std::mutex mu;
	std::condition_variable cv;
	long counter = 0;
	int ready = 0;
	std::once_flag once;
	std::atomic<int> once_calls{0};
	std::vector<std::thread> threads;

	for (int i = 0; i < kThreads; i++)
		threads.emplace_back([&] {
			std::call_once(once, [&] { once_calls++; });
			{
				std::unique_lock<std::mutex> lk(mu);
				ready++;
				cv.notify_all();
				cv.wait(lk, [&] { return ready >= kThreads; });
			}
			for (int k = 0; k < 10000; k++) {
				std::lock_guard<std::mutex> g(mu);
				counter++;
			}
		});
	for (auto &t : threads)
		t.join();
	CHECK_INT(counter, ==, kThreads * 10000);
	CHECK_INT(once_calls.load(), ==, 1);

	std::unique_lock<std::mutex> lk(mu);
	auto start = std::chrono::steady_clock::now();
	auto st = cv.wait_for(lk, std::chrono::milliseconds(30));
	/* A spurious wakeup is allowed; a timeout must not come early. */
	if (st == std::cv_status::timeout)
		CHECK(std::chrono::steady_clock::now() - start >=
		      std::chrono::milliseconds(30));

	start = std::chrono::steady_clock::now();
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	CHECK(std::chrono::steady_clock::now() - start >=
	      std::chrono::milliseconds(20));
}

static void shared_ownership()
{
	auto sp = std::make_shared<int>(42);
	std::vector<std::thread> threads;

	for (int i = 0; i < kThreads; i++)
		threads.emplace_back([sp] {
			for (int k = 0; k < 20000; k++) {
				std::shared_ptr<int> copy = sp;
				CHECK_INT(*copy, ==, 42);
			}
		});
	for (auto &t : threads)
		t.join();
	CHECK_INT(sp.use_count(), ==, 1);

	auto fut = std::async(std::launch::async, [] {
		return std::this_thread::get_id();
	});
	CHECK(fut.get() != std::this_thread::get_id());
}

int main()
{
	threads_and_exceptions();
	sync_primitives();
	shared_ownership();
	return T_PASS;
}
