# Builds scooby-bpf (BPF object -> skeleton -> loader), its tests, the demo and the benchmark.
.DELETE_ON_ERROR:

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PYTHON ?= /usr/bin/python3
ARCH := x86

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libbpf libelf zlib hiredis libcjson libmicrohttpd
CFLAGS ?= -g -O2
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -std=gnu11 \
	  -D_GNU_SOURCE -Iinclude -Isrc -I$(BUILD) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SRCS := $(sort $(wildcard src/*.c src/*/*.c src/*/*/*.c))
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
LIB_OBJS := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all clean install test unit e2e demo bench deps vmlinux format check-format check-deps

all: $(BUILD)/scooby-bpf

# BPF: one object per feature, linked into one object so one skeleton carries
# every program and the maps they share.
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/*.bpf.h include/scooby/events.h vmlinux.h | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I. -Iinclude -Ibpf -c $< -o $@

$(BUILD)/scooby.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(BUILD)/scooby.skel.h: $(BUILD)/scooby.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name scooby_bpf > $@

# Every userspace object may include the skeleton header.
$(BUILD)/obj/%.o: src/%.c $(BUILD)/scooby.skel.h $(wildcard src/*/*.h src/*/*/*.h include/scooby/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libscooby.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/scooby-bpf: $(BUILD)/obj/main.o $(BUILD)/libscooby.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libscooby.a | $(BUILD)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $< $(BUILD)/libscooby.a $(LDLIBS) -lcmocka -o $@

$(BUILD) $(BUILD)/bpf $(BUILD)/tests:
	$(Q)mkdir -p $@

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

deps:
	$(Q)tests/install-deps.sh

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

e2e: $(BUILD)/scooby-bpf
	$(Q)SCOOBY_BPF=$(abspath $(BUILD)/scooby-bpf) $(PYTHON) -m unittest discover -v -s tests/e2e -p 'test_*.py'

test: deps
	$(Q)$(MAKE) --no-print-directory check-format
	$(Q)$(MAKE) --no-print-directory check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory ui
	$(Q)$(MAKE) --no-print-directory unit-asan fuzz-ci
	$(Q)$(MAKE) --no-print-directory soak-ci

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo.sh $(abspath $(BUILD)/scooby-bpf)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench.sh $(abspath $(BUILD)/scooby-bpf)

install: $(BUILD)/scooby-bpf
	install -D -m 0755 $(BUILD)/scooby-bpf $(DESTDIR)$(PREFIX)/bin/scooby-bpf

format:
	clang-format -i $(BPF_SRCS) bpf/*.bpf.h $(SRCS) src/*/*.h src/*/*/*.h include/scooby/*.h $(UNIT_SRCS)

check-format:
	clang-format --dry-run --Werror $(BPF_SRCS) bpf/*.bpf.h $(SRCS) src/*/*.h src/*/*/*.h include/scooby/*.h $(UNIT_SRCS)

# src/'s folders include each other without a cycle, and no store includes another's files
# (docs/ARCHITECTURE.md); prints the folder graph.
check-deps:
	$(Q)$(PYTHON) tests/check_deps.py

clean:
	rm -rf $(BUILD)

# --- viewer ---
# `scooby-bpf serve`: the page under src/serve/static is embedded into the binary
# (build/serve_assets.c, generated), and `make ui` runs the browser tests.
SERVE_STATIC := $(sort $(wildcard src/serve/static/*))

$(BUILD)/serve_assets.c: src/serve/embed.sh $(SERVE_STATIC) | $(BUILD)
	$(call msg,EMBED,$@)
	$(Q)src/serve/embed.sh $(SERVE_STATIC) > $@

$(BUILD)/obj/serve_assets.o: $(BUILD)/serve_assets.c src/serve/assets.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/scooby-bpf: $(BUILD)/obj/serve_assets.o

.PHONY: ui
ui: $(BUILD)/scooby-bpf
	$(Q)cd tests/ui && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund; }
	$(Q)cd tests/ui && SCOOBY_BPF=$(abspath $(BUILD)/scooby-bpf) node --test --test-concurrency=1 viewer.test.js

# --- fuzzing and sanitizers ---
# libFuzzer harnesses (tests/fuzz/fuzz_NAME.c) for the userspace parsers and decoders, each
# built with ASan and UBSan together with the src/*.c it tests. `make fuzz` runs each one for
# FUZZ_SECONDS (FUZZ_JOBS at a time) from its seed corpus tests/fuzz/corpus/NAME, copied into
# the scratch corpus $(BUILD)/fuzz/corpus/NAME that keeps what the runs find; a crash, leak,
# hang or failed check fails it (the others still run) and leaves the input in
# $(BUILD)/fuzz/artifacts/: replay it with `$(BUILD)/fuzz/fuzz_NAME FILE`. Seeds named
# regress-* reproduce bugs found so far. `make fuzz-ci` is the 10-second version in `make test`.
# `make unit-asan` builds and runs the unit tests with ASan and UBSan in $(BUILD)/asan.
FUZZ_CC ?= $(CLANG)
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	       -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc \
	       -I$(BUILD) $(shell pkg-config --cflags libcjson libelf 2>/dev/null)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_RUNS := $(patsubst %,fuzz-run-%,$(FUZZ_NAMES))

# what each harness links besides itself
$(BUILD)/fuzz/fuzz_elfsym: src/native/elfsym.c
$(BUILD)/fuzz/fuzz_fingerprint: src/record/fingerprint.c
$(BUILD)/fuzz/fuzz_http: src/request/http_parse.c
$(BUILD)/fuzz/fuzz_procmaps: src/native/procmaps.c
$(BUILD)/fuzz/fuzz_pyline: src/python/pyline.c
$(BUILD)/fuzz/fuzz_redact: src/record/fingerprint.c
$(BUILD)/fuzz/fuzz_record: src/record/record.c src/record/record_json.c src/util/jsonw.c \
			   src/util/hashmap.c src/util/intern.c src/util/utf8.c src/record/groups.c \
			   src/record/fingerprint.c src/record/profile.c $(sort $(wildcard src/stores/*/db.c))
