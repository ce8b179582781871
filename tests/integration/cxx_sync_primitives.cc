/*
 * C++ synchronisation primitives on threads (libstdc++ maps them onto
 * pthread mutexes, rwlocks, condvars, pthread_once, clocked locks and
 * waits, nanosleep, sched_yield and raw futex calls): std::mutex keeps an
 * exact count; std::shared_mutex lets readers in together and writers in
 * alone; std::condition_variable carries a producer/consumer queue, times
 * out (wait_for, wait_until on steady_clock and system_clock, with and
 * without a predicate) no earlier than asked when nobody notifies, and
 * notify_all wakes every waiter; std::timed_mutex::try_lock_for and
 * try_lock_until give up no earlier than asked while another thread holds
 * the lock; std::atomic<int>::wait returns on a change of value, with
 * notify_one and with notify_all for several waiters; std::call_once runs
 * once among concurrent callers, which all see its effects;
 * std::this_thread::sleep_for and sleep_until sleep at least as long as
 * asked and yield lets a spinning thread make way.
 */
/* expect-stdout: ok */
#include "check.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using std::chrono::steady_clock;
using std::chrono::system_clock;

/* Waits that must happen are bounded by this only to fail rather than hang. */
static const auto kGenerous = 10s;

/* Lower bounds only: the time the calls below must at least take. */
static const auto kTimeout = 40ms;

/* Spins (yielding) until pred() holds; false if kGenerous went by first. */
template <typename Pred> static bool spin_until(Pred pred)
{
	auto end = steady_clock::now() + kGenerous;

	while (!pred()) {
		if (steady_clock::now() > end)
			return false;
		std::this_thread::yield();
	}
	return true;
}

static void mutex_counter()
{
	const int threads = 8, iters = 20000;
	std::mutex mu;
	long counter = 0;
	std::atomic<int> inside{0};
	std::vector<std::thread> ts;

	for (int i = 0; i < threads; i++)
		ts.emplace_back([&] {
			for (int k = 0; k < iters; k++) {
				std::lock_guard<std::mutex> g(mu);
				CHECK_INT(inside.fetch_add(1) + 1, ==, 1);
				counter++;
				inside.fetch_sub(1);
			}
		});
	for (auto &t : ts)
		t.join();
	CHECK_INT(counter, ==, (long)threads * iters);
}

static void shared_mutex_readers_and_writers()
{
	const int readers = 4, writers = 3, writes = 500, reads = 2000;
	std::shared_mutex sm;
	std::atomic<int> rd_inside{0}, wr_inside{0}, rd_peak{0};
	long a = 0, b = 0, write_count = 0;
	std::vector<std::thread> ts;

	/*
	 * Readers alone first: each one that gets in stays until two have been
	 * inside at once, which a lock that let one reader in at a time would
	 * never allow.
	 */
	for (int i = 0; i < readers; i++)
		ts.emplace_back([&] {
			std::shared_lock<std::shared_mutex> lk(sm);
			int n = rd_inside.fetch_add(1) + 1;
			int peak = rd_peak.load();

			while (n > peak && !rd_peak.compare_exchange_weak(peak, n))
				;
			bool two = spin_until([&] { return rd_peak.load() >= 2; });
			rd_inside.fetch_sub(1);
			if (!two)
				FAIL("no second reader joined a shared_lock holder");
		});
	for (auto &t : ts)
		t.join();
	ts.clear();
	CHECK_INT(rd_peak.load(), >=, 2);
	CHECK_INT(rd_inside.load(), ==, 0);

	/* Then readers and writers mixed: a writer is always alone. */
	for (int i = 0; i < writers; i++)
		ts.emplace_back([&] {
			for (int k = 0; k < writes; k++) {
				std::unique_lock<std::shared_mutex> lk(sm);
				CHECK_INT(wr_inside.fetch_add(1), ==, 0);
				CHECK_INT(rd_inside.load(), ==, 0);
				a++;
				if (k % 64 == 0)
					std::this_thread::yield();
				b += 2;
				write_count++;
				CHECK_INT(rd_inside.load(), ==, 0);
				wr_inside.fetch_sub(1);
			}
		});
	for (int i = 0; i < readers; i++)
		ts.emplace_back([&] {
			for (int k = 0; k < reads; k++) {
				std::shared_lock<std::shared_mutex> lk(sm);
				rd_inside.fetch_add(1);
				CHECK_INT(wr_inside.load(), ==, 0);
				CHECK_INT(b, ==, 2 * a);
				rd_inside.fetch_sub(1);
			}
		});
	for (auto &t : ts)
		t.join();
	CHECK_INT(write_count, ==, (long)writers * writes);
	CHECK_INT(a, ==, (long)writers * writes);
	CHECK_INT(b, ==, 2L * writers * writes);

	/* try_lock and try_lock_shared see the holders. */
	{
		std::shared_lock<std::shared_mutex> lk(sm);
		std::thread([&] {
			CHECK(!sm.try_lock());
			CHECK(sm.try_lock_shared());
			sm.unlock_shared();
		}).join();
	}
	{
		std::unique_lock<std::shared_mutex> lk(sm);
		std::thread([&] {
			CHECK(!sm.try_lock());
			CHECK(!sm.try_lock_shared());
		}).join();
	}
}

