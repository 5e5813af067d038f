#!/usr/bin/env bash
# RUSTC_WRAPPER for fuzz builds (see run.sh): compiles every crate with the coverage flags,
# but drops comparison tracing from crates whose comparisons are no input format of ours and
# cost more than they teach: zxcvbn (key text guessability), which matches every substring of
# a key against its dictionaries and regexes, and the regex crates it runs. With comparison
# tracing one key took 0.4 s; without, about 20 ms. Their branches stay instrumented, so the
# fuzzer still explores them.
rustc="$1"
shift
untraced=0
prev=
for arg in "$@"; do
  if [ "$prev" = "--crate-name" ]; then
    case "$arg" in
      zxcvbn | fancy_regex | regex | regex_automata | regex_syntax | aho_corasick | memchr | \
        bit_set | bit_vec | itertools) untraced=1 ;;
    esac
  fi
  prev="$arg"
done
if [ "$untraced" = 1 ]; then
  args=()
  for arg in "$@"; do
    [ "$arg" = "-Cllvm-args=-sanitizer-coverage-trace-compares" ] || args+=("$arg")
  done
  exec "$rustc" "${args[@]}"
fi
exec "$rustc" "$@"
