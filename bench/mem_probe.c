/*
 * What loading shared libraries costs a process in private memory, and how much of it a
 * zygote (load once, then fork one child per camera) would share. Used by bench/memory.sh.
 *
 *     mem_probe [-f forks] [-i clip.mp4] [library.so ...]
 *
 * dlopen()s each library (RTLD_NOW | RTLD_GLOBAL: every relocation is applied up front, as the
 * dynamic loader does for a program linked with -z now, and close to what a lazily bound worker
 * reaches once it runs), then prints its own memory from /proc/self/smaps_rollup. With -f K it
 * then forks K children and prints each child's memory: what a zygote-forked worker costs.
 * With -i, the process that reports (self without -f, each child with -f) first does a file:
 * camera's demuxing work through the dlopen()ed libavformat: open the clip, find its streams,
 * read 500 packets (20 s of 25 fps video), keep the context open. Needs libavformat in the list.
 *
 * Output: "self|child N pss=KiB clean=KiB dirty=KiB rss=KiB", where clean and dirty are
 * Private_Clean and Private_Dirty. Private_Clean is file pages (library code) that no other
 * process happens to map: a second process running the same libraries turns them into shared
 * pages. Private_Dirty is what the process really owns: its heap, stack, and the library pages it
 * wrote (relocations, .data, .bss).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FORKS 64

struct mem {
    long pss, clean, dirty, rss;
};

static int read_mem(pid_t pid, struct mem *m)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v;
    *m = (struct mem){0};
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "Pss: %ld", &v) == 1)
            m->pss = v;
        else if (sscanf(line, "Private_Clean: %ld", &v) == 1)
            m->clean = v;
        else if (sscanf(line, "Private_Dirty: %ld", &v) == 1)
            m->dirty = v;
        else if (sscanf(line, "Rss: %ld", &v) == 1)
            m->rss = v;
    }
    fclose(f);
    return 0;
}

/* A file: camera's demuxing, through libavformat found with dlsym (this file links no FFmpeg). */
static int demux(const char *clip)
{
    int (*open_input)(void **, const char *, const void *, void **) =
        (int (*)(void **, const char *, const void *, void **))dlsym(RTLD_DEFAULT,
                                                                     "avformat_open_input");
    int (*find_info)(void *, void **) =
        (int (*)(void *, void **))dlsym(RTLD_DEFAULT, "avformat_find_stream_info");
    void *(*pkt_alloc)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "av_packet_alloc");
    int (*read_frame)(void *, void *) =
        (int (*)(void *, void *))dlsym(RTLD_DEFAULT, "av_read_frame");
    void (*pkt_unref)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "av_packet_unref");
    void *fmt = NULL, *pkt;
    if (!open_input || !find_info || !pkt_alloc || !read_frame || !pkt_unref) {
        fprintf(stderr, "mem_probe: -i needs libavformat loaded\n");
        return -1;
    }
    if (open_input(&fmt, clip, NULL, NULL) < 0 || find_info(fmt, NULL) < 0 ||
        !(pkt = pkt_alloc())) {
        fprintf(stderr, "mem_probe: cannot demux %s\n", clip);
        return -1;
    }
    for (int i = 0; i < 500 && read_frame(fmt, pkt) >= 0; i++)
        pkt_unref(pkt);
    return 0; /* fmt and pkt stay allocated, as in a running worker */
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    int forks = 0, opt;
    const char *clip = NULL;
    while ((opt = getopt(argc, argv, "f:i:")) != -1) {
        if (opt == 'f')
            forks = atoi(optarg);
        else if (opt == 'i')
            clip = optarg;
        else
            return 2;
    }
    if (forks < 0 || forks > MAX_FORKS)
        return 2;
    for (int i = optind; i < argc; i++) {
        if (!dlopen(argv[i], RTLD_NOW | RTLD_GLOBAL)) {
            fprintf(stderr, "mem_probe: %s\n", dlerror());
            return 1;
        }
    }
    struct mem m;
    if (!forks && clip && demux(clip) < 0)
        return 1;
    if (read_mem(getpid(), &m) < 0)
        return 1;
    printf("self pss=%ld clean=%ld dirty=%ld rss=%ld\n", m.pss, m.clean, m.dirty, m.rss);
    fflush(stdout);

    pid_t kids[MAX_FORKS];
    for (int i = 0; i < forks; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            if (clip && demux(clip) < 0)
                _exit(1);
            for (;;)
                pause();
        }
    }
    if (forks) {
        sleep_ms(clip ? 1500 : 300);
        for (int i = 0; i < forks; i++) {
            if (kids[i] > 0 && read_mem(kids[i], &m) == 0)
                printf("child %d pss=%ld clean=%ld dirty=%ld rss=%ld\n", i, m.pss, m.clean, m.dirty,
                       m.rss);
        }
        for (int i = 0; i < forks; i++) {
            if (kids[i] > 0) {
                kill(kids[i], SIGKILL);
                waitpid(kids[i], NULL, 0);
            }
        }
    }
    return 0;
}