static void cond_producer_consumer()
{
	const int producers = 3, consumers = 3, items = 4000;
	const size_t cap = 8;
	std::mutex mu;
	std::condition_variable not_empty, not_full;
	std::deque<long> q;
	std::atomic<long> sum{0}, count{0};
	std::vector<std::thread> ts;

	for (int c = 0; c < consumers; c++)
		ts.emplace_back([&] {
			for (;;) {
				std::unique_lock<std::mutex> lk(mu);
				not_empty.wait(lk, [&] { return !q.empty(); });
				long v = q.front();
				q.pop_front();
				lk.unlock();
				not_full.notify_one();
				if (v < 0)
					return;
				sum += v;
				count++;
			}
		});
	std::vector<std::thread> ps;
	for (int p = 0; p < producers; p++)
		ps.emplace_back([&, p] {
			for (long i = 1; i <= items; i++) {
				std::unique_lock<std::mutex> lk(mu);
				not_full.wait(lk, [&] { return q.size() < cap; });
				q.push_back(p * items + i);
				lk.unlock();
				not_empty.notify_one();
			}
		});
	for (auto &t : ps)
		t.join();
	for (int c = 0; c < consumers; c++) {
		std::unique_lock<std::mutex> lk(mu);
		not_full.wait(lk, [&] { return q.size() < cap; });
		q.push_back(-1);
		lk.unlock();
		not_empty.notify_one();
	}
	for (auto &t : ts)
		t.join();
	long n = (long)producers * items;
	CHECK_INT(count.load(), ==, n);
	CHECK_INT(sum.load(), ==, n * (n + 1) / 2);
	CHECK(q.empty());
}

/*
 * Nobody notifies these condition variables, which nobody else can see:
 * every wait must end by timing out, no earlier than asked.  (glibc's
 * condvar does not wake spuriously without a signal, so a no_timeout here
 * is a wrong early return.)
 */
static void cond_timeouts()
{
	std::mutex mu;
	std::condition_variable cv;
	std::unique_lock<std::mutex> lk(mu);
	auto never = [] { return false; };

	auto start = steady_clock::now();
	CHECK(cv.wait_for(lk, kTimeout) == std::cv_status::timeout);
	CHECK(steady_clock::now() - start >= kTimeout);
	CHECK(lk.owns_lock());

	start = steady_clock::now();
	CHECK(!cv.wait_for(lk, kTimeout, never));
	CHECK(steady_clock::now() - start >= kTimeout);

	auto sdl = steady_clock::now() + kTimeout;
	start = steady_clock::now();
	CHECK(cv.wait_until(lk, sdl) == std::cv_status::timeout);
	CHECK(steady_clock::now() >= sdl);
	CHECK(steady_clock::now() - start >= kTimeout);

	sdl = steady_clock::now() + kTimeout;
	CHECK(!cv.wait_until(lk, sdl, never));
	CHECK(steady_clock::now() >= sdl);

	auto ydl = system_clock::now() + kTimeout;
	CHECK(cv.wait_until(lk, ydl) == std::cv_status::timeout);
	CHECK(system_clock::now() >= ydl);

	ydl = system_clock::now() + kTimeout;
	CHECK(!cv.wait_until(lk, ydl, never));
	CHECK(system_clock::now() >= ydl);

	/* A deadline already past returns at once with a timeout. */
	CHECK(cv.wait_until(lk, steady_clock::now() - 1s) ==
	      std::cv_status::timeout);
	CHECK(cv.wait_for(lk, -5ms) == std::cv_status::timeout);
	CHECK(lk.owns_lock());

	/* A notify_one from another thread ends a wait_for early enough. */
	bool flag = false;
	std::thread t([&] {
		std::this_thread::sleep_for(10ms);
		{
			std::lock_guard<std::mutex> g(mu);
			flag = true;
		}
		cv.notify_one();
	});
	CHECK(cv.wait_for(lk, kGenerous, [&] { return flag; }));
	lk.unlock();
	t.join();
}

