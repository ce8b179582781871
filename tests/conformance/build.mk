# tests/conformance/build.mk: builds open_posix_testsuite test programs for
# tests/conformance/run.sh, which runs it as
#
#   make -f build.mk -k -j2 SUITE=DIR OUT=DIR LIST=FILE
#
# SUITE is the suite's top directory (with include/, lib/, conformance/),
# OUT is BUILD_DIR/conformance, LIST names the tests to build, one
# "iface/N-M" a line. Each conformance/interfaces/IFACE/N-M.c becomes
# OUT/IFACE/N-M, built with the recipe of the suite's VERSION file, plus
# OUT/IFACE/N-M.status: "ok", or "build-fail" when it does not compile
# (the compiler's messages are in OUT/IFACE/N-M.log). A test is rebuilt when
# its source, a file it includes or the flags change; one that does not
# compile is not tried again until then.

CC	?= cc
OUT	:= $(abspath $(OUT))
SUITE	:= $(abspath $(SUITE))
TESTS	:= $(file <$(LIST))

# VERSION's recipe, plus the -O2 -g and -lm of the suite's own configure
# defaults. Warnings are not ours to fix: -w.
CONF_CFLAGS := -std=c99 -D_POSIX_C_SOURCE=200809L -D_XOPEN_SOURCE=700 \
	-O2 -g -w -I$(SUITE)/include
CONF_LIBS := -pthread -lpthread -lrt -lm

FLAGS	:= $(OUT)/.flags
FLAGS_NOW := $(CC) $(CONF_CFLAGS) $(CONF_LIBS) $(abspath $(SUITE))
ifneq ($(file <$(FLAGS)),$(FLAGS_NOW))
$(shell mkdir -p $(OUT))
$(file >$(FLAGS),$(FLAGS_NOW))
endif

SHELL	:= /bin/bash
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
.DELETE_ON_ERROR:

.PHONY: all
all: $(patsubst %,$(OUT)/%.status,$(TESTS))

COMMON	:= $(OUT)/common.o
$(COMMON): $(SUITE)/lib/common.c $(FLAGS)
	@mkdir -p $(@D)
	@$(CC) $(CONF_CFLAGS) -c -o $@ $<

# The recipe itself never fails, so that make -k is not needed to go on and
# a failure is remembered in the status file.
$(OUT)/%.status: $(SUITE)/conformance/interfaces/%.c $(COMMON) $(FLAGS)
	@mkdir -p $(@D)
	@if $(CC) $(CONF_CFLAGS) -I$(<D) -MMD -MP -MF $(OUT)/$*.d \
		-MT $@ -o $(OUT)/$*.tmp $< $(COMMON) $(CONF_LIBS) \
		>$(OUT)/$*.log 2>&1; then \
		mv -f $(OUT)/$*.tmp $(OUT)/$*; echo ok >$@; \
	else \
		rm -f $(OUT)/$* $(OUT)/$*.tmp; echo build-fail >$@; \
	fi

-include $(patsubst %,$(OUT)/%.d,$(TESTS))
