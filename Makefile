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
SRCS := $(sort $(wildcard src/*.c src/*/*.c))
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
LIB_OBJS := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all clean install test unit e2e demo bench deps vmlinux format check-format

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
$(BUILD)/obj/%.o: src/%.c $(BUILD)/scooby.skel.h $(wildcard src/*.h src/*/*.h include/scooby/*.h)
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
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory ui

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo.sh $(abspath $(BUILD)/scooby-bpf)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench.sh $(abspath $(BUILD)/scooby-bpf)

install: $(BUILD)/scooby-bpf
	install -D -m 0755 $(BUILD)/scooby-bpf $(DESTDIR)$(PREFIX)/bin/scooby-bpf

format:
	clang-format -i $(BPF_SRCS) bpf/*.bpf.h $(SRCS) src/*.h src/*/*.h include/scooby/*.h $(UNIT_SRCS)

check-format:
	clang-format --dry-run --Werror $(BPF_SRCS) bpf/*.bpf.h $(SRCS) src/*.h src/*/*.h include/scooby/*.h $(UNIT_SRCS)

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
