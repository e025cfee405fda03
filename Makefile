# asyncprof-bpf: everything generated goes to .output/; quiet unless V=1.
OUTPUT    := .output
CLANG     ?= clang
CC        ?= cc
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
PYTHON    ?= /usr/bin/python3
# make install [PREFIX=/usr/local] [DESTDIR=staging dir]
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

# Debian packages the build, the tests and the demo need.
DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev libcapstone-dev libcmocka-dev \
	pkg-config make gcc python3 python3-uvloop nodejs cppcheck clang-format clang-tidy \
	libncurses-dev libmicrohttpd-dev tmux chromium man-db groff-base \
	libclang-rt-14-dev valgrind \
	qemu-system-x86 busybox-static zstd kmod cpio debian-archive-keyring debootstrap

CFLAGS_COMMON := -g -O2 -Wall -Wextra -std=gnu11 -D_GNU_SOURCE -Iuser -Ibpf -I$(OUTPUT)
CFLAGS    ?= $(CFLAGS_COMMON)
# Without private stacks (most kernels) a program's whole call chain shares 512 bytes;
# the build fails over this budget (tools/bpf_stack.py).
BPF_STACK_BUDGET ?= 448
BPF_CFLAGS := -g -O2 -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Ibpf -Wall -Wno-unused-function
# libbpf, libelf, zlib and ncurses statically, so the binary can be copied to another
# host; libmicrohttpd (--prometheus) dynamically: its archive needs GnuTLS's.
LIBS      := -Wl,-Bstatic -lbpf -lelf -lz -lcapstone -lncursesw -ltinfo -Wl,-Bdynamic -lmicrohttpd -lpthread -lm

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# user/*.c except main.c: the loader's modules, shared with the unit tests.
USER_SRCS := $(filter-out user/main.c,$(wildcard user/*.c))
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(USER_SRCS))
# bpf/*.bpf.c compiled one at a time, then linked into one object (bpftool gen object).
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h)
SKEL      := $(OUTPUT)/asyncprof.skel.h

.PHONY: all deps roots vmlinux test test-bpf-stack test-kernels test-unit test-asan test-integration lint format demo clean bench \
	bench-deps probe-floor \
	install uninstall \
	fuzz valgrind test-asan-integration

all: asyncprof-bpf

# Install what is missing; apt-get update only when something is.
deps:
	$(Q)missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  APT      $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

vmlinux:
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > vmlinux/vmlinux.h

$(OUTPUT):
	$(Q)mkdir -p $@

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/asyncprof.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^
	$(call msg,STACK,$@)
	$(Q)$(PYTHON) tools/bpf_stack.py --budget $(BPF_STACK_BUDGET) $@ || { rm -f $@; exit 1; }
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(SKEL): $(OUTPUT)/asyncprof.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name asyncprof_bpf > $@

$(OUTPUT)/%.o: user/%.c $(wildcard user/*.h) bpf/asyncprof.h $(SKEL) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

asyncprof-bpf: $(OUTPUT)/main.o $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

# Unit tests: one cmocka binary per module, linked with every loader module.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%,$(UNIT_SRCS))
ASAN_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/asan/%,$(UNIT_SRCS))
TEST_CFLAGS := -g -O1 -Wall -Wextra -std=gnu11 -D_GNU_SOURCE -Iuser -Ibpf -I$(OUTPUT) -Itests/unit
TEST_LIBS := -lcmocka -lelf -lz -lcapstone -lm -lbpf -lncursesw -ltinfo -lmicrohttpd -lpthread
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# The loader's modules are compiled once per flavour into an archive the tests link.
TEST_OBJS := $(patsubst user/%.c,$(OUTPUT)/unit/obj/%.o,$(USER_SRCS))
ASAN_OBJS := $(patsubst user/%.c,$(OUTPUT)/asan/obj/%.o,$(USER_SRCS))

$(OUTPUT)/unit/obj/%.o: user/%.c $(wildcard user/*.h) bpf/asyncprof.h $(SKEL)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

$(OUTPUT)/asan/obj/%.o: user/%.c $(wildcard user/*.h) bpf/asyncprof.h $(SKEL)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUTPUT)/unit/libap.a: $(TEST_OBJS)
	$(Q)ar rcs $@ $^

$(OUTPUT)/asan/libap.a: $(ASAN_OBJS)
	$(Q)ar rcs $@ $^

$(OUTPUT)/unit/%: tests/unit/%.c $(OUTPUT)/unit/libap.a
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(OUTPUT)/unit/libap.a $(TEST_LIBS) -o $@

$(OUTPUT)/asan/%: tests/unit/%.c $(OUTPUT)/asan/libap.a
	$(call msg,CC-ASAN,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) $< $(OUTPUT)/asan/libap.a $(TEST_LIBS) -o $@

test-unit: $(UNIT_BINS)
	$(Q)fail=0; for t in $(UNIT_BINS); do echo "== $$t"; (cd tests/unit && ../../$$t) || fail=1; done; exit $$fail

test-asan: $(ASAN_BINS)
	$(Q)fail=0; for t in $(ASAN_BINS); do echo "== $$t"; \
		(cd tests/unit && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ../../$$t) || fail=1; \
	done; exit $$fail

test-integration: asyncprof-bpf roots
	$(Q)$(PYTHON) tests/integration/run.py

# Debian roots whose interpreters the tests run in a chroot (CPython 3.14 and 3.15 from
# sid), made once with debootstrap and cached in /var/cache/asyncprof-roots.
roots:
	$(Q)timeout 1500 $(PYTHON) tests/roots/mkroot.py sid

# The stack check itself fails an object over the budget (tests/bpf/deep_stack.bpf.c).
$(OUTPUT)/deep_stack.bpf.o: tests/bpf/deep_stack.bpf.c vmlinux/vmlinux.h | $(OUTPUT)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

test-bpf-stack: $(OUTPUT)/deep_stack.bpf.o
	$(Q)sh tests/bpf/check_stack.sh $< $(BPF_STACK_BUDGET)

# Debian's kernels booted under qemu (always TCG), each running --check and the
# smoke test of every mode (tests/kmatrix/); rewrites docs/kernels.md from the
# results. Kernels are cached in /var/cache/asyncprof-kmatrix ($$AP_KMATRIX_CACHE).
KERNELS ?= 5.10,6.1,6.12,6.18,sid
test-kernels: asyncprof-bpf
	$(Q)timeout 1800 $(PYTHON) tests/kmatrix/matrix.py --kernels $(KERNELS) --docs docs/kernels.md

# The tool itself under ASan+UBSan (test-asan-integration: the hardening suite with it).
$(OUTPUT)/asan/asyncprof-bpf: user/main.c $(OUTPUT)/asan/libap.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) $< $(OUTPUT)/asan/libap.a $(LIBS) -o $@

test-asan-integration: $(OUTPUT)/asan/asyncprof-bpf
	$(Q)ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		AP_TOOL=$(OUTPUT)/asan/asyncprof-bpf $(PYTHON) tests/integration/test_hardening.py

# A real traced run under valgrind memcheck: PID=<a running loop> (docs/security.md).
valgrind: asyncprof-bpf
	$(Q)valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--suppressions=tests/valgrind-bpf.supp \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
		./asyncprof-bpf --pid $(PID) --duration 8 --no-live -o $(OUTPUT)/valgrind.json

# libFuzzer targets of the parsers of untrusted input (fuzz/, docs/fuzzing.md): each runs
# FUZZ_TIME seconds, one at a time, niced; the corpus grows in .output/fuzz/, seeds stay small.
FUZZ_TIME    ?= 60
FUZZ_TARGETS := elfsym procmaps methods pystack records pydebug
FUZZ_MODS    := $(patsubst %,user/%.c,elfsym procmaps pyrt pyrt_offsets pyrt_probe pyrt_tss pythread pydebug ctxend pystack pyline strutil model)
FUZZ_BINS    := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iuser -Ibpf -Ifuzz \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(OUTPUT)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_mem.h $(FUZZ_MODS) $(wildcard user/*.h) bpf/asyncprof.h
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_MODS) -lelf -lz -lcapstone -o $@

# The records target runs the session and the writers: it links every loader module.
$(OUTPUT)/fuzz/fuzz_records: fuzz/fuzz_records.c $(USER_SRCS) $(wildcard user/*.h) bpf/asyncprof.h $(SKEL)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -I$(OUTPUT) $< $(USER_SRCS) $(TEST_LIBS) -o $@

fuzz: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(OUTPUT)/fuzz/corpus/$$t; echo "== fuzz_$$t $(FUZZ_TIME)s"; \
		nice -n 19 $(OUTPUT)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			-artifact_prefix=$(OUTPUT)/fuzz/$$t- $(OUTPUT)/fuzz/corpus/$$t fuzz/corpus/$$t \
			> $(OUTPUT)/fuzz/$$t.log 2>&1 || { tail -40 $(OUTPUT)/fuzz/$$t.log; exit 1; }; \
		grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss' $(OUTPUT)/fuzz/$$t.log; \
	done

# The README's test command: installs, builds, runs every test.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory test-bpf-stack
	$(Q)$(MAKE) --no-print-directory test-unit
	$(Q)$(MAKE) --no-print-directory test-asan
	$(Q)$(MAKE) --no-print-directory lint
	$(Q)$(MAKE) --no-print-directory test-integration
	$(Q)$(MAKE) --no-print-directory test-kernels

C_FILES := $(wildcard user/*.c user/*.h bpf/*.c bpf/asyncprof.h bpf/*.bpf.h tests/unit/*.c)

lint: $(SKEL)
	$(call msg,FORMAT,check)
	$(Q)clang-format --dry-run --Werror $(C_FILES)
	$(call msg,CPPCHECK,user)
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem -D__x86_64__ -Iuser -Ibpf \
		'-DLIBBPF_OPTS(TYPE,NAME,...)=struct TYPE NAME = {__VA_ARGS__}' user
	$(call msg,TIDY,user)
	$(Q)clang-tidy -quiet $(TIDY_SRCS) -- $(CFLAGS_COMMON) 2>/dev/null

# tracer.c is left out: the analyzer's findings there are in the generated skeleton.
TIDY_SRCS := $(filter-out user/tracer.c,$(filter user/%.c,$(C_FILES)))

format:
	clang-format -i $(C_FILES)

# Run the demo HTTP service under the tool and load; name its faults; write demo-output/.
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PYTHON) examples/run_demo.py

# The binary, the man page and the bash completion.
install: asyncprof-bpf
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/asyncprof-bpf)
	$(Q)install -D -m 755 asyncprof-bpf $(DESTDIR)$(BINDIR)/asyncprof-bpf
	$(Q)install -D -m 644 docs/asyncprof-bpf.8 $(DESTDIR)$(MANDIR)/man8/asyncprof-bpf.8
	$(Q)install -D -m 644 completions/asyncprof-bpf.bash $(DESTDIR)$(BASHCOMPDIR)/asyncprof-bpf

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(BINDIR)/asyncprof-bpf)
	$(Q)rm -f $(DESTDIR)$(BINDIR)/asyncprof-bpf $(DESTDIR)$(MANDIR)/man8/asyncprof-bpf.8 \
		$(DESTDIR)$(BASHCOMPDIR)/asyncprof-bpf

# Benchmarks (by hand, not part of `make test`): docs/performance.md.
BENCH_PKGS := wrk python3-yappi austin python3-fastapi python3-uvicorn python3-uvloop \
	python3-httptools python3-aiohttp binutils

bench-deps:
	$(Q)$(MAKE) --no-print-directory deps DEB_PKGS="$(BENCH_PKGS)"

bench: bench-deps all
	$(Q)$(PYTHON) bench/run.py
	$(Q)$(PYTHON) bench/accuracy.py

# bench/probe_floor: empty uprobes on context_run, the floor of any per-callback probe.
FLOOR_OUT := $(OUTPUT)/probe_floor

$(FLOOR_OUT)/floor.bpf.o: bench/probe_floor/floor.bpf.c | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(FLOOR_OUT)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(FLOOR_OUT)/floor.skel.h: $(FLOOR_OUT)/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floor_bpf > $@

$(FLOOR_OUT)/probe_floor: bench/probe_floor/probe_floor.c $(FLOOR_OUT)/floor.skel.h
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS_COMMON) -I$(FLOOR_OUT) $< -l:libbpf.a -lelf -lz -o $@

probe-floor: $(FLOOR_OUT)/probe_floor

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) asyncprof-bpf

.DELETE_ON_ERROR:
.SECONDARY:
