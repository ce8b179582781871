# libgmp: one non-recursive Makefile (STYLE.md §8). Everything it makes goes
# in $(BUILD) (default build/), never in the source tree.
#
#   make [all]          $(BUILD)/libgmp.so, $(BUILD)/gmp-run, $(BUILD)/gmp-stat
#   make test           check-exports, unit, integration and compat tests,
#                       then a summary; non-zero exit if anything failed
#   make unit | integration | compat | check-exports     one of those
#   make bench          benchmarks: numbers only, nothing asserts on time
#   make demo           a 1000-thread program, natively and under libgmp
#   make check-san SAN=address|undefined   sanitized build in build-$(SAN)/
#   make install [PREFIX=/usr/local] [DESTDIR=]     uninstall, clean, help
#
# Knobs: BUILD, DEBUG=1 (-O0 -DGMP_DEBUG_BUILD), WERROR=0, V=1 (show the
# commands), CC, CFLAGS (default -O2 -g), CPPFLAGS, LDFLAGS, GMP_NO_DEPS=1
# (skip tools/deps.sh). Missing build packages are installed by
# tools/deps.sh when run as root with apt-get, else named.

BUILD	?= build
PREFIX	?= /usr/local
DESTDIR	?=
DEBUG	?= 0
WERROR	?= 1
SAN	?=
CFLAGS	?= -O2 -g

SHELL	:= /bin/bash
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:
.DEFAULT_GOAL := all

ifeq ($(V),1)
Q	:=
msg	:= @:
else
Q	:= @
msg	:= @printf '  %-6s %s\n'
endif

# ---- flags ----------------------------------------------------------------

WARNINGS := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
ifneq ($(WERROR),0)
WARNINGS += -Werror
endif
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -fPIC -fvisibility=hidden \
	-ftls-model=initial-exec -MMD -MP $(WARNINGS) \
	-Iinclude -Icore -Iarch -I.
ifeq ($(DEBUG),1)
DEBUG_CFLAGS := -O0 -DGMP_DEBUG_BUILD
endif
ifneq ($(SAN),)
SAN_FLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer
endif
# The user's CFLAGS come after ours but before DEBUG's -O0, which must win.
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(DEBUG_CFLAGS) $(SAN_FLAGS)
ALL_ASFLAGS = -fPIC -g -MMD -MP -Iinclude -Icore -Iarch -I. $(DEBUG_CFLAGS)

MAP	:= preload/libgmp.map
SOFLAGS	:= -shared -Wl,--version-script=$(MAP) -Wl,-z,now \
	-Wl,--no-undefined -Wl,-soname,libgmpsched.so.0
SOLIBS	:= -ldl -lpthread

# Test programs are ordinary pthread programs: plain flags, no -Werror.
PROG_CFLAGS := -O2 -g -pthread -Wall -Iinclude -MMD -MP
PROG_LIBS := -lm

# Version for gmp-run --version: the string of include/gmpsched.h's
# GMPSCHED_VERSION... macro.
VERSION_SED := 's/^\#[[:space:]]*define[[:space:]]\{1,\}GMPSCHED_VERSION[A-Z_]*'
VERSION_SED := $(VERSION_SED)'[[:space:]]\{1,\}"\([^"]*\)".*/\1/p'
VERSION	= $(or $(shell sed -n $(VERSION_SED) include/gmpsched.h 2>/dev/null | \
	head -n 1),0.1.0)

# ---- sources --------------------------------------------------------------

obj = $(patsubst %,$(BUILD)/obj/%.o,$(basename $(1)))

