/* A progress bar for long commands, drawn on stderr only when it is a
 * terminal, at most ten times a second. */
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "omnidex_util.h"

/* The bar drawn last, while its line is open (for progress_interrupt). */
static struct progress *open_bar;

void progress_start(struct progress *p, const char *what, unsigned long long total)
{
    p->what = what;
    p->total = total;
    p->done = 0;
    p->start = odx_now_mono();
    p->last = p->start - 1; /* the first update draws at once */
    p->tty = isatty(2);
}

static void draw(struct progress *p, double now)
{
    double el = now - p->start, rate = el > 0 ? p->done / el : 0;
    char bar[31];
    int fill = p->total ? (int)(30.0 * p->done / p->total) : 0;
    if (fill > 30) fill = 30;
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    if (p->total)
        fprintf(stderr, "\r%s [%s] %3.0f%% %llu/%llu  %.0f/s  ETA %.0fs   ", p->what, bar, 100.0 * p->done / p->total,
                p->done, p->total, rate, rate > 0 ? (p->total - p->done) / rate : 0.0);
    else
        fprintf(stderr, "\r%s %llu  %.0f/s   ", p->what, p->done, rate);
    fflush(stderr);
    open_bar = p;
}

void progress_update(struct progress *p, unsigned long long done)
{
    p->done = done;
    if (!p->tty) return;
    double now = odx_now_mono();
    if (now - p->last < 0.1) return;
    p->last = now;
    draw(p, now);
}

void progress_end(struct progress *p)
{
    if (!p->tty) return;
    draw(p, odx_now_mono());
    fprintf(stderr, "\n");
    open_bar = NULL;
}

void progress_interrupt(void)
{
    if (!open_bar) return;
    /* Erase the bar's line; the message takes it, the next update redraws. */
    fflush(stdout);
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    open_bar->last = 0;
    open_bar = NULL;
}
