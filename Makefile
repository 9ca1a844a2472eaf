# materia — GNU Makefile.  `make` builds build/materia and build/libmateria.a (-O2 -DNDEBUG);
# `make test` installs missing Debian packages, builds and runs every test;
# `make asan` does the same under AddressSanitizer + UBSan in build-asan/.
# Sources are found by wildcard: src/<module>/*.c go into the library, src/cli/*.c into the
# program, tests/test_*.c become one test binary each, bench/*.c one benchmark each.

CC      ?= cc
PKGS    := sndfile samplerate fftw3f libcjson espeak-ng openblas cairo
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation
BASE    := -std=c11 -D_DEFAULT_SOURCE -Iinclude -Isrc $(WARN) -fopenmp $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -fopenmp -lm

MODE ?= release
ifeq ($(MODE),asan)
  BUILD  := build-asan
  OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDOPT  := -fsanitize=address,undefined
else
  BUILD  := build
  OPT    := -O2 -g -DNDEBUG
  LDOPT  :=
endif
CFLAGS  ?=
ALLCFLAGS := $(BASE) $(OPT) $(CFLAGS)

LIB_SRC   := $(wildcard src/*/*.c)
LIB_SRC   := $(filter-out src/cli/%,$(LIB_SRC))
CLI_SRC   := $(wildcard src/cli/*.c)
TEST_SRC  := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard bench/*.c)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIB       := $(BUILD)/libmateria.a
PROG      := $(BUILD)/materia

.PHONY: all test asan bench clean demo deps fuzz docs
all: $(PROG) $(LIB)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(ALLCFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(PROG): $(CLI_OBJ) $(LIB)
	@echo "  LD  $@"
	@$(CC) $(LDOPT) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(ALLCFLAGS) -Itests $(LDOPT) -o $@ $< $(LIB) $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(LDOPT) -o $@ $< $(LIB) $(LDLIBS)

deps:
	@scripts/deps.sh

# The whole suite; MATERIA points the CLI tests at the program under test.
test: deps
	$(MAKE) --no-print-directory MODE=$(MODE) all $(TEST_BIN)
	scripts/run-tests.sh $(BUILD)

asan: deps
	$(MAKE) --no-print-directory MODE=asan all test-bins-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  scripts/run-tests.sh build-asan

.PHONY: test-bins-asan
test-bins-asan: $(TEST_BIN)

bench: deps
	$(MAKE) --no-print-directory all $(BENCH_BIN)
	scripts/run-bench.sh $(BUILD)

# Fuzz targets (libFuzzer, clang): build/fuzz/fuzz_<parser>
fuzz: deps
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRC); do \
	  echo "  FUZZ $$f"; \
	  n=$$(basename $$f .c); \
	  clang -std=c11 -D_DEFAULT_SOURCE -Iinclude -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	    $(PKG_CFLAGS) $$f $(wildcard src/io/*.c src/core/*.c) -o build/fuzz/$$n $(PKG_LIBS) -lm || exit 1; \
	done

demo: deps
	$(MAKE) --no-print-directory all
	$(PROG) run --out demo-report

# docs/cli.md is generated from the same text as every command's --help (a test checks it).
docs: all
	$(PROG) help --markdown > docs/cli.md

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
