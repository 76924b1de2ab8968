#!/bin/bash
# Memory of camvisor, and where a worker's private memory comes from.
#
# 1. Idle, one camera: camvisor with one file: camera (the 1080p25 4 Mbit/s clip) and no viewer,
#    (SOURCE=rtsp: an rtsp:// camera pulling that clip from a second camvisor, not measured)
#    read after IDLE seconds (default 20: the 6 MiB ring has been written all round by then, as it
#    is in steady state): PSS, Private_Clean, Private_Dirty and RSS of each process and summed.
# 2. The worker's mappings grouped by what they are (ring, heap, FFmpeg's libraries, the libraries
#    they drag in, the rest), from /proc/<pid>/smaps.
# 3. Trivial programs (int main(){pause();}) built with and without FFmpeg's libraries linked, and
#    bench/mem_probe (dlopen()s a library set; optionally demuxes the clip; optionally forks K
#    children, as a zygote would): what loading each set costs, and what a forked child keeps.
#
# 4. The CPU time a process start spends loading those libraries (perf stat).
#
#     bench/memory.sh          # about 40 s
set -eu
source "$(dirname "$0")/lib.sh"
need_build
IDLE=${IDLE:-20}
PROBE=$BUILD/bench/mem_probe
CLIP=$(make_clip cam1080p4m 1920 1080 4M 30)
FF="libavformat.so.59 libavcodec.so.59 libavutil.so.57 libswscale.so.6"
BASE="libevent-2.1.so.7 libmsgpackc.so.2 libinih.so.1 libssl.so.3 libcrypto.so.3"

others_ffmpeg() { # processes outside this camvisor that map libavcodec
    local n=0 p
    for p in $(grep -l libavcodec /proc/[0-9]*/maps 2>/dev/null | cut -d/ -f3); do
        case " $(cv_all_pids) " in *" $p "*) ;; *) n=$((n + 1)) ;; esac
    done
    echo "$n"
}
echo "# memory.sh: $(machine_line)"
echo "# KiB throughout. private = Private_Clean + Private_Dirty. Private_Clean is library code that"
echo "# no other process on the machine maps right now (it becomes shared as soon as one does)."
echo
if [ "${SOURCE:-file}" = rtsp ]; then
    cv_start_farm "src=file:$CLIP"
    cv_start "cam=rtsp://127.0.0.1:$FARM_PORT/src"
else
    cv_start "cam=file:$CLIP"
fi
sleep "$IDLE"
echo "## 1. idle, one ${SOURCE:-file}: camera, no viewer, after ${IDLE} s"
echo
echo "| process | PSS | Private_Clean | Private_Dirty | RSS | of which ring (PSS) |"
echo "|---|---|---|---|---|---|"
tp=0 tc=0 td=0 tr=0 tg=0
for p in $(cv_all_pids); do
    read -r pss clean dirty rss < <(awk '/^Pss:/{p=$2} /^Private_Clean:/{c=$2}
        /^Private_Dirty:/{d=$2} /^Rss:/{r=$2} END{print p, c, d, r}' "/proc/$p/smaps_rollup")
    ring=$(mem_ring "$p" | cut -d' ' -f1)
    name=$(tr '\0' ' ' <"/proc/$p/cmdline" | cut -d' ' -f1-2 | sed 's|.*/||')
    echo "| $name | $pss | $clean | $dirty | $rss | $ring |"
    tp=$((tp + pss)) tc=$((tc + clean)) td=$((td + dirty)) tr=$((tr + rss)) tg=$((tg + ring))
done
mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}'; }
echo "| **sum** | **$tp** ($(mib $tp)) | $tc | $td | $tr | $tg |"
echo "| sum without the ring | $((tp - tg)) ($(mib $((tp - tg)))) | | | | |"
echo
fp=$(python3 "$ROOT/bench/footprint.py" $(cv_all_pids))
echo "Footprint (distinct resident pages of the 3 processes, each counted once; bench/footprint.py),"
echo "KiB: $fp"
echo
echo "Other processes on the machine mapping libavcodec now: $(others_ffmpeg). They lower camvisor's"
echo "PSS by sharing its library pages; the footprint does not depend on them."
echo

