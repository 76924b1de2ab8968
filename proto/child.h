/*
 * The children's side of the contract with the supervisor (supervisor/proc.c is the other side).
 *
 * Descriptor layout of every child:  fd 3 = control socket (SOCK_SEQPACKET),
 *                                     fd 4 = listening socket (consumers only).
 *
 * A child is exec'd with SIGTERM blocked and a clean environment (only the sanitizer options and
 * the locale/time zone survive). It calls cv_child_init() first thing in main(), and
 * cv_child_term_ready() once its SIGTERM handler is in place: a stop that arrived while it was
 * still starting waits for the handler instead of killing it halfway through its setup.
 */
#ifndef CV_PROTO_CHILD_H
#define CV_PROTO_CHILD_H

#define CV_CHILD_CTL_FD    3
#define CV_CHILD_LISTEN_FD 4
#define CV_CHILD_UDP_FD    5 /* consumers whose row asks for one: a UDP socket on the same address */

/*
 * Exit codes a child uses to tell the supervisor why it could not run. Any other non-zero code
 * is a failure to restart with backoff; 0 is a stop that was asked for.
 */
#define CV_CHILD_EXIT_FAILED   1 /* could not start (bad source, set-up error): retried */
#define CV_CHILD_EXIT_RING_BAD 3 /* the ring handed over is unusable: recreate it, then retry */

/*
 * Makes this process non-dumpable: another process of the same account (any child of ours, or
 * another daemon sharing the account) can then neither ptrace it nor read /proc/<pid>/mem, fd/
 * or environ: no frames, rings or camera passwords out of our memory. exec resets this flag, so
 * it is done here, after exec, not by the supervisor before it. 0 or a negative errno.
 */
int cv_child_init(void);

/* Its SIGTERM handler is in place: take SIGTERM (and one already pending) now. */
void cv_child_term_ready(void);

/*
 * A SIGTERM was taken and the process is stopping: block any further one. Freeing the signal
 * event puts SIGTERM's default action back, and a second SIGTERM would then kill the process
 * halfway through its cleanup (seen: a camera changed twice in a row through the API).
 */
void cv_child_term_taken(void);

#endif
