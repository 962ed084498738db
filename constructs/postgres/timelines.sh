# WAL timelines, sourced by wal-archive.sh, base-backup.sh and pitr.sh (bash only, so it runs
# in both the postgres and the amazon/aws-cli images). 16 MiB segments, as the server runs.
#
# A timeline's history file (`0000000N.history`) lists, for each ancestor, the timeline and
# the LSN where the next one forked from it. The chain to timeline N is those ancestors, each
# up to the segment holding its switch point, then N itself without end: exactly the WAL a
# restore to any point on N's history reads. Segments of a timeline after its switch point
# (what an old primary wrote after the standby was promoted, or the old timeline after a PITR)
# are off the chain.

SEGS_PER_LOG=256

# Segment number of a 24-digit segment name (log * 256 + seg).
segno_of() { echo $(( 16#${1:8:8} * SEGS_PER_LOG + 16#${1:16:8} )); }
# Timeline (decimal) of a segment or history file name.
tli_of() { echo $(( 16#${1:0:8} )); }
# Segment number holding an LSN written `X/Y`.
segno_of_lsn() { local hi=${1%/*} lo=${1#*/}; echo $(( ((16#$hi << 32) | 16#$lo) / (16 * 1024 * 1024) )); }
# Segment name of timeline $1 (decimal), segment number $2.
segment_name() { printf '%08X%08X%08X' "$1" $(( $2 / SEGS_PER_LOG )) $(( $2 % SEGS_PER_LOG )); }

# `tli last_segno` lines of the chain leading to timeline $1, from the text of its history
# file on stdin (empty for timeline 1); the timeline itself ends the list with segno -1 (open).
timeline_chain() {
  local cur=$1 tli lsn _rest
  while read -r tli lsn _rest; do
    [[ "$tli" =~ ^[0-9]+$ && "$lsn" == */* ]] || continue
    echo "$tli $(segno_of_lsn "$lsn")"
  done
  echo "$cur -1"
}

# Is segment name $1 on the chain given as `tli last_segno` lines in $2?
on_chain() {
  local name=$1 chain=$2 t s tli segno
  tli=$(tli_of "$name")
  segno=$(segno_of "$name")
  while read -r t s; do
    [[ "$t" == "$tli" ]] || continue
    (( s < 0 || segno <= s )) && return 0
    return 1
  done <<<"$chain"
  return 1
}