LIB_SRCS := $(wildcard preload/*.c core/*.c shims/*.c \
	arch/x86_64/*.c arch/x86_64/*.S)
LIB_OBJS := $(call obj,$(LIB_SRCS))
CORE_OBJS := $(call obj,$(filter core/% arch/%,$(LIB_SRCS)))
CORE_LIB := $(BUILD)/libgmpcore.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
# Every other .c in tests/unit/ (fakes.c, ...) is linked into each test.
UNIT_HELPERS := $(call obj,\
	$(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c)))

ITEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,\
	$(wildcard tests/integration/*.c)) \
	$(patsubst tests/%.cc,$(BUILD)/tests/%,\
	$(wildcard tests/integration/*.cc))
BENCH_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/bench/*.c))
DEMO	:= $(BUILD)/demo

LIB	:= $(BUILD)/libgmp.so
GMPRUN	:= $(BUILD)/gmp-run
GMPSTAT	:= $(BUILD)/gmp-stat
TESTLOG	:= $(BUILD)/test-logs
UNIT_TIMEOUT ?= 300

# Tests find the library through LIBGMP; make tests the one it just built.
export LIBGMP := $(abspath $(LIB))

# ---- rebuild when the flags change ----------------------------------------

# The flags in force are kept in $(BUILD)/.flags; a change (DEBUG=1, CC=...)
# rewrites it, and every object depends on it.
FLAGS	:= $(BUILD)/.flags
FLAGS_NOW = $(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS)
ifneq ($(filter-out clean distclean help uninstall,$(or $(MAKECMDGOALS),all)),)
ifneq ($(file <$(FLAGS)),$(FLAGS_NOW))
$(shell mkdir -p $(BUILD))
$(file >$(FLAGS),$(FLAGS_NOW))
endif
endif

# ---- build ----------------------------------------------------------------

.PHONY: all deps deps-test
all: $(LIB) $(GMPRUN) $(GMPSTAT)

# tools/deps.sh is quiet and fast when everything is there; order-only, so
# it runs before compiling but never forces a rebuild.
deps:
	$(Q)bash tools/deps.sh build
deps-test: deps
	$(Q)bash tools/deps.sh test

$(BUILD)/obj/%.o: %.c $(FLAGS) | deps
	$(msg) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.S $(FLAGS) | deps
	$(msg) AS $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_ASFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS) $(wildcard $(MAP)) $(FLAGS)
	$(msg) LINK $@
	@test -n "$(LIB_OBJS)" || { echo "make: no library sources yet" \
		"(preload/ core/ shims/ arch/x86_64/)" >&2; exit 1; }
	@test -f $(MAP) || { echo "make: $(MAP) is missing" >&2; exit 1; }
	$(Q)$(CC) $(SOFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $(LIB_OBJS) $(SOLIBS)

$(BUILD)/obj/tools/gmp-run.o: CPPFLAGS += -DGMP_RUN_VERSION='"$(VERSION)"'
$(BUILD)/obj/tools/gmp-run.o: $(wildcard include/gmpsched.h)
$(GMPRUN): $(BUILD)/obj/tools/gmp-run.o
	$(msg) LINK $@
	$(Q)$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $< -lelf

$(GMPSTAT): $(BUILD)/obj/tools/gmp-stat.o
	$(msg) LINK $@
	$(Q)$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $<

# Unit tests link core and arch from an archive, after the test's own
# objects, so a fake in tests/unit/ replaces the core file it stands for
# (a fake netpoll backend, say) and only what a test uses is pulled in.
$(CORE_LIB): $(CORE_OBJS)
	$(msg) AR $@
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_HELPERS) $(CORE_LIB)
	$(msg) LINK $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ -lcmocka -ldl -lpthread

$(BUILD)/tests/integration/%: tests/integration/%.c | deps
	$(msg) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROG_CFLAGS) -MF $@.d -o $@ $< $(PROG_LIBS)

# Libraries the integration tests dlopen: tests/integration/lib/X.c ->
# $(BUILD)/tests/integration/lib/libX.so
ITEST_LIBS := $(patsubst tests/integration/lib/%.c,\
	$(BUILD)/tests/integration/lib/lib%.so,\
	$(wildcard tests/integration/lib/*.c))
ITEST_BINS += $(ITEST_LIBS)

$(BUILD)/tests/integration/lib/lib%.so: tests/integration/lib/%.c | deps
	$(msg) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fPIC -shared -o $@ $<

$(BUILD)/tests/integration/%: tests/integration/%.cc | deps
	$(msg) CXX $<
	@mkdir -p $(@D)
	$(Q)$(CXX) $(subst -Iinclude,-Iinclude -std=gnu++20,$(PROG_CFLAGS)) \
		-MF $@.d -o $@ $< $(PROG_LIBS)

$(BUILD)/tests/bench/%: tests/bench/%.c | deps
	$(msg) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROG_CFLAGS) -MF $@.d -o $@ $< $(PROG_LIBS)

$(DEMO): tests/demo/demo.c | deps
	$(msg) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROG_CFLAGS) -MF $@.d -o $@ $< $(PROG_LIBS)

-include $(patsubst %.o,%.d,$(LIB_OBJS) $(UNIT_HELPERS) \
	$(UNIT_BINS:$(BUILD)/tests/unit/%=$(BUILD)/obj/tests/unit/%.o) \
	$(BUILD)/obj/tools/gmp-run.o $(BUILD)/obj/tools/gmp-stat.o)
-include $(addsuffix .d,$(ITEST_BINS) $(BENCH_BINS) $(DEMO))

# ---- tests ----------------------------------------------------------------

# A test run is a list of stages. Each runs to the end even if an earlier one
# failed; its output is shown and kept in $(TESTLOG)/NAME.log, and its counts
# go to $(TESTLOG)/summary: from its last "N passed, N failed[, N skipped]"
# line, else from its TAP "ok"/"not ok" lines. A stage that exits non-zero
# with no failure counted counts one. The scripts below are bash, exported
# to the recipes and run as bash -c "$$SCRIPT" NAME ARGS.

define GMPMK_STAGE
name=$$1; shift
log=$(TESTLOG)/$$name.log
mkdir -p $(TESTLOG)
printf '\n=== %s\n' "$$name"
"$$@" 2>&1 | tee "$$log"
rc=$${PIPESTATUS[0]}
awk -v name="$$name" -v rc="$$rc" '
/^([A-Za-z][A-Za-z0-9_-]*: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$$/{
	sub(/^[A-Za-z][A-Za-z0-9_-]*: /, "")
	split($$0, w, /[ ,.]+/)
	sp = w[1]; sf = w[3]; ss = w[5] + 0; have = 1; next
}
/^not ok/ { tf++; next }
/^ok/ { if (tolower($$0) ~ /#[ \t]*skip/) ts++; else tp++; next }
END {
	if (have) { p = sp; f = sf; s = ss } else { p = tp; f = tf; s = ts }
	if (rc != 0 && f == 0) f = 1
	printf "%s %d %d %d %d\n", name, p, f, s, rc
}' "$$log" >> $(TESTLOG)/summary
endef

define GMPMK_SUMMARY
printf '\n=== summary (logs in %s/)\n' $(TESTLOG)
touch $(TESTLOG)/summary
awk '{
	printf "  %-12s %d passed, %d failed, %d skipped%s\n", $$1 ":", $$2, \
		$$3, $$4, $$3 ? "   <-- FAILED" : ""
	p += $$2; f += $$3; s += $$4
}
END {
	printf "TOTAL: %d passed, %d failed, %d skipped\n", p, f, s
	exit f > 0
}' $(TESTLOG)/summary
endef

# Each unit test binary is a cmocka program: count its PASSED, FAILED and
# SKIPPED lines; a crash, a timeout or a non-zero exit with no FAILED line
# is one failure more.
define GMPMK_UNIT
pass=0 fail=0 skip=0
for t in "$$@"; do
	echo "--- $$t"
	out=$$(mktemp)
	timeout -k 5 $(UNIT_TIMEOUT) "$$t" 2>&1 | tee "$$out"
	rc=$${PIPESTATUS[0]}
	read -r p f s < <(awk '
		$$1 == "[" && $$3 == "]" && $$4 ~ /^[0-9]+$$/ {
			n[$$2] += $$4
		}
		END { print n["PASSED"] + 0, n["FAILED"] + 0, n["SKIPPED"] + 0 }
	' "$$out")
	rm -f "$$out"
	if [ "$$rc" != 0 ] && [ "$$f" = 0 ]; then
		echo "not ok - $$t exited with status $$rc"
		f=1
	fi
	pass=$$((pass + p)) fail=$$((fail + f)) skip=$$((skip + s))
done
echo "unit: $$pass passed, $$fail failed, $$skip skipped"
[ $$fail = 0 ]
endef
export GMPMK_STAGE GMPMK_SUMMARY GMPMK_UNIT

INTEG_RUNNER := tests/run-integration.sh
STAGE_exports = bash tools/check-exports.sh $(BUILD)
STAGE_unit = bash -c "$$GMPMK_UNIT" unit $(UNIT_BINS)
STAGE_integration = $(if $(wildcard $(INTEG_RUNNER)),\
	bash $(INTEG_RUNNER) $(BUILD),\
	bash -c 'echo "$(INTEG_RUNNER) is missing"; exit 1')
STAGE_compat = bash tests/compat/run.sh $(BUILD)
# what libgmp shows: stats, schedtrace, dumps, deadlock reports, tools
STAGE_tools = bash tests/tools/run.sh $(BUILD)
# LTP's tests for threads (every pthread_* interface), semaphores, sleeping
# and sched_yield (the full suite is `make conformance`); skipped when
# ../shared is not there.
CONF_SUITE_DIR ?= ../shared/conformance/open_posix_testsuite
STAGE_conformance = bash -c 'if [ -d "$(CONF_SUITE_DIR)" ] || \
	[ -n "$$CONF_SUITE" ]; then exec bash tests/conformance/run.sh \
	$(BUILD) threads sem sleep sched_yield pthread_kill \
	pthread_sigmask; fi; \
	echo "conformance: no suite at $(CONF_SUITE_DIR): skipped"; \
	echo "0 passed, 0 failed, 1 skipped"'

# The stages make test runs: unit only if there are unit tests, integration
# if there are tests or a runner (tests without a runner fail).
TEST_STAGES := exports $(if $(UNIT_BINS),unit) \
	$(if $(ITEST_BINS)$(wildcard $(INTEG_RUNNER)),integration) compat \
	tools conformance

# $(call run_stages,NAMES): run each stage (a stage's own status is only
# counted, so the next one runs); then the summary, whose exit status is the
# recipe's.
define run_stages
@rm -f $(TESTLOG)/summary
$(foreach s,$(1),
@bash -c "$$GMPMK_STAGE" stage $(s) $(STAGE_$(s)))
@bash -c "$$GMPMK_SUMMARY" summary
endef

.PHONY: test unit integration compat tools check-exports
test: all deps-test $(UNIT_BINS) $(ITEST_BINS)
	$(call run_stages,$(TEST_STAGES))

unit: $(UNIT_BINS)
ifeq ($(UNIT_BINS),)
	@echo "unit: no tests/unit/test_*.c"
else
	$(call run_stages,unit)
endif

integration: all $(ITEST_BINS)
	$(call run_stages,integration)

compat: all deps-test
	$(call run_stages,compat)

tools: all
	$(call run_stages,tools)

check-exports: $(LIB)
	$(Q)$(STAGE_exports)

# ---- bench, demo ----------------------------------------------------------

.PHONY: bench demo
bench: all $(BENCH_BINS)
	$(Q)if [ -f tests/bench/run.sh ]; then \
		bash tests/bench/run.sh $(BUILD); \
	else \
		echo "bench: tests/bench/run.sh is missing" >&2; exit 1; \
	fi

demo: all $(DEMO)
	$(Q)bash tests/demo/run.sh $(BUILD)

# ---- sanitizers -----------------------------------------------------------

# Unit tests, and for SAN=undefined the integration tests, with a sanitized
# library. (An ASan libgmp.so needs libasan first in LD_PRELOAD, which the
# integration runner does not arrange, so SAN=address runs unit tests only.)
.PHONY: check-san
check-san:
	@case "$(SAN)" in address|undefined) ;; \
	*) echo "usage: make check-san SAN=address|undefined" >&2; exit 2 ;; \
	esac
	$(Q)$(MAKE) --no-print-directory BUILD=build-$(SAN) SAN=$(SAN) \
		unit $(if $(filter undefined,$(SAN)),integration)

# ---- install --------------------------------------------------------------

# Not $(PREFIX)/lib/libgmp.so: that is GNU MP's development symlink.
LIBDIR	:= $(PREFIX)/lib/gmpsched
.PHONY: install uninstall
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(LIB) $(DESTDIR)$(LIBDIR)/libgmp.so
	install -m 755 $(GMPRUN) $(DESTDIR)$(PREFIX)/bin/gmp-run
	install -m 755 $(GMPSTAT) $(DESTDIR)$(PREFIX)/bin/gmp-stat
	install -m 644 tools/gmp-gdb.py $(DESTDIR)$(LIBDIR)/gmp-gdb.py
	$(if $(wildcard include/gmpsched.h),\
		install -D -m 644 include/gmpsched.h \
		$(DESTDIR)$(PREFIX)/include/gmpsched.h)

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libgmp.so $(DESTDIR)$(LIBDIR)/gmp-gdb.py \
		$(DESTDIR)$(PREFIX)/bin/gmp-run $(DESTDIR)$(PREFIX)/bin/gmp-stat \
		$(DESTDIR)$(PREFIX)/include/gmpsched.h
	-rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null

# ---- clean, help ----------------------------------------------------------

.PHONY: clean distclean help
clean:
	@case "$(BUILD)" in ""|/|.|..|./|~) \
		echo "make clean: refusing BUILD=$(BUILD)" >&2; exit 1 ;; esac
	rm -rf -- $(BUILD)

distclean: clean
	rm -rf -- build build-address build-undefined

help:
	@sed -n '/^# libgmp/,/^$$/s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

# ---- conformance ----------------------------------------------------------

# LTP's open_posix_testsuite (../shared/conformance/), built into
# $(BUILD)/conformance and run natively and preloaded: a test that passes
# natively must pass under libgmp. CONF_GROUPS="threads sem" selects groups
# (tests/conformance/run.sh lists them and its other knobs).
.PHONY: conformance
conformance: all
	$(Q)bash tests/conformance/run.sh $(BUILD) $(CONF_GROUPS)
