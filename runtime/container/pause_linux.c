//go:build linux && cgo

// The pause process of every pod sandbox, in C, after Kubernetes'
// build/pause/linux/pause.c. It is a constructor, so it runs before the Go
// runtime of this binary starts: a process started as /pause never builds a
// Go heap, never starts Go's threads and never runs the package initialisers
// of the agent (k8s.io/api alone would cost it hundreds of KiB). Its memory
// is the pod's fixed cost, so it is what the C library needs and nothing more.
//
// It holds the pod's namespaces by merely existing, reaps the zombies
// re-parented to it (with a shared PID namespace it is the pod's PID 1 and
// the orphans of every container land on it), and exits 0 on SIGTERM or
// SIGINT.

#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void gossipod_pause_exit(int signo) {
	(void)signo;
	_exit(0);
}

static void gossipod_pause_reap(int signo) {
	(void)signo;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int gossipod_is_pause(const char *arg0) {
	const char *base;

	if (arg0 == NULL)
		return 0;
	base = strrchr(arg0, '/');
	base = base == NULL ? arg0 : base + 1;
	return strcmp(base, "pause") == 0;
}

// glibc calls constructors of a static executable with argc, argv and envp.
__attribute__((constructor)) static void gossipod_pause(int argc, char **argv, char **envp) {
	struct sigaction down, reap;
	sigset_t wanted;

	(void)envp;
	if (argc < 1 || argv == NULL || !gossipod_is_pause(argv[0]))
		return;

	memset(&down, 0, sizeof(down));
	down.sa_handler = gossipod_pause_exit;
	sigemptyset(&down.sa_mask);
	memset(&reap, 0, sizeof(reap));
	reap.sa_handler = gossipod_pause_reap;
	reap.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigemptyset(&reap.sa_mask);
	if (sigaction(SIGINT, &down, NULL) < 0 || sigaction(SIGTERM, &down, NULL) < 0 ||
	    sigaction(SIGCHLD, &reap, NULL) < 0)
		_exit(1);

	// A blocked signal mask is inherited across execve: make sure the three
	// signals this process lives by are delivered.
	sigemptyset(&wanted);
	sigaddset(&wanted, SIGINT);
	sigaddset(&wanted, SIGTERM);
	sigaddset(&wanted, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &wanted, NULL);

	gossipod_pause_reap(SIGCHLD); // children that exited before the handler
	for (;;)
		pause();
}