static void cond_notify_all_wakes_all()
{
	const int waiters = 6;
	std::mutex mu;
	std::condition_variable cv, done_cv;
	int waiting = 0, woken = 0;
	bool go = false;
	std::vector<std::thread> ts;

	for (int i = 0; i < waiters; i++)
		ts.emplace_back([&] {
			std::unique_lock<std::mutex> lk(mu);
			waiting++;
			done_cv.notify_one();
			cv.wait(lk, [&] { return go; });
			woken++;
			done_cv.notify_one();
		});
	std::unique_lock<std::mutex> lk(mu);
	/*
	 * Each waiter counted itself under the lock it only gives up inside
	 * cv.wait: once all have counted and this thread holds the lock, all
	 * are waiting on cv.
	 */
	CHECK(done_cv.wait_for(lk, kGenerous, [&] { return waiting == waiters; }));
	go = true;
	cv.notify_all();
	if (!done_cv.wait_for(lk, kGenerous, [&] { return woken == waiters; }))
		FAIL("notify_all woke %d of %d waiters", woken, waiters);
	lk.unlock();
	for (auto &t : ts)
		t.join();
	CHECK_INT(woken, ==, waiters);
}

static void timed_mutex_times_out()
{
	std::timed_mutex tm;
	std::mutex mu;
	std::condition_variable cv;
	bool held = false, release = false;

	std::thread holder([&] {
		std::lock_guard<std::timed_mutex> g(tm);
		std::unique_lock<std::mutex> lk(mu);
		held = true;
		cv.notify_all();
		cv.wait(lk, [&] { return release; });
	});
	{
		std::unique_lock<std::mutex> lk(mu);
		cv.wait(lk, [&] { return held; });
	}
	CHECK(!tm.try_lock());

	auto start = steady_clock::now();
	CHECK(!tm.try_lock_for(kTimeout));
	CHECK(steady_clock::now() - start >= kTimeout);

	auto sdl = steady_clock::now() + kTimeout;
	CHECK(!tm.try_lock_until(sdl));
	CHECK(steady_clock::now() >= sdl);

	auto ydl = system_clock::now() + kTimeout;
	CHECK(!tm.try_lock_until(ydl));
	CHECK(system_clock::now() >= ydl);

	/* Released while this thread waits: the lock is taken. */
	std::thread releaser([&] {
		std::this_thread::sleep_for(10ms);
		std::lock_guard<std::mutex> g(mu);
		release = true;
		cv.notify_all();
	});
	CHECK(tm.try_lock_for(kGenerous));
	tm.unlock();
	releaser.join();
	holder.join();
	CHECK(tm.try_lock());
	tm.unlock();
}

