# camvisor build. `make` builds every program into build/; `make run` and `make test` are the two
# commands a user needs (both install missing Debian packages first, through `make deps`).
#
# Variants share this file: build/ is the plain -O2 build, build/asan/ the ASan+UBSan build the
# integration tests run against, build/fuzz/ the clang libFuzzer targets.

PKGS      := libavformat libavcodec libavutil libswscale libswresample libevent msgpack inih openssl libwebsockets libsrtp2
B         ?= build
SAN       ?=
CC        ?= gcc
OPT       ?= -O2

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -levent_openssl

CFLAGS   := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-missing-field-initializers $(OPT) -g -I. \
            $(PKG_CFLAGS) $(SAN) $(EXTRA_CFLAGS)
LDFLAGS  := $(SAN) -Wl,--as-needed
LDLIBS   := $(PKG_LIBS) -lm

MAINS    := supervisor/main.c worker/main.c consumers/rtsp/main.c consumers/http/main.c \
            consumers/webrtc/main.c
# Sources that need libavformat/libavcodec live in a plugin the worker loads only for the URL
# schemes that need it (testsrc, file): an rtsp:// worker never maps FFmpeg's codec libraries,
# whose relocations alone cost ~4.7 MiB of private memory per process (bench/RESULTS.md).
PLUGIN_SRCS := worker/src-testsrc.c worker/src-file.c worker/ffmpeg-log.c worker/xcode-dec.c \
               worker/xcode-audio.c \
               worker/xcode-scale.c worker/xcode-jpeg.c worker/xcode-h264.c
PLUGIN   := $(B)/camvisor-ffmpeg.so
# The transcoders, as objects for the programs that link them in directly (their unit test,
# fuzz target and benchmark).
XCODE_OBJS := $(patsubst %,$(B)/obj/worker/%.o,xcode-dec xcode-scale xcode-jpeg xcode-h264 xcode-audio)
# The plugin carries its own copies of the few base and media helpers it uses.
PLUGIN_OBJS := $(PLUGIN_SRCS:%.c=$(B)/pic/%.o) \
               $(patsubst %,$(B)/pic/common/%.o,media/nal media/scale base/query base/url base/hex)