W=$(cv_worker_pid cam)
echo "## 2. the worker's mappings by kind (pid $W)"
echo
echo "| kind | Private_Dirty | Private_Clean | PSS | RSS | mappings |"
echo "|---|---|---|---|---|---|"
awk '
    /^[0-9a-f]+-[0-9a-f]+ /{
        n = $6
        if (n ~ /memfd:/) k = "ring (memfd, shared memory)"
        else if (n == "[heap]") k = "heap (malloc)"
        else if (n == "" || n ~ /^\[/) k = "anonymous, stack, vdso"
        else if (n ~ /camvisor-worker/) k = "camvisor-worker binary"
        else if (n ~ /\/lib(avformat|avcodec|avutil|swscale|swresample|avfilter|avdevice|postproc)\./) k = "FFmpeg libraries (libav*, libsw*)"
        else if (n ~ /\/(libc|libm|ld-linux-x86-64|libevent-2\.1|libmsgpackc|libinih|libssl|libcrypto)\.so/) k = "libc, libm, ld.so, libevent, msgpack, inih, OpenSSL"
        else k = "libraries FFmpeg pulls in (codecs, X11, VA, ...)"
        if (!(n in seen)) { seen[n] = 1; cnt[k]++ }
    }
    /^Private_Dirty:/{d[k]+=$2} /^Private_Clean:/{c[k]+=$2} /^Pss:/{p[k]+=$2} /^Rss:/{r[k]+=$2}
    END{ for (k in d) { printf "| %s | %d | %d | %d | %d | %d |\n", k, d[k], c[k], p[k], r[k], cnt[k];
                        td+=d[k]; tc+=c[k]; tp+=p[k]; tr+=r[k] }
         printf "| **total** | **%d** | %d | %d | %d | |\n", td, tc, tp, tr }
' "/proc/$W/smaps" | sort -t'|' -k3 -rn
echo
echo "Shared libraries mapped by the worker: $(grep -c '\.so' <(awk '{print $6}' "/proc/$W/maps" | sort -u))"
echo
echo "Largest Private_Dirty mappings of the worker (KiB, by file):"
echo
echo '```'
awk '/^[0-9a-f]+-[0-9a-f]+ /{n=$6; if (n=="") n="[anon]"} /^Private_Dirty:/{d[n]+=$2}
     END{for (n in d) printf "%7d  %s\n", d[n], n}' "/proc/$W/smaps" | sort -rn | head -12
echo '```'
cv_cleanup
echo

echo "## 3. what loading the libraries costs (no camvisor running)"
echo
T=$DATA/trivial
printf '#include <unistd.h>\nint main(int c, char **v){(void)v; if (c < 2) pause(); return 0;}\n' >"$T.c"
gcc -O2 -o "$T-plain" "$T.c"
gcc -O2 -o "$T-ffmpeg" "$T.c" -Wl,--no-as-needed -lavformat -lavcodec -lavutil -lswscale
gcc -O2 -o "$T-base" "$T.c" -Wl,--no-as-needed -levent -lmsgpackc -linih -lssl -lcrypto
gcc -O2 -o "$T-all" "$T.c" -Wl,--no-as-needed -lavformat -lavcodec -lavutil -lswscale \
    -levent -lmsgpackc -linih -lssl -lcrypto
echo "| program | PSS | Private_Clean | Private_Dirty | RSS |"
echo "|---|---|---|---|---|"
for v in plain base ffmpeg all; do
    "$T-$v" &
    tp=$!
    sleep 0.5
    read -r pss clean dirty rss < <(awk '/^Pss:/{p=$2} /^Private_Clean:/{c=$2}
        /^Private_Dirty:/{d=$2} /^Rss:/{r=$2} END{print p, c, d, r}' "/proc/$tp/smaps_rollup")
    kill "$tp"
    wait "$tp" 2>/dev/null || true
    case $v in
    plain) what="pause() only, libc" ;;
    base) what="linked: libevent msgpackc inih ssl crypto (a worker without FFmpeg)" ;;
    ffmpeg) what="linked: avformat avcodec avutil swscale" ;;
    all) what="linked: both sets (what camvisor-worker links)" ;;
    esac
    echo "| $what | $pss | $clean | $dirty | $rss |"
done
echo
echo "mem_probe (dlopen RTLD_NOW; -i: demux the clip, 500 packets; -f K: K forked children):"
echo
echo "| case | who | PSS | Private_Clean | Private_Dirty | RSS |"
echo "|---|---|---|---|---|---|"
probe() {
    local what=$1
    shift
    "$PROBE" "$@" | while read -r who rest; do
        [ "$who" = child ] && { read -r i rest <<<"$rest"; [ "$i" = 0 ] || continue; who="each child"; }
        eval "$rest"
        # shellcheck disable=SC2154 # pss clean dirty rss come from mem_probe's output
        echo "| $what | $who | $pss | $clean | $dirty | $rss |"
    done
}
probe "nothing loaded"
probe "base libraries" $BASE
probe "FFmpeg" $FF
probe "FFmpeg + base" $FF $BASE
probe "FFmpeg + base, demuxing (an exec'd file: worker)" -i "$CLIP" $FF $BASE
probe "zygote: FFmpeg + base loaded, 4 forked children each demuxing" -f 4 -i "$CLIP" $FF $BASE
probe "zygote: FFmpeg + base loaded, 4 forked children idle" -f 4 $FF $BASE
echo
echo "## 4. CPU time to start a process with these libraries (perf stat -r 10, task-clock)"
echo
echo "| program | ms of CPU per start |"
echo "|---|---|"
for v in plain base ffmpeg all; do
    ms=$(perf stat -r 10 -x, -e task-clock "$T-$v" exit 2>&1 >/dev/null | awk -F, '/task-clock/{print $1}')
    echo "| trivial-$v (as in section 3) | ${ms:-perf unavailable} |"
done