static void atomic_wait_notify()
{
	/* One waiter, notify_one. */
	std::atomic<int> v{0}, seen{-1}, started{0};
	std::thread t([&] {
		started.store(1);
		v.wait(0);
		seen.store(v.load());
	});
	CHECK(spin_until([&] { return started.load() == 1; }));
	/* Give it time to reach the futex wait (not needed for correctness). */
	std::this_thread::sleep_for(20ms);
	CHECK_INT(seen.load(), ==, -1);
	v.store(1);
	v.notify_one();
	if (!spin_until([&] { return seen.load() != -1; }))
		FAIL("notify_one did not release the atomic waiter");
	t.join();
	CHECK_INT(seen.load(), ==, 1);

	/* wait() on a value that already differs returns at once. */
	v.wait(0);

	/* Several waiters, notify_all. */
	const int waiters = 5;
	std::atomic<int> gate{0}, ready{0}, released{0};
	std::vector<std::thread> ts;
	for (int i = 0; i < waiters; i++)
		ts.emplace_back([&] {
			ready++;
			gate.wait(0);
			CHECK_INT(gate.load(), ==, 7);
			released++;
		});
	CHECK(spin_until([&] { return ready.load() == waiters; }));
	std::this_thread::sleep_for(20ms);
	CHECK_INT(released.load(), ==, 0);
	gate.store(7);
	gate.notify_all();
	if (!spin_until([&] { return released.load() == waiters; }))
		FAIL("notify_all released %d of %d atomic waiters",
		     released.load(), waiters);
	for (auto &w : ts)
		w.join();

	/* Ping-pong: two threads hand a turn back and forth by waiting. */
	const int rounds = 2000;
	std::atomic<int> turn{0};
	auto player = [&](int me) {
		for (int r = 0; r < rounds; r++) {
			int cur;
			while ((cur = turn.load()) % 2 != me)
				turn.wait(cur);
			turn.store(cur + 1);
			turn.notify_one();
		}
	};
	std::thread p0(player, 0), p1(player, 1);
	p0.join();
	p1.join();
	CHECK_INT(turn.load(), ==, 2 * rounds);
}

static void call_once_concurrent()
{
	const int threads = 8;
	std::once_flag flag;
	std::atomic<int> calls{0}, arrived{0}, saw_done{0};
	std::atomic<bool> done{false};
	std::vector<std::thread> ts;

	for (int i = 0; i < threads; i++)
		ts.emplace_back([&] {
			/* Start together, so that the callers overlap. */
			arrived++;
			CHECK(spin_until([&] { return arrived.load() == threads; }));
			std::call_once(flag, [&] {
				calls++;
				/* Others must wait for the call to finish. */
				std::this_thread::sleep_for(20ms);
				done.store(true);
			});
			if (done.load())
				saw_done++;
		});
	for (auto &t : ts)
		t.join();
	CHECK_INT(calls.load(), ==, 1);
	CHECK_INT(saw_done.load(), ==, threads);

	/* Once done, later calls do not run the function. */
	std::call_once(flag, [&] { calls++; });
	CHECK_INT(calls.load(), ==, 1);
}

static void sleeps_and_yield()
{
	auto start = steady_clock::now();
	std::this_thread::sleep_for(30ms);
	CHECK(steady_clock::now() - start >= 30ms);

	auto dl = steady_clock::now() + 20ms;
	std::this_thread::sleep_until(dl);
	CHECK(steady_clock::now() >= dl);

	auto ydl = system_clock::now() + 20ms;
	std::this_thread::sleep_until(ydl);
	CHECK(system_clock::now() >= ydl);

	/* Zero and negative sleeps return. */
	std::this_thread::sleep_for(0ms);
	std::this_thread::sleep_for(-1ms);

	/*
	 * Threads that spin with yield until all have arrived: they make
	 * progress even when fewer processors than threads run them.
	 */
	const int spinners = 4;
	std::atomic<int> arrived{0};
	std::atomic<long> yields{0};
	std::vector<std::thread> ts;
	for (int i = 0; i < spinners; i++)
		ts.emplace_back([&] {
			arrived++;
			auto end = steady_clock::now() + kGenerous;
			while (arrived.load() < spinners) {
				if (steady_clock::now() > end)
					FAIL("yielding spinners did not all arrive");
				std::this_thread::yield();
				yields++;
			}
		});
	for (auto &t : ts)
		t.join();
	CHECK_INT(arrived.load(), ==, spinners);
	std::this_thread::yield();
}

int main()
{
	mutex_counter();
	shared_mutex_readers_and_writers();
	cond_producer_consumer();
	cond_timeouts();
	cond_notify_all_wakes_all();
	timed_mutex_times_out();
	atomic_wait_notify();
	call_once_concurrent();
	sleeps_and_yield();
	printf("ok\n");
	return T_PASS;
}