# One static library per layer (a folder each). Every program links only the layers it may use:
# the supervisor's link line has no `net` (RTSP, RTP/RTCP, SDP, auth: the parsers of outside
# input) and no `media`, so if it ever called one, it would not link. That is the proof.
LAYERS      := base media mux ring net proto consumer sup worker rtsp http webrtc
dir_base    := common/base
dir_media   := common/media
dir_mux     := common/mux
dir_ring    := common/ring
dir_net     := common/net
dir_proto   := proto
dir_consumer := common/consumer
dir_sup     := supervisor
dir_worker  := worker
dir_rtsp    := consumers/rtsp
dir_http    := consumers/http
dir_webrtc  := consumers/webrtc
MODULES     := $(foreach l,$(LAYERS),$(dir_$(l)))
layer_lib    = $(B)/lib/libcv-$(1).a
layer_objs   = $(patsubst %.c,$(B)/obj/%.o,$(filter-out $(MAINS) $(PLUGIN_SRCS),$(wildcard $(dir_$(1))/*.c)))
libs         = $(foreach l,$(1),$(call layer_lib,$(l)))
# Link order: a layer before the layers it uses.
SUP_LIBS    := $(call libs,sup proto ring base)
WORKER_LIBS := $(call libs,worker net proto ring media base)
RTSP_LIBS   := $(call libs,rtsp consumer net proto ring media base)
HTTP_LIBS   := $(call libs,http consumer mux net proto ring media base)
WEBRTC_LIBS := $(call libs,webrtc consumer net proto ring media base)
ALL_LIBS    := $(call libs,sup worker rtsp http webrtc consumer mux net proto ring media base)

PROGS    := $(B)/camvisor $(B)/camvisor-worker $(B)/camvisor-rtsp $(B)/camvisor-http \
            $(B)/camvisor-webrtc $(PLUGIN)
UNIT     := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
STRESS   := $(B)/tests/ring-stress
BENCH    := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: all programs tests deps run test unit asan fuzz fuzz-build lint clean bench install
.DEFAULT_GOAL := all

all: programs tests

programs: $(PROGS)
tests: $(UNIT) $(STRESS) $(BENCH)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(foreach l,$(LAYERS),$(eval $(call layer_lib,$(l)): $(call layer_objs,$(l))))
$(B)/lib/libcv-%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(B)/camvisor: $(B)/obj/supervisor/main.o $(SUP_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# The plugin calls back into the worker (cv_worker_publish, cv_log, ...): export those.
$(B)/camvisor-worker: $(B)/obj/worker/main.o $(WORKER_LIBS)
	$(CC) $(LDFLAGS) -Wl,--export-dynamic-symbol='cv_*' -o $@ $^ $(LDLIBS) -ldl

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@
$(PLUGIN): $(PLUGIN_OBJS)
	$(CC) $(SAN) -shared -Wl,--as-needed -o $@ $^ -lavformat -lavcodec -lswscale -lswresample -lavutil
$(B)/camvisor-rtsp: $(B)/obj/consumers/rtsp/main.o $(RTSP_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/camvisor-http: $(B)/obj/consumers/http/main.o $(HTTP_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/camvisor-webrtc: $(B)/obj/consumers/webrtc/main.o $(WEBRTC_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The transcoders are the plugin's: their unit test links them in directly.
$(B)/tests/test_xcode: $(B)/obj/tests/unit/test_xcode.o $(XCODE_OBJS) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka -lswresample
$(B)/tests/%: $(B)/obj/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(STRESS): $(B)/obj/tests/stress/ring_stress.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/bench/%: $(B)/obj/bench/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# The transcoders' cost is measured with them linked in directly.
$(B)/bench/xcode_cost: $(B)/obj/bench/xcode_cost.o $(XCODE_OBJS) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(B)/obj $(B)/pic -name '*.d' 2>/dev/null)

# --- the two commands -------------------------------------------------------------------------

deps:
	@sh scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory programs
	@sh scripts/run-demo.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory B=build/asan SAN="$(SAN_FLAGS)" OPT=-O1 all
	@$(MAKE) --no-print-directory fuzz-build
	@sh tests/run-all.sh

# Programs, example configuration (never over an existing one), systemd unit, service account.
# PREFIX (/usr/local), SYSCONFDIR (/etc), UNITDIR (/lib/systemd/system), DESTDIR for staging.
install: programs
	@B=$(B) sh scripts/install.sh

# --- variants ----------------------------------------------------------------------------------

asan:
	@$(MAKE) --no-print-directory B=build/asan SAN="$(SAN_FLAGS)" OPT=-O1 all

FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
FUZZ_TIME    ?= 60

fuzz-build:
	@$(MAKE) --no-print-directory B=build/fuzz CC=clang-14 OPT=-O1 \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
		EXTRA_CFLAGS=-Wno-unused-command-line-argument fuzz-targets

fuzz-targets: $(FUZZ_TARGETS)
# The transcoders are the plugin's: their target links them in directly (before the libraries
# whose helpers they use).
build/fuzz/fuzz_xcode: build/fuzz/obj/tests/fuzz/fuzz_xcode.o \
		$(patsubst %,build/fuzz/obj/worker/%.o,xcode-dec xcode-scale xcode-jpeg xcode-h264 xcode-audio) \
		$(ALL_LIBS)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
build/fuzz/fuzz_%: build/fuzz/obj/tests/fuzz/fuzz_%.o $(ALL_LIBS)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

fuzz: deps fuzz-build
	@FUZZ_TIME=$(FUZZ_TIME) sh tests/fuzz/run.sh

bench: programs tests
	@echo "benchmarks: see bench/README.md"

lint:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 \
		--suppress=missingIncludeSystem -I. $(MODULES)

clean:
	rm -rf build