$(BUILD)/fuzz/fuzz_redis_url: src/sinks/redis_url.c
$(BUILD)/fuzz/fuzz_utf8: src/util/utf8.c
# every store's wire parser (src/stores/NAME/wire_*.c), through the registry's table, and
# what the record calls each store (db.c)
$(BUILD)/fuzz/fuzz_wire: src/wire/wire_proto.c src/stores/wire_parsers.c \
			 $(sort $(wildcard src/stores/*/wire_*.c src/stores/*/db.c)) src/util/utf8.c
FUZZ_LIBS_elfsym = $(shell pkg-config --libs libelf 2>/dev/null || echo -lelf)
FUZZ_LIBS_record = $(shell pkg-config --libs libcjson 2>/dev/null || echo -lcjson) -lm

.PHONY: fuzz fuzz-ci fuzz-build fuzz-toolchain unit-asan $(FUZZ_RUNS)

fuzz-toolchain:
	$(Q)rt="$$($(FUZZ_CC) -print-runtime-dir 2>/dev/null)/libclang_rt.fuzzer-x86_64.a"; \
	[ -f "$$rt" ] || { echo "fuzz: no libFuzzer runtime for $(FUZZ_CC) ($$rt):" \
		"apt-get install libclang-rt-14-dev" >&2; exit 1; }

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(wildcard src/*/*.h src/*/*/*.h) | fuzz-toolchain
	$(call msg,FUZZER,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(filter %.c,$^) $(FUZZ_LIBS_$*) -o $@

fuzz-build: $(FUZZ_BINS)

$(FUZZ_RUNS): fuzz-run-%: $(BUILD)/fuzz/fuzz_%
	$(Q)mkdir -p $(BUILD)/fuzz/corpus/$* $(BUILD)/fuzz/artifacts
	$(Q)cp tests/fuzz/corpus/$*/* $(BUILD)/fuzz/corpus/$*/
	$(Q)log=$(BUILD)/fuzz/$*.log; \
	if $< -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts/$*- $(BUILD)/fuzz/corpus/$* >$$log 2>&1; then \
		runs=$$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' $$log); \
		cov=$$(grep -o 'cov: [0-9]*' $$log | tail -n 1); \
		printf '  %-8s %-12s %s, %s, corpus %s\n' FUZZ $* "$$runs" "$$cov" \
			"$$(ls $(BUILD)/fuzz/corpus/$* | wc -l)"; \
	else \
		tail -n 60 $$log; echo "fuzz: $* failed (log: $$log, input: $(BUILD)/fuzz/artifacts/$*-*)" >&2; \
		exit 1; \
	fi

fuzz:
	$(Q)$(MAKE) --no-print-directory -j$(FUZZ_JOBS) fuzz-build
	$(Q)$(MAKE) --no-print-directory -k -j$(FUZZ_JOBS) $(FUZZ_RUNS)

fuzz-ci:
	$(Q)$(MAKE) --no-print-directory FUZZ_SECONDS=10 fuzz

# CFLAGS goes through the environment so that the Makefile's own flags are appended to it.
# test_pyoffsets writes build/tests/pyoffsets_gen whatever BUILD is: that directory must exist.
ASAN_CFLAGS ?= -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	       -fno-omit-frame-pointer
unit-asan:
	$(Q)mkdir -p build/tests
	$(Q)CFLAGS="$(ASAN_CFLAGS)" UBSAN_OPTIONS=print_stacktrace=1 \
		$(MAKE) --no-print-directory BUILD=$(BUILD)/asan unit

# --- soak ---
# `make soak`: SOAK_SECONDS of wrk load on the Django test app under gunicorn with
# scooby-bpf attached; exact accounting, bounded tables and no heap growth, or a non-zero
# exit (tests/soak/soak.py). `make soak-ci`: the same for 60 s, then `soak-leak-ci`: a build
# that leaks 1 KiB per record (-DSCOOBY_TEST_LEAK_BYTES, in $(BUILD)/leak), which the soak
# must catch: the proof that its leak check can fail.
SOAK_SECONDS ?= 600

.PHONY: soak soak-ci soak-leak-ci
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)SCOOBY_BPF=$(abspath $(BUILD)/scooby-bpf) $(PYTHON) tests/soak/soak.py --seconds $(SOAK_SECONDS)

soak-ci: $(BUILD)/scooby-bpf
	$(Q)SCOOBY_BPF=$(abspath $(BUILD)/scooby-bpf) $(PYTHON) tests/soak/soak.py --seconds 60
	$(Q)$(MAKE) --no-print-directory soak-leak-ci

soak-leak-ci:
	$(Q)CFLAGS="-g -O2 -DSCOOBY_TEST_LEAK_BYTES=1024" \
		$(MAKE) --no-print-directory BUILD=$(BUILD)/leak all
	$(Q)SCOOBY_BPF=$(abspath $(BUILD)/leak/scooby-bpf) $(PYTHON) tests/soak/soak.py \
		--seconds 30 --expect-leak
